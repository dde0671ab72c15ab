"""Extractive QA data: SQuAD-format reading, windows over long contexts, entity mentions, answers.

The pieces ``mluke-train finetune qa`` is made of, free of torch:

- :func:`read_squad`: SQuAD v1.1 JSON (and SQuAD 2.0's ``is_impossible``, flagged) into examples;
- :class:`WordTokenizer`: the model's word tokenizer with character offsets, in the model's ids
  (the export's ``tokenizer.json``; for a directory with only ``sentencepiece.bpe.model`` the
  XLM-R conversion of it, which is mLUKE's convention);
- :class:`MentionDictionary`: the vocab stage's mention dictionary of one language
  (``WORKDIR/vocab/mentions/{lang}.parquet``) as a longest-match entity linker over text, with
  the vocab stage's mention rule (``schemas.mentions``);
- :func:`build_features`: ``<s> question </s></s> context-window </s>`` sequences with a sliding
  window over the context, answer token positions for training, and the entities of the question
  and of the window with their token positions;
- :func:`best_answers`: start/end scores of every window back to one character span of the
  original context per question.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas.mentions import DEFAULT_MAX_TOKENS, LongestMatch, text_units
from schemas.mentions import normalize_mention as normalize_mention  # re-exported
from schemas.tokens import MAX_MENTION_LENGTH
from schemas.vocab import ENTITY_VOCAB_HF_JSON, ENTITY_VOCAB_JSONL, MENTIONS_DIR, VOCAB_DIR
from schemas.vocab_tables import language_table_name

from .errors import TrainingError

TOKENIZER_JSON = "tokenizer.json"
SENTENCEPIECE_MODEL = "sentencepiece.bpe.model"

# ---------------------------------------------------------------------------------------------
# Mentions: the key and the occurrence rule are the vocab stage's own (schemas.mentions), so a
# mention is found here exactly where the vocab stage counted it.

mention_units = text_units


@dataclass(frozen=True)
class Mention:
    start: int  # character offsets in the text
    end: int
    entity_id: int  # in the model's entity vocabulary


@dataclass
class MentionDictionary:
    """Normalised mention -> entity id (the model's), found in text by longest match."""

    lang: str
    matcher: LongestMatch[int]

    @classmethod
    def from_pairs(
        cls, lang: str, pairs: Iterable[tuple[str, int]], max_units: int = DEFAULT_MAX_TOKENS
    ) -> MentionDictionary:
        return cls(lang, LongestMatch(pairs, max_units))

    @property
    def entities(self) -> dict[str, int]:
        return self.matcher.values

    def __len__(self) -> int:
        return len(self.matcher)

    def detect(self, text: str) -> list[Mention]:
        """Longest match, left to right: at each unit the longest dictionary mention starting there."""
        return [Mention(d.start, d.end, d.value) for d in self.matcher.detect(text)]


def resolve_vocab_dir(path: str | Path) -> Path:
    """WORKDIR, WORKDIR/vocab or WORKDIR/vocab/mentions -> WORKDIR/vocab."""
    path = Path(path)
    for candidate in (path.parent if path.name == MENTIONS_DIR else path, path / VOCAB_DIR):
        if (candidate / MENTIONS_DIR).is_dir():
            return candidate
    raise TrainingError(
        f"--mention-dict {path}: no {MENTIONS_DIR}/ directory there "
        "(give WORKDIR/vocab/mentions, WORKDIR/vocab or WORKDIR of a vocab stage run)"
    )


def entity_id_map(
    vocab_dir: Path, model_dir: Path, model_entity_vocab_size: int
) -> tuple[dict[int, int], str]:
    """Mention dictionary entity ids (the work directory's vocabulary) -> the model's entity ids.

    The ids are matched through the titles (``en:Berlin``) of both vocabularies, so a model with
    another entity vocabulary (an mLUKE release, say) gets its own ids; for a model exported from
    the same vocabulary the map is the identity. Returns the map and a one-line description.
    """
    from .vocab import load_entity_vocab

    model_vocab_path = model_dir / ENTITY_VOCAB_HF_JSON
    if not model_vocab_path.is_file():
        raise TrainingError(
            f"--entities mentions needs the model's entity vocabulary: {model_vocab_path} is missing"
        )
    try:
        model_keys: dict[str, int] = json.loads(model_vocab_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {model_vocab_path}: {error}") from None
    ours_path = vocab_dir / ENTITY_VOCAB_JSONL
    if not ours_path.is_file():
        raise TrainingError(
            f"{ours_path} is missing: it is needed to match the mention dictionary's entity ids"
        )
    ours = load_entity_vocab(ours_path)
    mapping: dict[int, int] = {}
    for key, our_id in ours.hf_keys.items():
        model_id = model_keys.get(key)
        if model_id is None and ":" in key:
            model_id = model_keys.get(key.split(":", 1)[1])  # English LUKE: bare titles
        if model_id is not None and our_id not in mapping and 0 <= int(model_id) < model_entity_vocab_size:
            mapping[our_id] = int(model_id)
    real = [our_id for our_id in set(ours.hf_keys.values()) if our_id >= 4]
    matched = sum(1 for our_id in real if our_id in mapping)
    return mapping, f"{matched} of {len(real)} entities of {ours_path} found in {model_vocab_path}"


def load_mention_dictionary(
    vocab_dir: Path,
    lang: str,
    id_map: Mapping[int, int],
    min_commonness: float,
    min_mention_count: int,
    max_units: int = DEFAULT_MAX_TOKENS,
    min_link_prob: float = 0.0,
) -> MentionDictionary:
    """One language's mention dictionary: mentions that are a link often enough (link_prob), each
    linked to its most common entity when that one is common enough (commonness)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = vocab_dir / MENTIONS_DIR / language_table_name(lang)
    if not path.is_file():
        found = sorted(p.stem for p in (vocab_dir / MENTIONS_DIR).glob("*.parquet"))
        raise TrainingError(
            f"no mention dictionary for language {lang!r}: {path} is missing "
            f"(languages there: {', '.join(found) or 'none'})"
        )
    columns = ["mention", "entity_id", "commonness", "mention_count"]
    try:
        names = pq.read_schema(path).names
        if min_link_prob > 0 and "link_prob" not in names:
            raise TrainingError(
                f"{path} has no link_prob column (a vocabulary built before it existed): rebuild it "
                "with `mluke-data vocab build`, or pass --min-link-prob 0"
            )
        table = pq.read_table(path, columns=columns + (["link_prob"] if min_link_prob > 0 else []))
    except (OSError, ValueError, KeyError) as error:
        raise TrainingError(f"cannot read mention dictionary {path}: {error}") from None
    keep = pc.and_(
        pc.greater_equal(table["commonness"], min_commonness),
        pc.greater_equal(table["mention_count"], min_mention_count),
    )
    if min_link_prob > 0:
        keep = pc.and_(keep, pc.greater_equal(table["link_prob"], min_link_prob))
    table = table.filter(keep)
    # Most common entity first within a mention; the first row of a mention wins.
    table = table.sort_by(
        [("mention", "ascending"), ("commonness", "descending"), ("entity_id", "ascending")]
    )
    pairs = (
        (mention, id_map[entity_id])
        for mention, entity_id in zip(
            table["mention"].to_pylist(), table["entity_id"].to_pylist(), strict=True
        )
        if entity_id in id_map
    )
    return MentionDictionary.from_pairs(lang, pairs, max_units)


# ---------------------------------------------------------------------------------------------
# SQuAD-format data


@dataclass
class QAExample:
    qid: str
    question: str
    paragraph: int  # index into QAData.contexts
    answers: list[tuple[str, int]]  # (text, character start in the context)
    impossible: bool = False


@dataclass
class QAData:
    lang: str
    contexts: list[str]
    examples: list[QAExample]
    stats: dict[str, int] = field(default_factory=dict)

    def references(self) -> dict[str, list[str]]:
        return {ex.qid: ([] if ex.impossible else [text for text, _ in ex.answers]) for ex in self.examples}


def read_squad(path: str | Path, lang: str) -> QAData:
    """SQuAD v1.1-format JSON. SQuAD 2.0's impossible questions are kept with ``impossible=True``."""
    from .qa_metrics import read_json

    loaded = read_json(path, "QA data file")
    if not isinstance(loaded, dict) or not isinstance(loaded.get("data"), list):
        raise TrainingError(f'{path} is not SQuAD-format JSON (no top-level "data" list)')
    contexts: list[str] = []
    examples: list[QAExample] = []
    seen: set[str] = set()
    try:
        for article in loaded["data"]:
            for paragraph in article["paragraphs"]:
                contexts.append(str(paragraph["context"]))
                for qa in paragraph["qas"]:
                    qid = str(qa["id"])
                    if qid in seen:
                        raise TrainingError(f"{path}: question id {qid!r} appears twice")
                    seen.add(qid)
                    answers = [(str(a["text"]), int(a["answer_start"])) for a in qa.get("answers", [])]
                    impossible = bool(qa.get("is_impossible", False)) or not answers
                    examples.append(
                        QAExample(qid, str(qa["question"]), len(contexts) - 1, answers, impossible)
                    )
    except (KeyError, TypeError, ValueError) as error:
        raise TrainingError(f"{path} is not SQuAD-format JSON: {error!r}") from None
    stats = {
        "paragraphs": len(contexts),
        "questions": len(examples),
        "impossible": sum(ex.impossible for ex in examples),
    }
    return QAData(lang, contexts, examples, stats)


def answer_span(context: str, text: str, start: int) -> tuple[int, int] | None:
    """Character span of an answer; a start that is off by a few characters is searched nearby."""
    if not text:
        return None
    if context[start : start + len(text)] == text:
        return start, start + len(text)
    best = None
    for found in (m.start() for m in re.finditer(re.escape(text), context)):
        if abs(found - start) <= 20 and (best is None or abs(found - start) < abs(best - start)):
            best = found
    return None if best is None else (best, best + len(text))


# ---------------------------------------------------------------------------------------------
# Tokenizer


@dataclass
class Encoded:
    ids: list[int]
    offsets: list[tuple[int, int]]

    @functools.cached_property
    def _ends(self) -> list[int]:
        # Token end offsets never decrease along the text.
        return list(itertools.accumulate((offset[1] for offset in self.offsets), max))

    def tokens_in(self, start: int, end: int) -> tuple[int, int] | None:
        """Token range [first, last] of the tokens that overlap characters [start, end)."""
        first = bisect.bisect_right(self._ends, start)
        last = first - 1
        while last + 1 < len(self.offsets) and self.offsets[last + 1][0] < end:
            last += 1
        if last < first:
            return None
        return first, last


class WordTokenizer:
    """Word ids with character offsets, in the model's id convention."""

    def __init__(self, backend: Any, source: str) -> None:
        self.backend = backend
        self.source = source
        ids = {token: backend.token_to_id(token) for token in ("<s>", "</s>", "<pad>")}
        missing = [token for token, value in ids.items() if value is None]
        if missing:
            raise TrainingError(f"the tokenizer of {source} has no {', '.join(missing)} token")
        self.bos_id, self.eos_id, self.pad_id = ids["<s>"], ids["</s>"], ids["<pad>"]

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size())

    @classmethod
    def from_model_dir(cls, model_dir: str | Path) -> WordTokenizer:
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        if (model_dir / TOKENIZER_JSON).is_file():
            return cls(Tokenizer.from_file(str(model_dir / TOKENIZER_JSON)), str(model_dir / TOKENIZER_JSON))
        if (model_dir / SENTENCEPIECE_MODEL).is_file():
            from .export import build_tokenizer_json

            serialized = build_tokenizer_json(model_dir / SENTENCEPIECE_MODEL)
            return cls(Tokenizer.from_str(serialized), str(model_dir / SENTENCEPIECE_MODEL))
        raise TrainingError(
            f"{model_dir} has no {TOKENIZER_JSON} nor {SENTENCEPIECE_MODEL}: cannot tokenize for this model"
        )

    def encode_many(self, texts: Sequence[str]) -> list[Encoded]:
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=False)
        return [Encoded(list(e.ids), [tuple(o) for o in e.offsets]) for e in encodings]


