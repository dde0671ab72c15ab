"""``--init``: start a run from published weights, mapped onto this run's word and entity ids.

Three kinds of source:

- ``luke``: a Hugging Face LUKE/mLUKE directory (config.json with ``model_type: luke``), e.g.
  studio-ousia/mluke-base as downloaded, or a directory written by luke's converter or by
  ``mluke-train export``;
- ``checkpoint``: a run directory or checkpoint file of ``mluke-train pretrain`` (stage 1 -> 2);
- ``word``: a RoBERTa/XLM-R masked-LM directory: the word side only.

Weights are read from the files (model.safetensors, pytorch_model.bin, or their sharded index),
not through ``from_pretrained``, so that nothing missing is silently initialised at random.

Word rows: a word id of ours takes the source row whose token is the same string. The source's
tokens are those of its sentencepiece model under the XLM-R id convention (``schemas.tokens``);
rows past them (mLUKE's ``<ent>``/``<ent2>``, added for fine-tuning) are not used. When the two
sentencepiece models differ the run is refused (build the shards with the model's tokenizer)
unless ``--init-partial`` accepts mapping the shared pieces and starting the others fresh.

Entity rows: an entity of ours takes the source row that its ``lang:title`` keys name in the
source's entity_vocab.json (the most named one when its titles disagree); special entities are
matched by name, a missing [MASK2] starts as [MASK] (as luke's converter does). Entities new to
the source start as the source's [MASK] embedding and bias: a new entity then begins as "an
entity the model cannot see", which luke also uses for entities added to a vocabulary.

Decoders are tied, so their weights in a source are ignored (and luke's converter drops them).
Entity-aware queries missing in a source start as the word query; present but unused (plain
attention), they are left out. Anything else missing or of another shape is an error unless
``--init-partial`` is given. The report says what was mapped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import LukeForMaskedLM

from schemas.tokens import BOS_TOKEN, EOS_TOKEN, MASK_TOKEN, PAD_TOKEN, UNK_TOKEN
from schemas.vocab import ENTITY_MASK, ENTITY_MASK2, SPECIAL_ENTITIES

from .checkpoint import list_checkpoints, load_checkpoint, resolve_checkpoint
from .errors import TrainingError
from .model import ENTITY_AWARE_QUERIES, load_weights
from .vocab import TOKENIZER_DIR, EntityVocab, WordVocab, find_sentencepiece, load_word_vocab

WORD_EMBEDDINGS = "luke.embeddings.word_embeddings.weight"
ENTITY_EMBEDDINGS = "luke.entity_embeddings.entity_embeddings.weight"
WORD_ROW_KEYS = (WORD_EMBEDDINGS, "lm_head.bias", "lm_head.decoder.bias")
ENTITY_ROW_KEYS = (ENTITY_EMBEDDINGS, "entity_predictions.bias")
TIED = ("lm_head.decoder.weight", "entity_predictions.decoder.weight")
_WORD_PREFIXES = ("roberta.", "xlm_roberta.", "bert.", "model.")
_IGNORED_SOURCE = ("luke.embeddings.position_ids", "embeddings.position_ids")
# The entity side a word model cannot give.
_ENTITY_SIDE = ("luke.entity_embeddings.", "entity_predictions.")


@dataclass
class InitSource:
    kind: str  # "luke", "checkpoint" or "word"
    path: Path
    state: dict[str, torch.Tensor]
    architecture: dict[str, Any]
    sentencepiece: Path
    entity_keys: dict[str, int] | None  # entity_vocab.json of the source: "en:Berlin" -> row


def read_source(init: str | Path) -> InitSource:
    path = Path(init)
    if path.is_file() or (path.is_dir() and list_checkpoints(path)):
        checkpoint = resolve_checkpoint(path)
        state = load_checkpoint(checkpoint)
        run_dir = checkpoint.parent.parent
        return InitSource(
            "checkpoint",
            checkpoint,
            state["model"],
            state["model_config"],
            find_sentencepiece(run_dir / TOKENIZER_DIR),
            _read_entity_keys(run_dir / TOKENIZER_DIR / "entity_vocab.json"),
        )
    config_path = path / "config.json"
    if not config_path.is_file():
        raise TrainingError(f"--init {init}: neither a checkpoint, a run directory nor a Hugging Face model")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {config_path}: {error}") from None
    try:
        sentencepiece = find_sentencepiece(path)
    except TrainingError:
        raise TrainingError(
            f"--init {init}: no sentencepiece model (*.model) in the directory; the word ids can only be "
            "mapped through the model's sentencepiece tokenizer"
        ) from None
    state = read_weights(path)
    if config.get("model_type") == "luke":
        return InitSource(
            "luke", path, state, config, sentencepiece, _read_entity_keys(path / "entity_vocab.json")
        )
    return InitSource("word", path, _luke_names(state), config, sentencepiece, None)


def read_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The state dict of a Hugging Face directory, straight from its weight files."""
    from safetensors.torch import load_file

    for index_name, loader in (
        ("model.safetensors.index.json", load_file),
        ("pytorch_model.bin.index.json", _load_bin),
    ):
        index = directory / index_name
        if index.is_file():
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for name in files:
                state.update(loader(str(directory / name)))
            return state
    if (directory / "model.safetensors").is_file():
        return load_file(str(directory / "model.safetensors"))
    if (directory / "pytorch_model.bin").is_file():
        return _load_bin(str(directory / "pytorch_model.bin"))
    raise TrainingError(f"--init {directory}: no model.safetensors or pytorch_model.bin")


