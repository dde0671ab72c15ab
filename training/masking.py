"""Batch assembly and dynamic masking, vectorized over the whole batch with numpy.

A batch arrives padded to its longest sequence (dynamic padding, see training.shards.gather_padded)
and is masked in one pass of array operations, without a Python loop over tokens or examples:

- words: in each sequence ``max(1, round(n * p))`` of its n maskable tokens (everything but <s>,
  </s> and padding) become prediction targets; a target is replaced by <mask> (80%), by a random
  piece (10%) or kept (10%). Subword masking picks tokens; whole-word masking picks words (a piece
  beginning with "▁" and the pieces after it) in random order until the count is reached.
- entities: ``max(1, round(m * p))`` of the m real entities of a sequence ([PAD] and [UNK] are never
  targets) are replaced by [MASK]; optionally the words inside a masked entity's span become
  <mask> targets as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.tokens import BOS_ID, EOS_ID, MAX_MENTION_LENGTH, PAD_ID, UNK_ID
from schemas.vocab import ENTITY_MASK_ID, ENTITY_PAD_ID, ENTITY_UNK_ID

IGNORE = -100  # label of positions without a prediction target (torch's cross-entropy default)
FIRST_PIECE_ID = UNK_ID + 1  # the first ordinary piece; random replacements come from [4, mask)
_LAST_SPECIAL = max(BOS_ID, PAD_ID, EOS_ID)
assert _LAST_SPECIAL < UNK_ID and sorted((BOS_ID, PAD_ID, EOS_ID)) == [0, 1, 2]


@dataclass(frozen=True)
class MaskingConfig:
    word_mask_prob: float = 0.15
    entity_mask_prob: float = 0.15
    mask_replace_prob: float = 0.8  # share of word targets replaced by <mask>
    random_replace_prob: float = 0.1  # share replaced by a random piece (the rest stays)
    whole_word_masking: bool = False
    mask_words_in_entity_spans: bool = False
    max_mention_length: int = MAX_MENTION_LENGTH


def pad_ragged(values: np.ndarray, lengths: np.ndarray, pad: int, width: int | None = None) -> np.ndarray:
    """(rows, width) int64 array with each row's values left-aligned and ``pad`` after them."""
    rows = len(lengths)
    width = int(lengths.max(initial=0)) if width is None else width
    out = np.full((rows, width), pad, dtype=np.int64)
    if len(values):
        row_index = np.repeat(np.arange(rows), lengths)
        starts = np.cumsum(lengths) - lengths
        col_index = np.arange(len(values)) - np.repeat(starts, lengths)
        out[row_index, col_index] = values
    return out


# Random sort keys are 15-bit integers in uint16 (numpy sorts those with a radix sort, ~10x faster
# than floats); KEY_LIMIT, above every key, marks positions that must sort last. Ties between keys
# are broken by position (stable sort) and are rare at sequence lengths up to 512.
KEY_LIMIT = np.iinfo(np.uint16).max