# ---------------------------------------------------------------------------------------------
# Features


@dataclass(frozen=True)
class FeatureSettings:
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    max_entity_length: int = 64
    max_mention_length: int = MAX_MENTION_LENGTH


@dataclass
class Feature:
    example: int  # index into QAData.examples
    input_ids: np.ndarray  # int32, <s> q </s></s> window </s>
    context_offset: int  # sequence position of the window's first context token
    window_start: int  # context token index of that token
    window_length: int
    max_context: np.ndarray  # bool per window token: this window gives the token its most context
    start_position: int = 0  # answer token positions in the sequence; 0 (<s>) if not in the window
    end_position: int = 0
    entity_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entity_positions: list[list[int]] = field(default_factory=list)  # sequence positions per entity


@dataclass
class FeatureSet:
    data: QAData
    contexts: list[Encoded]
    features: list[Feature]
    stats: dict[str, Any]


def _windows(length: int, room: int, stride: int) -> list[tuple[int, int]]:
    windows = []
    start = 0
    while True:
        size = min(length - start, room)
        windows.append((start, size))
        if start + size >= length:
            return windows
        start += min(size, stride)


def _max_context(windows: list[tuple[int, int]], length: int) -> list[np.ndarray]:
    """For every window, which of its tokens have their most surrounding context in it (BERT's rule)."""
    best = np.full(length, -1.0)
    owner = np.full(length, -1, dtype=np.int64)
    for index, (start, size) in enumerate(windows):
        positions = np.arange(start, start + size)
        score = np.minimum(positions - start, start + size - 1 - positions) + 0.01 * size
        better = score > best[positions]
        best[positions[better]] = score[better]
        owner[positions[better]] = index
    return [owner[start : start + size] == index for index, (start, size) in enumerate(windows)]


