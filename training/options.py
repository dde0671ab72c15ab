"""The settings of `mluke-train pretrain` and `finetune qa`: each default is defined here once.

training/cli.py takes its option defaults from these dataclasses; the trainers take them as their
input. No torch import here, so that `mluke-train --help` stays fast.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from schemas.tokens import MAX_MENTION_LENGTH

ENTITY_MODES = ("none", "mentions")

# Options that define the trajectory of a run: a resumed run must use the same values.
RUN_DEFINING = (
    "langs",
    "stage",
    "total_steps",
    "batch_size",
    "micro_batch_size",
    "learning_rate",
    "warmup_steps",
    "weight_decay",
    "adam_betas",
    "adam_eps",
    "max_grad_norm",
    "seed",
    "sampling_smoothing",
    "shuffle_buffer",
    "block_rows",
    "word_mask_prob",
    "entity_mask_prob",
    "whole_word_masking",
    "mask_words_in_entity_spans",
    "entity_aware_attention",
)


@dataclass
class PretrainOptions:
    data: list[str]
    output: str
    langs: list[str] | None = None
    tokenizer: str | None = None
    entity_vocab: str | None = None
    preset: str = "base"
    config: str | None = None
    init: str | None = None
    init_partial: bool = False
    entity_aware_attention: bool = False
    resume: bool = False
    stage: int = 2
    max_steps: int | None = None
    epochs: float | None = None
    batch_size: int | None = None
    micro_batch_size: int | None = None
    learning_rate: float | None = None
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-6
    max_grad_norm: float = 1.0
    seed: int = 42
    sampling_smoothing: float = 0.7
    shuffle_buffer: int = 16384
    block_rows: int = 256
    word_mask_prob: float = 0.15
    entity_mask_prob: float = 0.15
    whole_word_masking: bool = False
    mask_words_in_entity_spans: bool = False
    num_workers: int | None = None  # None: 2 on CUDA, 0 (inline) on CPU
    cpu_threads: int | None = None
    compile: bool = False
    log_every: int = 10
    save_every: int = 1000
    keep_last: int = 3
    precision: str = "auto"
    device: str | None = None
    verify_checksums: bool = False
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    total_steps: int = 0  # resolved
    extra: dict[str, Any] = field(default_factory=dict)


# Options that define a run's trajectory: a resumed run must keep them.
FINETUNE_RUN_DEFINING = (
    "train",
    "train_lang",
    "entities",
    "min_commonness",
    "min_mention_count",
    "min_link_prob",
    "max_seq_length",
    "doc_stride",
    "max_query_length",
    "max_entity_length",
    "max_mention_length",
    "total_steps",
    "batch_size",
    "learning_rate",
    "warmup_steps",
    "weight_decay",
    "adam_eps",
    "max_grad_norm",
    "seed",
)


@dataclass
class EvalSet:
    name: str
    path: str
    lang: str


@dataclass
class FinetuneOptions:
    model: str
    output: str
    train: list[str] = field(default_factory=list)
    train_lang: str | None = None  # for every --train file; None: from each file's name, else en
    eval: list[EvalSet] = field(default_factory=list)
    entities: str = "none"
    mention_dict: str | None = None
    min_commonness: float = 0.3
    min_mention_count: int = 2
    min_link_prob: float = 0.01
    max_seq_length: int | None = None  # None: 384, or fewer if the model has fewer positions
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best: int = 20
    max_entity_length: int = 64
    max_mention_length: int = MAX_MENTION_LENGTH
    epochs: float = 2.0
    max_steps: int | None = None
    batch_size: int = 32
    micro_batch_size: int | None = None
    eval_batch_size: int = 64
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None
    weight_decay: float = 0.01
    adam_eps: float = 1e-6
    max_grad_norm: float = 1.0
    seed: int = 42
    log_every: int = 10
    save_every: int = 1000
    keep_last: int = 1
    resume: bool = False
    precision: str = "auto"
    device: str | None = None
    metric: str = "auto"
    progress: bool | None = None
    total_steps: int = 0  # resolved


def default(options: type, name: str) -> Any:
    """The default of a settings field (for click options)."""
    for item in fields(options):
        if item.name == name:
            if item.default is not MISSING:
                return item.default
            if item.default_factory is not MISSING:
                return item.default_factory()
    raise KeyError(name)