def _load_bin(path: str) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as error:
        raise TrainingError(f"cannot read {path}: {error}") from None


def _luke_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """RoBERTa/XLM-R/BERT names -> LUKE's (``roberta.encoder...`` -> ``luke.encoder...``)."""
    renamed = {}
    for key, value in state.items():
        for prefix in _WORD_PREFIXES:
            if key.startswith(prefix):
                key = "luke." + key[len(prefix) :]
                break
        renamed[key] = value
    return renamed


def _read_entity_keys(path: Path) -> dict[str, int]:
    if not path.is_file():
        raise TrainingError(f"--init: {path} is missing (the entity ids cannot be mapped without it)")
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {path}: {error}") from None
    if not isinstance(keys, dict):
        raise TrainingError(f"{path} is not an entity_vocab.json ({{'en:Berlin': 5, ...}})")
    return {str(key): int(value) for key, value in keys.items()}


# ---------------------------------------------------------------------------------------------
# Row maps


def word_tokens(vocab: WordVocab) -> list[str]:
    """The token string of every word id (XLM-R convention: specials, pieces + 1, <mask> last)."""
    convention = vocab.convention
    tokens = [""] * convention.vocab_size
    for piece_id in range(vocab.processor.get_piece_size()):
        tokens[convention.to_word_id(piece_id)] = vocab.processor.id_to_piece(piece_id)
    for word_id, token in ((0, BOS_TOKEN), (1, PAD_TOKEN), (2, EOS_TOKEN), (3, UNK_TOKEN)):
        tokens[word_id] = token
    tokens[convention.mask_id] = MASK_TOKEN
    return tokens


@dataclass
class RowMap:
    """``rows[our id]`` is the source row it takes, or -1 (starts fresh)."""

    rows: np.ndarray
    report: dict[str, Any]

    @property
    def missing(self) -> int:
        return int((self.rows < 0).sum())


def map_word_rows(ours: WordVocab, source_model: Path, source_rows: int) -> RowMap:
    source = load_word_vocab(source_model)
    our_tokens = word_tokens(ours)
    source_tokens = word_tokens(source)
    identical = our_tokens == source_tokens
    if identical:
        rows = np.arange(len(our_tokens), dtype=np.int64)
    else:
        where = {token: row for row, token in enumerate(source_tokens)}
        rows = np.array([where.get(token, -1) for token in our_tokens], dtype=np.int64)
    rows[rows >= source_rows] = -1
    report = {
        "tokenizer": "identical" if identical else "mapped by piece",
        "ours": len(our_tokens),
        "mapped": int((rows >= 0).sum()),
        "source_rows": source_rows,
        # e.g. mLUKE's <ent> and <ent2>, past its tokenizer's own ids (added for fine-tuning).
        "source_rows_not_used": source_rows - len(np.unique(rows[rows >= 0])),
    }
    return RowMap(rows, report)


