"""The pretraining model: mLUKE's LukeForMaskedLM, its presets, ties, attention and training stages.

mLUKE as published (luke/pretraining/model.py, luke/model.py) differs from what a bare
``LukeForMaskedLM(config)`` of transformers 5 gives in three ways, all restored here:

- the masked-LM decoder is the word embedding matrix (tied; 5.x only ties the entity decoder
  and the LM bias), so mLUKE-base has 588M parameters, not 780M (``parameter_count``);
- pretraining uses plain self-attention over the concatenated word and entity sequence (luke's
  BertLayer); the entity-aware queries exist only for fine-tuning and start as copies of the word
  query (``copy_entity_aware_queries``). ``--entity-aware-attention`` opts in;
- with plain attention the layer runs through ``torch.nn.functional.scaled_dot_product_attention``
  (``FusedLukeSelfAttention``: flash / memory-efficient kernels, no L x L score matrix kept).

``tie_decoders`` must follow every load of weights; ``check_tied`` proves it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import LukeConfig, LukeForMaskedLM
from transformers.models.luke.modeling_luke import LukeSelfAttention

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
    "use_entity_aware_attention": False,
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

# What an --init directory's config may set: the encoder's shape (vocabulary sizes come from the
# shards, attention from the flag).
ARCHITECTURE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "layer_norm_eps",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "entity_emb_size",
)


def positions_needed(max_seq_length: int) -> int:
    # Positions start after the padding index (RoBERTa style): 512 tokens need 514 positions.
    return max_seq_length + PAD_ID + 1


def build_config(
    preset: str | None,
    config_file: str | Path | None,
    word_vocab_size: int,
    entity_vocab_size: int,
    max_seq_length: int,
    entity_aware_attention: bool = False,
    architecture: dict[str, Any] | None = None,
) -> LukeConfig:
    """A LukeConfig from a preset, a JSON file and/or an --init model's architecture, sized for the
    data's vocabularies (later sources win)."""
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise TrainingError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset].model)
        values["max_position_embeddings"] = positions_needed(max_seq_length)
    if config_file is not None:
        try:
            loaded = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TrainingError(f"cannot read model config {config_file}: {error}") from None
        loaded.pop("model_type", None)
        values.update(loaded)
    if architecture:
        values.update({key: architecture[key] for key in ARCHITECTURE_KEYS if key in architecture})
    values.setdefault("max_position_embeddings", positions_needed(max_seq_length))
    if values["max_position_embeddings"] < positions_needed(max_seq_length):
        raise TrainingError(
            f"max_position_embeddings {values['max_position_embeddings']} is too small for sequences of "
            f"{max_seq_length} tokens (needs {positions_needed(max_seq_length)})"
        )
    values.update(
        vocab_size=word_vocab_size,
        entity_vocab_size=entity_vocab_size,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        use_entity_aware_attention=entity_aware_attention,
        tie_word_embeddings=True,
    )
    return LukeConfig(**values)


class FusedLukeSelfAttention(LukeSelfAttention):
    """Plain self-attention over words + entities through torch's fused SDPA kernels.

    The same parameters and the same function as ``LukeSelfAttention`` without entity-aware
    queries; attention dropout is applied inside the kernel.
    """

    def forward(
        self,
        word_hidden_states: torch.Tensor,
        entity_hidden_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if output_attentions:
            raise ValueError("the fused attention does not return attention probabilities")
        word_size = word_hidden_states.size(1)
        hidden = (
            word_hidden_states
            if entity_hidden_states is None
            else torch.cat([word_hidden_states, entity_hidden_states], dim=1)
        )
        query = self.transpose_for_scores(self.query(hidden))
        key = self.transpose_for_scores(self.key(hidden))
        value = self.transpose_for_scores(self.value(hidden))
        if attention_mask is not None and attention_mask.dtype != torch.bool:
            attention_mask = attention_mask.to(query.dtype)
        context = nn.functional.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            dropout_p=self.dropout.p if self.training else 0.0,
            scale=1.0 / math.sqrt(self.attention_head_size),
        )
        context = context.transpose(1, 2).reshape(hidden.shape[0], hidden.shape[1], self.all_head_size)
        entity_out = None if entity_hidden_states is None else context[:, word_size:]
        return context[:, :word_size], entity_out


def use_fused_attention(model: LukeForMaskedLM) -> bool:
    """Swaps every layer's attention to the fused kernel when the model uses plain attention."""
    if model.config.use_entity_aware_attention:
        return False
    for layer in model.luke.encoder.layer:
        layer.attention.self.__class__ = FusedLukeSelfAttention
    return True


def tie_decoders(model: LukeForMaskedLM) -> None:
    """The word decoder is the word embedding matrix, the entity decoder the entity embeddings,
    the LM bias the decoder bias (mLUKE's ties; call after every load of weights)."""
    model.lm_head.decoder.weight = model.luke.embeddings.word_embeddings.weight
    model.entity_predictions.decoder.weight = model.luke.entity_embeddings.entity_embeddings.weight
    model.lm_head.decoder.bias = model.lm_head.bias