def _entity_spans(mentions: list[Mention], encoded: Encoded) -> list[tuple[int, int, int]]:
    """(first token, last token, entity id) of each mention."""
    spans = []
    for mention in mentions:
        tokens = encoded.tokens_in(mention.start, mention.end)
        if tokens is not None:
            spans.append((tokens[0], tokens[1], mention.entity_id))
    return spans


def build_features(
    data: QAData,
    tokenizer: WordTokenizer,
    settings: FeatureSettings,
    training: bool,
    linker: MentionDictionary | None = None,
) -> FeatureSet:
    """Windows of every question (training: answerable questions only, labelled)."""
    if settings.max_seq_length < settings.max_query_length + 8:
        raise TrainingError(
            f"--max-seq-length {settings.max_seq_length} leaves no room for the context after a "
            f"question of up to {settings.max_query_length} tokens"
        )
    contexts = tokenizer.encode_many(data.contexts)
    questions = tokenizer.encode_many([ex.question for ex in data.examples])
    context_entities: list[list[tuple[int, int, int]]] = []
    mention_counts = {"question": 0, "context": 0}
    if linker is not None:
        for text, encoded in zip(data.contexts, contexts, strict=True):
            spans = _entity_spans(linker.detect(text), encoded)
            context_entities.append(spans)
            mention_counts["context"] += len(spans)
    stats: dict[str, Any] = {
        "answer_not_found": 0,
        "impossible_skipped": 0,
        "answer_outside_windows": 0,
        "entities_dropped": 0,
    }
    features: list[Feature] = []
    window_cache: dict[tuple[int, int], tuple[list[tuple[int, int]], list[np.ndarray]]] = {}
    special = np.array([tokenizer.bos_id, tokenizer.eos_id], dtype=np.int32)
    for index, example in enumerate(data.examples):
        context = contexts[example.paragraph]
        answer_tokens: tuple[int, int] | None = None
        if training:
            if example.impossible:
                stats["impossible_skipped"] += 1
                continue
            text, start = example.answers[0]
            span = answer_span(data.contexts[example.paragraph], text, start)
            tokens = context.tokens_in(*span) if span is not None else None
            if tokens is None:
                stats["answer_not_found"] += 1
                continue
            answer_tokens = tokens
        question = questions[index]
        q_ids = question.ids[: settings.max_query_length]
        q_entities: list[tuple[int, int, int]] = []
        if linker is not None:
            q_entities = [
                span
                for span in _entity_spans(linker.detect(example.question), question)
                if span[1] < len(q_ids)
            ]
            mention_counts["question"] += len(q_entities)
        room = settings.max_seq_length - len(q_ids) - 4
        key = (example.paragraph, room)
        if key not in window_cache:
            windows = _windows(len(context.ids), room, settings.doc_stride)
            window_cache[key] = (windows, _max_context(windows, len(context.ids)))
        windows, max_context = window_cache[key]
        prefix = np.concatenate([special[:1], np.asarray(q_ids, dtype=np.int32), special[1:], special[1:]])
        context_offset = len(prefix)
        labelled = False
        context_ids = np.asarray(context.ids, dtype=np.int32)
        for number, (start, size) in enumerate(windows):
            ids = np.concatenate([prefix, context_ids[start : start + size], special[1:]])
            feature = Feature(index, ids, context_offset, start, size, max_context[number])
            if answer_tokens is not None:
                first, last = answer_tokens
                if start <= first and last < start + size:
                    feature.start_position = context_offset + first - start
                    feature.end_position = context_offset + last - start
                    labelled = True
            if linker is not None:
                _add_entities(feature, q_entities, context_entities[example.paragraph], settings, stats)
            features.append(feature)
        if answer_tokens is not None and not labelled:
            stats["answer_outside_windows"] += 1
    stats["features"] = len(features)
    stats["examples_used"] = len({f.example for f in features})
    if linker is not None:
        stats["mentions"] = mention_counts
        with_entities = sum(1 for f in features if len(f.entity_ids))
        stats["windows_with_entities"] = with_entities
        stats["entities_per_window"] = (
            float(np.mean([len(f.entity_ids) for f in features])) if features else 0.0
        )
    return FeatureSet(data, contexts, features, stats)