def map_entity_rows(ours: EntityVocab, source_keys: dict[str, int], source_rows: int) -> RowMap:
    by_id: dict[int, list[str]] = {}
    for key, entity_id in ours.hf_keys.items():
        by_id.setdefault(entity_id, []).append(key)
    rows = np.full(ours.size, -1, dtype=np.int64)
    disagreeing = 0
    for entity_id, keys in by_id.items():
        found = [source_keys[key] for key in keys if key in source_keys and source_keys[key] < source_rows]
        if not found:
            continue
        counted = Counter(found).most_common()
        best = min(row for row, count in counted if count == counted[0][1])
        disagreeing += len(counted) > 1
        rows[entity_id] = best
    special_ids = {ours.hf_keys[name] for name in SPECIAL_ENTITIES}
    mask_row = source_keys.get(ENTITY_MASK)
    if rows[ours.hf_keys[ENTITY_MASK2]] < 0 and mask_row is not None:
        rows[ours.hf_keys[ENTITY_MASK2]] = mask_row  # luke's converter: [MASK2] starts as [MASK]
    missing_special = [name for name in SPECIAL_ENTITIES if rows[ours.hf_keys[name]] < 0]
    used = set(rows[rows >= 0].tolist())
    source_special = {source_keys[name] for name in SPECIAL_ENTITIES if name in source_keys}
    regular = [i for i in range(ours.size) if i not in special_ids]
    report = {
        "ours": ours.size,
        "carried_over": int(sum(rows[i] >= 0 for i in regular)),
        "new": int(sum(rows[i] < 0 for i in regular)),
        "dropped": len({row for row in source_keys.values() if row < source_rows} - used - source_special),
        "titles_disagreeing": disagreeing,
        "special_missing": missing_special,
    }
    return RowMap(rows, report)


# ---------------------------------------------------------------------------------------------
# Applying a source


def _take_rows(
    target: torch.Tensor, source: torch.Tensor, row_map: RowMap, fill_row: int | None
) -> torch.Tensor:
    out = target.clone()
    mapped = torch.from_numpy(np.flatnonzero(row_map.rows >= 0))
    out[mapped] = source[torch.from_numpy(row_map.rows[mapped.numpy()])].to(out.dtype)
    if fill_row is not None:
        fresh = torch.from_numpy(np.flatnonzero(row_map.rows < 0))
        out[fresh] = source[fill_row].to(out.dtype)
    return out