def random_keys(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    count = shape[0] * shape[1]
    raw = rng.bit_generator.random_raw(-(-count // 4)).view(np.uint16)[:count]
    return (raw >> 1).reshape(shape)


def _ranked_keys(candidates: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Distinct uint32 keys: the random key above the position (ties go to the earlier position);
    non-candidates get the largest value."""
    width = keys.shape[1]
    if width > 1 << 16:
        raise ValueError(f"sequences of {width} positions are longer than masking supports (65536)")
    combined = (keys.astype(np.uint32) << 16) | np.arange(width, dtype=np.uint32)
    return np.where(candidates, combined, np.uint32(0xFFFFFFFF))


def select_per_row(candidates: np.ndarray, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean mask choosing, in each row, the ``counts[row]`` candidates with the smallest keys.

    A partial sort (np.partition at the few distinct counts of the batch) finds each row's
    threshold key; keys are distinct, so exactly ``counts[row]`` positions are at or below it.
    """
    ranked = _ranked_keys(candidates, keys)
    rows = len(ranked)
    chosen_rows = counts > 0
    if not chosen_rows.any():
        return np.zeros_like(candidates)
    partitioned = np.partition(ranked, np.unique(counts[chosen_rows]) - 1, axis=1)
    threshold = partitioned[np.arange(rows), np.maximum(counts, 1) - 1]
    return (ranked <= threshold[:, None]) & chosen_rows[:, None]


def select_flat(candidates: np.ndarray, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Flat indices (into the raveled batch) of what :func:`select_per_row` chooses."""
    return np.flatnonzero(select_per_row(candidates, counts, keys))


def target_counts(candidates: np.ndarray, prob: float) -> np.ndarray:
    available = candidates.sum(axis=1)
    # np.rint rounds half to even, like Python's round() in the luke reference.
    return np.where(available > 0, np.maximum(1, np.rint(available * prob)), 0).astype(np.int64)


def select_whole_words(
    candidates: np.ndarray, word_start: np.ndarray, counts: np.ndarray, keys: np.ndarray
) -> np.ndarray:
    """Flat indices of whole words picked in random order until each row has at least
    ``counts[row]`` tokens.

    ``word_start[b, i]`` is True where a word begins. A word is a start token with the tokens after
    it up to the next start; a non-candidate token ends the word before it and is never picked.
    """
    rows, width = candidates.shape
    starts = word_start | ~candidates
    starts[:, 1:] |= ~candidates[:, :-1]
    group = np.cumsum(starts, axis=1) - 1  # word index of every token within its row
    token_key = np.where(candidates, np.take_along_axis(keys, group, axis=1), KEY_LIMIT)
    # Stable: a word's tokens stay together in the sorted order even when two words draw the same
    # key, and every candidate sorts before every non-candidate.
    order = np.argsort(token_key, axis=1, kind="stable")
    sorted_group = np.take_along_axis(group, order, axis=1)
    first = np.ones_like(starts)
    first[:, 1:] = sorted_group[:, 1:] != sorted_group[:, :-1]
    # The sorted position of a word's first token is the number of candidate tokens taken before
    # it: a word is taken while that number is below the target count (so never a non-candidate).
    group_first = np.maximum.accumulate(np.where(first, np.arange(width)[None, :], 0), axis=1)
    chosen_sorted = group_first < counts[:, None]
    return (order + (np.arange(rows) * width)[:, None])[chosen_sorted]


class Masker:
    """Turns a padded batch into masked model inputs with labels (all numpy, int64)."""

    def __init__(
        self,
        config: MaskingConfig,
        mask_id: int,
        word_vocab_size: int,
        word_start_table: np.ndarray | None = None,
    ) -> None:
        if config.whole_word_masking and word_start_table is None:
            raise ValueError("whole-word masking needs the word-start table of the tokenizer")
        self.config = config
        self.mask_id = mask_id
        self.word_vocab_size = word_vocab_size
        self.word_start_table = word_start_table

    def __call__(
        self,
        input_ids: np.ndarray,
        word_lengths: np.ndarray,
        entities: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        entity_lengths: np.ndarray,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """Masks a padded batch.

        ``input_ids`` (B, L) is padded with <pad>; ``entities``, ``starts`` and ``ends`` (B, E) with
        E >= 1 are padded with anything (positions past ``entity_lengths`` are ignored).
        """
        cfg = self.config
        batch, width = input_ids.shape
        entity_width = entities.shape[1]
        # <s>, <pad> and </s> have the three lowest ids: one comparison finds every maskable token
        # (padding included, as padding is <pad>).
        candidates = input_ids > _LAST_SPECIAL
        entity_valid = np.arange(entity_width)[None, :] < entity_lengths[:, None]
        entities = np.where(entity_valid, entities, ENTITY_PAD_ID)

        word_keys = random_keys(rng, (batch, width))
        entity_keys = random_keys(rng, (batch, entity_width))
        counts = target_counts(candidates, cfg.word_mask_prob)
        if cfg.whole_word_masking:
            assert self.word_start_table is not None
            word_start = self.word_start_table[input_ids]
            targets = select_whole_words(candidates, word_start, counts, word_keys)
        else:
            targets = select_flat(candidates, counts, word_keys)

        entity_candidates = entity_valid & (entities != ENTITY_PAD_ID) & (entities != ENTITY_UNK_ID)
        entity_targets = select_per_row(
            entity_candidates, target_counts(entity_candidates, cfg.entity_mask_prob), entity_keys
        )

        span_lengths = np.where(entity_valid, ends - starts, 0)
        mention = max(1, min(cfg.max_mention_length, int(span_lengths.max(initial=1))))
        span_positions = starts[:, :, None] + np.arange(mention)[None, None, :]
        in_span = (span_positions < ends[:, :, None]) & entity_valid[:, :, None]
        entity_position_ids = np.where(in_span, span_positions, -1)

        # Everything below touches the targets only (flat indices), not the whole batch.
        flat_ids = input_ids.reshape(-1)
        labels = np.full(batch * width, IGNORE, dtype=np.int64)
        labels[targets] = flat_ids[targets]
        masked = flat_ids.copy()
        draw = rng.random(len(targets), dtype=np.float32)
        masked[targets[draw < cfg.mask_replace_prob]] = self.mask_id
        to_random = targets[
            (draw >= cfg.mask_replace_prob) & (draw < cfg.mask_replace_prob + cfg.random_replace_prob)
        ]
        masked[to_random] = rng.integers(FIRST_PIECE_ID, self.mask_id, size=len(to_random))

        if cfg.mask_words_in_entity_spans:
            span_words = in_span & entity_targets[:, :, None]
            hidden = (np.arange(batch)[:, None, None] * width + span_positions)[span_words]
            hidden = hidden[candidates.reshape(-1)[hidden]]
            labels[hidden] = flat_ids[hidden]
            masked[hidden] = self.mask_id
        labels = labels.reshape(batch, width)
        masked = masked.reshape(batch, width)
        valid = np.arange(width)[None, :] < word_lengths[:, None]

        entity_labels = np.where(entity_targets, entities, IGNORE)
        masked_entities = np.where(entity_targets, ENTITY_MASK_ID, entities)
        return {
            "input_ids": masked,
            "attention_mask": valid.astype(np.int64),
            "labels": labels,
            "entity_ids": masked_entities,
            "entity_attention_mask": entity_valid.astype(np.int64),
            "entity_position_ids": entity_position_ids,
            "entity_labels": entity_labels,
        }