def check_tied(model: LukeForMaskedLM) -> None:
    pairs = (
        (model.lm_head.decoder.weight, model.luke.embeddings.word_embeddings.weight),
        (model.entity_predictions.decoder.weight, model.luke.entity_embeddings.entity_embeddings.weight),
        (model.lm_head.decoder.bias, model.lm_head.bias),
    )
    if any(a is not b for a, b in pairs):
        raise RuntimeError("the decoders are not tied to the embeddings")


TIED_KEYS = ("lm_head.decoder.weight", "lm_head.decoder.bias", "entity_predictions.decoder.weight")


def load_weights(model: LukeForMaskedLM, state: dict[str, torch.Tensor]) -> None:
    """Loads a state dict of ours; the decoders come from the embeddings they are tied to (a
    checkpoint written before the decoders were tied holds a separate, ignored, decoder)."""
    kept = {key: value for key, value in state.items() if key not in TIED_KEYS}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    missing = [key for key in missing if key not in TIED_KEYS]
    if missing or unexpected:
        raise TrainingError(
            f"the checkpoint does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    tie_decoders(model)


def new_model(config: LukeConfig, seed: int) -> LukeForMaskedLM:
    """A freshly initialised mLUKE pretraining model (decoders tied, fused plain attention)."""
    torch.manual_seed(seed)
    model = LukeForMaskedLM(config)
    tie_decoders(model)
    use_fused_attention(model)
    model.train()
    return model


def parameter_count(config: LukeConfig) -> dict[str, int]:
    """Distinct parameters of the pretraining model, counted on the meta device (no memory)."""
    with torch.device("meta"):
        model = LukeForMaskedLM(config)
    tie_decoders(model)
    total = sum(p.numel() for p in model.parameters())
    entity = model.luke.entity_embeddings.entity_embeddings.weight.numel()
    words = model.luke.embeddings.word_embeddings.weight.numel()
    return {"total": total, "entity_embeddings": entity, "word_embeddings": words, "encoder": total - entity}


ENTITY_AWARE_QUERIES = ("w2e_query", "e2w_query", "e2e_query")


def copy_entity_aware_queries(state: dict[str, torch.Tensor], num_layers: int) -> list[str]:
    """Fills the entity-aware queries of every layer from the word query (luke's converter), in a
    state dict; returns the names it wrote."""
    written = []
    for layer in range(num_layers):
        base = f"luke.encoder.layer.{layer}.attention.self."
        for kind in ("weight", "bias"):
            query = state.get(f"{base}query.{kind}")
            if query is None:
                continue
            for extra in ENTITY_AWARE_QUERIES:
                name = f"{base}{extra}.{kind}"
                state[name] = query.clone()
                written.append(name)
    return written


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


class PretrainingModel(nn.Module):
    """Computes the summed losses on the prediction targets only.

    The loader hands over the flat positions of the targets and their labels (computed on the
    host), so the step has no boolean indexing and no data-dependent shape on the device: the
    vocabulary projections (250k words, 1.2M entities) run on the targets' rows alone. Wrapping
    this module (not the bare model) in DistributedDataParallel keeps gradient synchronisation
    working; a micro-batch without targets still runs both heads on zero rows, so every trainable
    parameter takes part in the graph. ``forward`` returns sums, not means: the caller scales the
    gradients by the number of targets in the global batch.
    """

    def __init__(self, model: LukeForMaskedLM) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        entity_ids: torch.Tensor,
        entity_attention_mask: torch.Tensor,
        entity_position_ids: torch.Tensor,
        word_target_index: torch.Tensor,
        word_target_ids: torch.Tensor,
        entity_target_index: torch.Tensor,
        entity_target_ids: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        outputs = self.model.luke(
            input_ids=input_ids,
            attention_mask=attention_mask,
            entity_ids=entity_ids,
            entity_attention_mask=entity_attention_mask,
            entity_position_ids=entity_position_ids,
            return_dict=True,
        )
        mlm_sum, mlm_correct = _head_loss(
            self.model.lm_head, outputs.last_hidden_state, word_target_index, word_target_ids
        )
        entity_sum, entity_correct = _head_loss(
            self.model.entity_predictions,
            outputs.entity_last_hidden_state,
            entity_target_index,
            entity_target_ids,
        )
        return {
            "mlm_sum": mlm_sum,
            "mlm_correct": mlm_correct,
            "entity_sum": entity_sum,
            "entity_correct": entity_correct,
        }


def _head_loss(
    head: nn.Module, hidden: torch.Tensor, index: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    rows = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
    logits = head(rows).float()
    loss = nn.functional.cross_entropy(logits, targets, reduction="sum")
    correct = (logits.argmax(dim=-1) == targets).sum()
    return loss, correct
