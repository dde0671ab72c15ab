"""`mluke-train export`: a checkpoint as a Hugging Face model directory with an MLukeTokenizer.

Written to OUT_DIR:

    config.json, model.safetensors   LukeForMaskedLM (loads in LukeModel and the Luke* task models)
    sentencepiece.bpe.model          the tokenizer the shards were built with
    entity_vocab.json                {"en:Berlin": 14, "[PAD]": 0, ...} (all four special entities)
    tokenizer.json                   the word vocabulary in model-id order (see below)
    tokenizer_config.json            tokenizer_class MLukeTokenizer, special tokens, lengths
    mluke_export.json                where it came from (checkpoint, step, sha256 of the inputs)

The MLukeTokenizer id trap (RESEARCH.md): transformers 5's MLukeTokenizer builds its backend from
the sentencepiece model with the raw sentencepiece ids (<unk>=0, <s>=1, </s>=2, pieces unshifted,
<pad> and <mask> appended at the end), while the model was trained on XLM-R ids (<s>=0, <pad>=1,
</s>=2, <unk>=3, piece + 1, <mask> = N + 1). The fix-up is the tokenizer.json written here: when it
is present, MLukeTokenizer takes its vocabulary list in that file's order, which is the model's
order, so every in-vocabulary piece and every special token gets the training id. Two differences
remain that no file can fix, because MLukeTokenizer 5.x rebuilds its backend in code:

- a character that no piece covers becomes id 0 (<s>) instead of 3 (<unk>): MLukeTokenizer
  hard-codes the unknown id to the first vocabulary entry;
- it does not apply sentencepiece's normalisation (NFKC: full-width letters, ligatures, circled
  digits) nor collapse runs of spaces.

``load_tokenizer(OUT_DIR)`` returns an MLukeTokenizer whose backend model, normaliser and
pre-tokenizer are taken back from tokenizer.json: it then produces exactly the shards' ids for any
text (the export tests check both behaviours). transformers 4.x's MLukeTokenizer (sentencepiece
based, with the fairseq offset) reads the same directory and gets the training ids without it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import LukeConfig, LukeForMaskedLM

from schemas.tokens import BOS_TOKEN, EOS_TOKEN, MASK_TOKEN, MAX_MENTION_LENGTH, PAD_TOKEN, UNK_TOKEN
from schemas.vocab import (
    ENTITY_MASK,
    ENTITY_MASK2,
    ENTITY_PAD,
    ENTITY_UNK,
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
)

from .errors import TrainingError
from .model import copy_entity_aware_queries
from .trainer import load_trained_model
from .vocab import SENTENCEPIECE_FILE, TOKENIZER_DIR, load_entity_vocab, load_word_vocab, sha256_file

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
EXPORT_RECORD = "mluke_export.json"

# Texts the export checks the written tokenizer on (scripts with and without spaces, digits).
_CHECK_TEXTS = (
    "Berlin is the capital of Germany.",
    "Der Rhein fließt durch Köln, 1824.",
    "東京は日本の首都である。",
    "Paris, London and Rome (2024) — a trip.",
)


def build_tokenizer_json(sentencepiece_model: Path) -> str:
    """The fast-tokenizer serialization of the model in XLM-R id order.

    transformers' own XLM-R converter produces it (precompiled normaliser, unknown id 3, <mask>
    last), so the normalisation matches sentencepiece's.
    """
    # The fast class (an alias of XLMRobertaTokenizer in transformers 5, a separate class in 4).
    from transformers import XLMRobertaTokenizerFast

    with tempfile.TemporaryDirectory() as staging:
        shutil.copyfile(sentencepiece_model, Path(staging) / SENTENCEPIECE_FILE)
        converted = XLMRobertaTokenizerFast.from_pretrained(staging)
        return converted.backend_tokenizer.to_str()


def tokenizer_config(max_seq_length: int, max_entity_length: int, max_mention_length: int) -> dict[str, Any]:
    return {
        "tokenizer_class": "MLukeTokenizer",
        "bos_token": BOS_TOKEN,
        "cls_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "sep_token": EOS_TOKEN,
        "unk_token": UNK_TOKEN,
        "pad_token": PAD_TOKEN,
        "mask_token": MASK_TOKEN,
        "entity_pad_token": ENTITY_PAD,
        "entity_unk_token": ENTITY_UNK,
        "entity_mask_token": ENTITY_MASK,
        "entity_mask2_token": ENTITY_MASK2,
        "model_max_length": max_seq_length,
        "max_entity_length": max_entity_length,
        "max_mention_length": max_mention_length,
    }


def load_tokenizer(path: str | Path):
    """MLukeTokenizer of an export with the id fix-up applied to its backend (exact shard ids)."""
    from tokenizers import Tokenizer
    from transformers import MLukeTokenizer

    path = Path(path)
    tokenizer = MLukeTokenizer.from_pretrained(path)
    if not hasattr(tokenizer, "backend_tokenizer"):
        return tokenizer  # transformers 4: sentencepiece-based, already exact
    exact = Tokenizer.from_file(str(path / TOKENIZER_JSON))
    backend = tokenizer.backend_tokenizer
    backend.normalizer = exact.normalizer
    backend.pre_tokenizer = exact.pre_tokenizer
    backend.model = exact.model
    return tokenizer


def _run_dir_of(checkpoint: Path) -> Path:
    return checkpoint.parent.parent


def export_model(model: LukeForMaskedLM, entity_aware_attention: bool | None) -> LukeForMaskedLM:
    """The model as written: what luke's converter writes, loadable alike by transformers 4 and 5.

    - every layer has entity-aware queries: copies of the word query when the model was trained with
      plain attention (mLUKE), so that fine-tuning may switch them on;
    - ``use_entity_aware_attention`` is the training value unless ``entity_aware_attention`` says
      otherwise (a documented choice: docs/training.md);
    - the decoder weights are written out, equal to the embeddings they are tied to, and the config
      says ``tie_word_embeddings: true``: transformers 4 re-ties them, transformers 5 (which does
      not tie the word decoder of LUKE) loads the same values, so both give the same logits.
    """
    config = LukeConfig(**model.config.to_dict())
    if entity_aware_attention is not None:
        config.use_entity_aware_attention = entity_aware_attention
    trained_aware = bool(model.config.use_entity_aware_attention)
    config_aware = config.use_entity_aware_attention
    config.use_entity_aware_attention = True  # build every query, then set the flag as chosen
    config.tie_word_embeddings = True
    written = LukeForMaskedLM(config)
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    if not trained_aware:
        copy_entity_aware_queries(state, config.num_hidden_layers)
    state["lm_head.decoder.weight"] = state["luke.embeddings.word_embeddings.weight"].clone()
    state["lm_head.decoder.bias"] = state["lm_head.bias"].clone()
    state["entity_predictions.decoder.weight"] = state[
        "luke.entity_embeddings.entity_embeddings.weight"
    ].clone()
    written.load_state_dict(state, strict=True)
    # transformers 5 ties the LM bias to the decoder bias itself; the word decoder stays a copy.
    written.lm_head.decoder.weight = torch.nn.Parameter(state["lm_head.decoder.weight"])
    written.config.use_entity_aware_attention = config_aware
    written.eval()
    return written


def export(
    source: str | Path,
    out_dir: str | Path,
    tokenizer: str | Path | None = None,
    entity_vocab: str | Path | None = None,
    max_entity_length: int | None = None,
    entity_aware_attention: bool | None = None,
) -> dict[str, Any]:
    """Writes the Hugging Face directory; returns the export record."""
    trained, state, checkpoint = load_trained_model(source)
    model = export_model(trained, entity_aware_attention)
    run_dir = _run_dir_of(checkpoint)
    sp_path = Path(tokenizer) if tokenizer else run_dir / TOKENIZER_DIR / SENTENCEPIECE_FILE
    vocab_path = Path(entity_vocab) if entity_vocab else run_dir / TOKENIZER_DIR / ENTITY_VOCAB_JSONL
    word_vocab = load_word_vocab(sp_path)
    vocab = load_entity_vocab(vocab_path)
    config = model.config
    if word_vocab.size != config.vocab_size:
        raise TrainingError(
            f"{word_vocab.path} gives {word_vocab.size} word ids, the model has {config.vocab_size}"
        )
    if vocab.size != config.entity_vocab_size:
        raise TrainingError(
            f"{vocab_path} has {vocab.size} entities, the model has {config.entity_vocab_size}"
        )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model.save_pretrained(out)
    shutil.copyfile(word_vocab.path, out / SENTENCEPIECE_FILE)
    (out / ENTITY_VOCAB_HF_JSON).write_text(vocab.hf_json(), encoding="utf-8")
    (out / TOKENIZER_JSON).write_text(build_tokenizer_json(word_vocab.path), encoding="utf-8")
    settings = state.get("options", {})
    data_settings = _data_settings(state)
    max_seq = int(
        data_settings.get("max_seq_length", config.max_position_embeddings - config.pad_token_id - 1)
    )
    config_values = tokenizer_config(
        max_seq,
        max_entity_length or int(data_settings.get("max_entity_length", 128)),
        int(data_settings.get("max_mention_length", MAX_MENTION_LENGTH)),
    )
    (out / TOKENIZER_CONFIG).write_text(
        json.dumps(config_values, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )

    mismatches = _check_tokenizer(out, word_vocab)
    record = {
        "checkpoint": str(checkpoint),
        "step": int(state["step"]),
        "stage": int(state.get("stage", settings.get("stage", 2))),
        "tokenizer_sha256": sha256_file(word_vocab.path),
        "entity_vocab_sha256": sha256_file(vocab_path),
        "word_vocab_size": word_vocab.size,
        "entity_vocab_size": vocab.size,
        "tokenizer_check": "exact" if not mismatches else {"mismatches": mismatches},
        "use_entity_aware_attention": bool(model.config.use_entity_aware_attention),
        "trained_with_entity_aware_attention": bool(trained.config.use_entity_aware_attention),
    }
    (out / EXPORT_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if mismatches:
        raise TrainingError(
            f"the exported tokenizer does not reproduce the training ids for {mismatches[0]!r} "
            "(is the sentencepiece model a BPE model? MLukeTokenizer assumes a unigram model)"
        )
    return record


def _data_settings(state: dict[str, Any]) -> dict[str, Any]:
    return state.get("data", {}).get("settings", {})


def _check_tokenizer(out: Path, word_vocab) -> list[str]:
    """Texts on which the fixed-up MLukeTokenizer and sentencepiece + convention disagree."""
    tokenizer = load_tokenizer(out)
    bad = []
    for text in _CHECK_TEXTS:
        expected = [0, *word_vocab.encode(text), 2]
        if tokenizer(text)["input_ids"] != expected:
            bad.append(text)
    return bad
