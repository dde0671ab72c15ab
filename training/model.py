"""The model: transformers' LukeForMaskedLM, its presets, initialisation and the two training stages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import LukeConfig, LukeForMaskedLM

from schemas.tokens import BOS_ID, EOS_ID, PAD_ID

from .errors import TrainingError


@dataclass(frozen=True)
class Preset:
    """Model shape plus the training defaults that suit it (each overridable by a flag)."""

    model: dict[str, Any]
    batch_size: int
    micro_batch_size: int
    learning_rate: dict[int, float]  # per stage
    warmup_steps: int


_XLMR_COMMON: dict[str, Any] = {
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "type_vocab_size": 1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-5,
    "entity_emb_size": 256,
    "use_entity_aware_attention": True,
}

PRESETS: dict[str, Preset] = {
    # For tests and CPU smoke runs: a few hundred thousand parameters.
    "tiny": Preset(
        model={
            **_XLMR_COMMON,
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 128,
            "entity_emb_size": 32,
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
        },
        batch_size=32,
        micro_batch_size=32,
        learning_rate={1: 5e-3, 2: 5e-3},
        warmup_steps=10,
    ),
    # mLUKE-base / -large: XLM-R's encoder, entity embeddings of 256 (RESEARCH.md).
    "base": Preset(
        model={
            **_XLMR_COMMON,
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        },
        batch_size=2048,
        micro_batch_size=16,
        learning_rate={1: 5e-4, 2: 1e-4},
        warmup_steps=2500,
    ),
    "large": Preset(
        model={
            **_XLMR_COMMON,
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "intermediate_size": 4096,
        },
        batch_size=2048,
        micro_batch_size=8,
        learning_rate={1: 5e-4, 2: 5e-5},
        warmup_steps=2500,
    ),
}


def build_config(
    preset: str | None,
    config_file: str | Path | None,
    word_vocab_size: int,
    entity_vocab_size: int,
    max_seq_length: int,
) -> LukeConfig:
    """A LukeConfig from a preset or a JSON file, sized for the data's vocabularies."""
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise TrainingError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset].model)
        # Positions start after the padding index (RoBERTa style): 512 tokens need 514 positions.
        values["max_position_embeddings"] = max_seq_length + PAD_ID + 1
    if config_file is not None:
        try:
            loaded = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TrainingError(f"cannot read model config {config_file}: {error}") from None
        loaded.pop("model_type", None)
        values.update(loaded)
    values.setdefault("max_position_embeddings", max_seq_length + PAD_ID + 1)
    if values["max_position_embeddings"] < max_seq_length + PAD_ID + 1:
        raise TrainingError(
            f"max_position_embeddings {values['max_position_embeddings']} is too small for sequences of "
            f"{max_seq_length} tokens (needs {max_seq_length + PAD_ID + 1})"
        )
    values.update(
        vocab_size=word_vocab_size,
        entity_vocab_size=entity_vocab_size,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
    )
    return LukeConfig(**values)


def new_model(config: LukeConfig, seed: int) -> LukeForMaskedLM:
    torch.manual_seed(seed)
    model = LukeForMaskedLM(config)
    model.train()
    return model


def trainable_parameters(model: LukeForMaskedLM, stage: int) -> list[str]:
    """Sets requires_grad for a stage and returns the names of the trainable parameters.

    Stage 1 (mLUKE): only the entity embeddings (with their projection, positions, types and layer
    norm) and the entity prediction head learn; the word side stays as initialised. Stage 2: all.
    The pooler is never trained in pretraining (no loss reaches it).
    """
    if stage not in (1, 2):
        raise TrainingError(f"--stage must be 1 or 2, not {stage}")
    names = []
    for name, parameter in model.named_parameters():
        if name.startswith("luke.pooler."):
            train = False
        elif stage == 1:
            train = name.startswith(("luke.entity_embeddings.", "entity_predictions."))
        else:
            train = True
        parameter.requires_grad_(train)
        if train:
            names.append(name)
    return names