def _add_entities(
    feature: Feature,
    question: list[tuple[int, int, int]],
    context: list[tuple[int, int, int]],
    settings: FeatureSettings,
    stats: dict[str, Any],
) -> None:
    ids: list[int] = []
    positions: list[list[int]] = []
    candidates = [(first + 1, last + 1, entity) for first, last, entity in question]
    end = feature.window_start + feature.window_length
    candidates += [
        (
            feature.context_offset + first - feature.window_start,
            feature.context_offset + last - feature.window_start,
            e,
        )
        for first, last, e in context
        if first >= feature.window_start and last < end
    ]
    for first, last, entity in candidates:
        if last - first + 1 > settings.max_mention_length or len(ids) >= settings.max_entity_length:
            stats["entities_dropped"] += 1
            continue
        ids.append(entity)
        positions.append(list(range(first, last + 1)))
    feature.entity_ids = np.asarray(ids, dtype=np.int64)
    feature.entity_positions = positions


def collate(
    features: Sequence[Feature], pad_id: int, with_entities: bool, with_labels: bool
) -> dict[str, np.ndarray]:
    """Numpy arrays of a batch, padded to its longest sequence (and most entities, longest mention)."""
    length = max(len(f.input_ids) for f in features)
    input_ids = np.full((len(features), length), pad_id, dtype=np.int64)
    attention = np.zeros((len(features), length), dtype=np.int64)
    for row, feature in enumerate(features):
        input_ids[row, : len(feature.input_ids)] = feature.input_ids
        attention[row, : len(feature.input_ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention}
    if with_entities:
        # At least one (masked) entity slot, so that every batch runs the entity side of the model.
        entities = max(1, max(len(f.entity_ids) for f in features))
        width = max([1] + [len(p) for f in features for p in f.entity_positions])
        entity_ids = np.zeros((len(features), entities), dtype=np.int64)
        entity_mask = np.zeros((len(features), entities), dtype=np.int64)
        positions = np.full((len(features), entities, width), -1, dtype=np.int64)
        for row, feature in enumerate(features):
            count = len(feature.entity_ids)
            entity_ids[row, :count] = feature.entity_ids
            entity_mask[row, :count] = 1
            for column, span in enumerate(feature.entity_positions):
                positions[row, column, : len(span)] = span
        batch.update(entity_ids=entity_ids, entity_attention_mask=entity_mask, entity_position_ids=positions)
    if with_labels:
        batch["start_positions"] = np.array([f.start_position for f in features], dtype=np.int64)
        batch["end_positions"] = np.array([f.end_position for f in features], dtype=np.int64)
    return batch


# ---------------------------------------------------------------------------------------------
# Answers


def best_answers(
    feature_set: FeatureSet,
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, str]:
    """Question id -> answer text: the highest start + end score over the windows of a question.

    ``start_logits[i]`` / ``end_logits[i]`` are feature i's scores over its window's context tokens
    only. A span must start in a token whose most context is in this window, end at or after its
    start and span at most ``max_answer_length`` tokens. Questions with no valid span get "".
    """
    best: dict[int, tuple[float, int, int, int]] = {}
    for number, feature in enumerate(feature_set.features):
        starts = np.asarray(start_logits[number], dtype=np.float64)
        ends = np.asarray(end_logits[number], dtype=np.float64)
        k = min(n_best, len(starts))
        top_starts = np.argsort(-starts, kind="stable")[:k]
        top_ends = np.argsort(-ends, kind="stable")[:k]
        for s in top_starts:
            if not feature.max_context[s]:
                continue
            for e in top_ends:
                if e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                current = best.get(feature.example)
                if current is None or score > current[0]:
                    best[feature.example] = (score, number, int(s), int(e))
    answers: dict[str, str] = {}
    for index, example in enumerate(feature_set.data.examples):
        found = best.get(index)
        if found is None:
            answers[example.qid] = ""
            continue
        _, number, s, e = found
        feature = feature_set.features[number]
        offsets = feature_set.contexts[example.paragraph].offsets
        first = offsets[feature.window_start + s][0]
        last = offsets[feature.window_start + e][1]
        answers[example.qid] = feature_set.data.contexts[example.paragraph][first:last]
    return answers


# ---------------------------------------------------------------------------------------------
# Language of a data set from its name

KNOWN_LANGS = frozenset(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr "
    "hu hy id is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps "
    "pt ro ru sa sd si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh".split()
)


def language_of(*names: str) -> str | None:
    """The last language code among the '.', '-' or '_' separated parts of the first name that has one.

    ``xquad.de`` and ``xquad.de.json`` -> de; ``test-context-zh-question-zh.json`` -> zh.
    """
    for name in names:
        parts = re.split(r"[._\-/]", Path(name).name.lower())
        for part in reversed(parts):
            if part in KNOWN_LANGS:
                return part
    return None