def apply_source(
    model: LukeForMaskedLM,
    source: InitSource,
    words: WordVocab,
    entities: EntityVocab,
    partial: bool = False,
) -> dict[str, Any]:
    """Loads ``source`` into ``model`` (ids mapped as the module doc says); returns the report."""
    target = model.state_dict()
    state = {key: value for key, value in source.state.items() if key not in _IGNORED_SOURCE}
    new_state = {key: value.clone() for key, value in target.items()}
    problems: list[str] = []
    report: dict[str, Any] = {"kind": source.kind, "source": str(source.path)}

    if WORD_EMBEDDINGS not in state:
        raise TrainingError(f"--init {source.path}: no word embeddings ({WORD_EMBEDDINGS}) in its weights")
    word_map = map_word_rows(words, source.sentencepiece, state[WORD_EMBEDDINGS].shape[0])
    report["words"] = word_map.report
    if word_map.report["tokenizer"] != "identical":
        message = (
            f"--init {source.path}: its sentencepiece model differs from the shards' tokenizer "
            f"({word_map.report['mapped']} of {word_map.report['ours']} word ids found by piece): build the "
            f"shards with its tokenizer (mluke-data build ... --tokenizer {source.sentencepiece}), or pass "
            "--init-partial to map the shared pieces and start the others fresh"
        )
        if not partial:
            raise TrainingError(message)
    if "lm_head.bias" not in state and "lm_head.decoder.bias" in state:
        state["lm_head.bias"] = state["lm_head.decoder.bias"]
    for key in WORD_ROW_KEYS:
        if key in state and key in new_state:
            new_state[key] = _take_rows(target[key], state[key], word_map, None)

    entity_side = source.kind != "word"
    if entity_side:
        assert source.entity_keys is not None
        if ENTITY_EMBEDDINGS not in state:
            raise TrainingError(f"--init {source.path}: no entity embeddings in its weights")
        entity_map = map_entity_rows(entities, source.entity_keys, state[ENTITY_EMBEDDINGS].shape[0])
        report["entities"] = entity_map.report
        if entity_map.report["special_missing"]:
            problems.append(
                f"special entities {', '.join(entity_map.report['special_missing'])} not in the source"
            )
        mask_row = source.entity_keys.get(ENTITY_MASK)
        for key in ENTITY_ROW_KEYS:
            if key not in state:
                problems.append(f"{key} missing")
                continue
            if state[key].shape[1:] != target[key].shape[1:]:
                problems.append(
                    f"{key} has shape {tuple(state[key].shape)}, the model {tuple(target[key].shape)}"
                )
                continue
            new_state[key] = _take_rows(target[key], state[key], entity_map, mask_row)

    copied, ignored, fresh, queries = 0, [], [], 0
    handled = set(WORD_ROW_KEYS) | set(ENTITY_ROW_KEYS) | set(TIED)
    for key, value in state.items():
        if key in handled:
            continue
        if key not in target:
            ignored.append(key)  # e.g. entity-aware queries under plain attention
            continue
        if target[key].shape != value.shape:
            problems.append(f"{key} has shape {tuple(value.shape)}, the model {tuple(target[key].shape)}")
            continue
        new_state[key] = value.clone().to(target[key].dtype)
        copied += 1
    for key in target:
        if key in state or key in handled:
            continue
        if any(f".{name}." in key for name in ENTITY_AWARE_QUERIES):
            word_query = key.replace(key.split(".")[-2], "query")
            if word_query in state:
                new_state[key] = state[word_query].clone().to(target[key].dtype)
                queries += 1
                continue
        if source.kind == "word" and key.startswith(_ENTITY_SIDE):
            fresh.append(key)
            continue
        if key.startswith("luke.pooler."):
            fresh.append(key)  # never trained in pretraining; fine-tuning heads do not use it
            continue
        problems.append(f"{key} missing")
    if source.kind == "word":
        _entity_side_from_words(new_state, state, model)
    report["weights"] = {
        "copied": copied,
        "entity_aware_queries_from_query": queries,
        "ignored": sorted(ignored),
        "fresh": sorted(fresh),
        "problems": problems,
    }
    if problems and not partial:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise TrainingError(
            f"--init {source.path} does not fit this model: {shown} (--init-partial accepts it)"
        )
    load_weights(model, new_state)  # the decoders follow the embeddings they are tied to
    return report


def _entity_side_from_words(
    new_state: dict[str, torch.Tensor], state: dict[str, torch.Tensor], model
) -> None:
    """luke's start from a word model: entity positions and types begin as the word ones (entity
    positions count from 0, word positions from padding index + 1)."""
    word_positions = state.get("luke.embeddings.position_embeddings.weight")
    key = "luke.entity_embeddings.position_embeddings.weight"
    if word_positions is not None:
        shift = model.config.pad_token_id + 1
        rows = min(new_state[key].shape[0], word_positions.shape[0] - shift)
        new_state[key][:rows] = word_positions[shift : shift + rows]
    word_types = state.get("luke.embeddings.token_type_embeddings.weight")
    key = "luke.entity_embeddings.token_type_embeddings.weight"
    if word_types is not None and new_state[key].shape == word_types.shape:
        new_state[key] = word_types.clone()


def describe(report: dict[str, Any]) -> list[str]:
    """The lines printed when a run starts from --init."""
    lines = [f"init from {report['source']} ({report['kind']})"]
    words = report["words"]
    lines.append(
        f"  words: {words['mapped']:,} of {words['ours']:,} ids mapped ({words['tokenizer']} tokenizer); "
        f"{words['source_rows_not_used']:,} source rows not used"
    )
    if "entities" in report:
        entities = report["entities"]
        lines.append(
            f"  entities: {entities['carried_over']:,} carried over, {entities['new']:,} new (start as [MASK]), "
            f"{entities['dropped']:,} of the source dropped"
        )
    weights = report["weights"]
    extra = f", {len(weights['fresh'])} fresh" if weights["fresh"] else ""
    lines.append(f"  weights: {weights['copied']} copied{extra}, decoders tied to the embeddings")
    for problem in weights["problems"]:
        lines.append(f"  accepted by --init-partial: {problem}")
    return lines