def init_word_side(model: LukeForMaskedLM, source: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Copies a RoBERTa/XLM-R/BERT masked-LM state dict into the word side of a LUKE model.

    Besides the same-named weights: every layer's entity-aware queries (word-to-entity,
    entity-to-word, entity-to-entity) start as the word query, and the entity position and type
    embeddings start as the word ones (entity positions count from 0, word positions from
    padding index + 1, so the table is shifted accordingly), as the luke reference does.
    """
    target = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        for prefix in ("roberta.", "xlm_roberta.", "bert.", "model.", "luke."):
            if key.startswith(prefix):
                key = "luke." + key[len(prefix) :]
                break
        mapped[key] = value
    copied: list[str] = []
    skipped: list[str] = []
    new_state: dict[str, torch.Tensor] = {}
    for key, value in mapped.items():
        if key in target and target[key].shape == value.shape:
            new_state[key] = value
            copied.append(key)
        else:
            skipped.append(key)
    config = model.config
    for layer in range(config.num_hidden_layers):
        base = f"luke.encoder.layer.{layer}.attention.self."
        for kind in ("weight", "bias"):
            query = new_state.get(f"{base}query.{kind}")
            if query is not None:
                for extra in ("w2e_query", "e2w_query", "e2e_query"):
                    if f"{base}{extra}.{kind}" in target:
                        new_state[f"{base}{extra}.{kind}"] = query.clone()
    word_positions = new_state.get("luke.embeddings.position_embeddings.weight")
    entity_positions = target["luke.entity_embeddings.position_embeddings.weight"]
    if word_positions is not None:
        shift = config.pad_token_id + 1
        rows = min(entity_positions.shape[0], word_positions.shape[0] - shift)
        table = entity_positions.clone()
        table[:rows] = word_positions[shift : shift + rows]
        new_state["luke.entity_embeddings.position_embeddings.weight"] = table
    word_types = new_state.get("luke.embeddings.token_type_embeddings.weight")
    if word_types is not None:
        key = "luke.entity_embeddings.token_type_embeddings.weight"
        if target[key].shape == word_types.shape:
            new_state[key] = word_types.clone()
    if "luke.embeddings.word_embeddings.weight" not in new_state:
        raise TrainingError(
            "the --init checkpoint has no word embeddings of the right shape "
            f"({tuple(target['luke.embeddings.word_embeddings.weight'].shape)}): "
            "its vocabulary or hidden size differs from this model's"
        )
    lm_bias = mapped.get("lm_head.bias")
    if lm_bias is not None and lm_bias.shape == target["lm_head.decoder.bias"].shape:
        new_state["lm_head.decoder.bias"] = lm_bias
    model.load_state_dict(new_state, strict=False)
    model.tie_weights()
    return {"copied": copied, "skipped": skipped}


def hf_architecture(config_path: Path) -> dict[str, Any]:
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {config_path}: {error}") from None


class PretrainingModel(nn.Module):
    """Computes the summed losses on the masked positions only.

    The vocabulary projections (250k words, 1.2M entities in mLUKE) run on the prediction targets
    instead of every position, which saves most of the memory of a full-logits forward. Wrapping
    this module (not the bare model) in DistributedDataParallel keeps gradient synchronisation
    working. ``forward`` returns sums, not means, so that the caller normalises by the number of
    targets in the global batch.
    """

    def __init__(self, model: LukeForMaskedLM) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        entity_ids: torch.Tensor,
        entity_attention_mask: torch.Tensor,
        entity_position_ids: torch.Tensor,
        entity_labels: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        outputs = self.model.luke(
            input_ids=input_ids,
            attention_mask=attention_mask,
            entity_ids=entity_ids,
            entity_attention_mask=entity_attention_mask,
            entity_position_ids=entity_position_ids,
            return_dict=True,
        )
        mlm = _masked_head_loss(self.model.lm_head, outputs.last_hidden_state, labels)
        entity = _masked_head_loss(
            self.model.entity_predictions, outputs.entity_last_hidden_state, entity_labels
        )
        return {
            "mlm_sum": mlm[0],
            "mlm_correct": mlm[1],
            "entity_sum": entity[0],
            "entity_correct": entity[1],
        }


def _masked_head_loss(
    head: nn.Module, hidden: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    selected = labels.reshape(-1) >= 0
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    if bool(selected.any()):
        logits = head(flat_hidden[selected]).float()
        targets = labels.reshape(-1)[selected]
        loss = nn.functional.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.argmax(dim=-1) == targets).sum()
        return loss, correct
    # No target in this micro-batch: still run the head on one row with weight 0, so that every
    # trainable parameter takes part in the graph (DistributedDataParallel expects it).
    logits = head(flat_hidden[:1]).float()
    return logits.sum() * 0.0, torch.zeros((), dtype=torch.long, device=hidden.device)
