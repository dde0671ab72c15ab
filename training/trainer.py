"""`mluke-train pretrain`: the training loop (single process, or DDP under torchrun).

Loss normalisation: each micro-batch returns summed cross-entropies; they are divided by the number
of prediction targets in the whole global batch (summed over micro-batches and ranks before the
backward passes) and multiplied by the world size to undo DDP's gradient averaging. The update is
therefore the same for any split of the global batch into ranks and accumulation steps.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import LukeConfig, LukeForMaskedLM

from schemas.vocab import ENTITY_VOCAB_HF_JSON, ENTITY_VOCAB_JSONL, VOCAB_DIR

from .checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from .data import ExampleStream, StreamConfig, torch_loader
from .errors import TrainingError
from .masking import Masker, MaskingConfig
from .model import (
    PRESETS,
    PretrainingModel,
    build_config,
    hf_architecture,
    init_word_side,
    new_model,
    trainable_parameters,
)
from .shards import ShardSet, open_shard_set
from .vocab import SENTENCEPIECE_FILE, TOKENIZER_DIR, load_entity_vocab, load_word_vocab, sha256_file

METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
TENSORBOARD_DIR = "tensorboard"
KILL_AFTER_STEP_ENV = "MLUKE_TRAIN_KILL_AFTER_STEP"

# Options that define the trajectory of a run: a resumed run must use the same values.
RUN_DEFINING = (
    "langs",
    "stage",
    "total_steps",
    "batch_size",
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
)


class NonFiniteLossError(TrainingError):
    exit_code = 3


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
    num_workers: int = 2
    log_every: int = 10
    save_every: int = 1000
    keep_last: int = 3
    precision: str = "auto"
    device: str | None = None
    verify_checksums: bool = False
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    total_steps: int = 0  # resolved
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_kind: str) -> Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def choose_device(requested: str | None, local_rank: int) -> torch.device:
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def autocast_context(device: torch.device, precision: str):
    """bf16 autocast on CUDA (``auto`` or ``bf16``), full fp32 elsewhere."""
    if precision not in ("auto", "bf16", "fp32"):
        raise TrainingError(f"--precision must be auto, bf16 or fp32, not {precision}")
    if device.type == "cuda" and precision in ("auto", "bf16"):
        if not torch.cuda.is_bf16_supported():
            if precision == "bf16":
                raise TrainingError("this GPU does not support bf16")
            return contextlib.nullcontext, "fp32"
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), "bf16"
    if precision == "bf16":
        raise TrainingError("--precision bf16 needs a CUDA device; CPU training runs in fp32")
    return contextlib.nullcontext, "fp32"


def linear_schedule(warmup: int, total: int):
    """Linear warmup to the peak learning rate over ``warmup`` steps, then linear decay to 0."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def parameter_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) random states, for exact resume."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def gather_objects(value: Any, distributed: Distributed) -> list[Any]:
    """``value`` from every rank (just ``[value]`` without torch.distributed)."""
    if not distributed.enabled:
        return [value]
    gathered: list[Any] = [None] * distributed.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def _is_luke_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and hf_architecture(path / "config.json").get(
        "model_type"
    ) == "luke"


def resolve_paths(options: PretrainOptions, shard_set: ShardSet) -> tuple[Path, Path]:
    """The tokenizer and entity vocabulary, checked against the shards' sha256."""
    work_dir = shard_set.work_dirs[0]
    tokenizer = Path(options.tokenizer) if options.tokenizer else work_dir / TOKENIZER_DIR
    word_vocab = load_word_vocab(tokenizer)
    if sha256_file(word_vocab.path) != shard_set.tokenizer_sha256:
        raise TrainingError(
            f"tokenizer {word_vocab.path} is not the one the shards were built with "
            f"(sha256 differs from metadata.json's tokenizer_sha256 {shard_set.tokenizer_sha256[:12]}…)"
        )
    if word_vocab.size != shard_set.word_vocab_size:
        raise TrainingError(
            f"tokenizer {word_vocab.path} gives {word_vocab.size} word ids, the shards say {shard_set.word_vocab_size}"
        )
    entity_path = (
        Path(options.entity_vocab) if options.entity_vocab else work_dir / VOCAB_DIR / ENTITY_VOCAB_JSONL
    )
    if entity_path.is_dir():
        entity_path = entity_path / ENTITY_VOCAB_JSONL
    if not entity_path.is_file():
        raise TrainingError(f"entity vocabulary {entity_path} does not exist (give --entity-vocab)")
    if sha256_file(entity_path) != shard_set.entity_vocab_sha256:
        raise TrainingError(
            f"entity vocabulary {entity_path} is not the one the shards were built with "
            f"(sha256 differs from metadata.json's entity_vocab_sha256 {shard_set.entity_vocab_sha256[:12]}…)"
        )
    entity_vocab = load_entity_vocab(entity_path)
    if entity_vocab.size != shard_set.entity_vocab_size:
        raise TrainingError(
            f"{entity_path} has {entity_vocab.size} entities, the shards say {shard_set.entity_vocab_size}"
        )
    return word_vocab.path, entity_path


def resolve_options(options: PretrainOptions, shard_set: ShardSet, world_size: int) -> PretrainOptions:
    """Fills preset defaults and the total step count; checks batch arithmetic."""
    resolved = PretrainOptions(**asdict(options))
    preset = PRESETS.get(resolved.preset)
    if preset is None:
        raise TrainingError(f"unknown preset {resolved.preset!r}; choose one of {', '.join(PRESETS)}")
    if resolved.stage not in (1, 2):
        raise TrainingError(f"--stage must be 1 or 2, not {resolved.stage}")
    resolved.batch_size = resolved.batch_size or preset.batch_size
    resolved.micro_batch_size = resolved.micro_batch_size or min(
        preset.micro_batch_size, resolved.batch_size // world_size or 1
    )
    resolved.learning_rate = resolved.learning_rate or preset.learning_rate[resolved.stage]
    resolved.warmup_steps = preset.warmup_steps if resolved.warmup_steps is None else resolved.warmup_steps
    resolved.langs = shard_set.langs
    if resolved.batch_size % (resolved.micro_batch_size * world_size):
        raise TrainingError(
            f"--batch-size {resolved.batch_size} is not a multiple of --micro-batch-size "
            f"{resolved.micro_batch_size} x {world_size} process(es)"
        )
    if resolved.max_steps:
        resolved.total_steps = resolved.max_steps
    elif resolved.epochs:
        examples = int(shard_set.sizes().sum())
        resolved.total_steps = math.ceil(examples / resolved.batch_size * resolved.epochs)
    else:
        raise TrainingError("give --max-steps or --epochs")
    if resolved.total_steps <= 0:
        raise TrainingError("the run has no steps")
    for name in ("log_every", "save_every"):
        if getattr(resolved, name) <= 0:
            raise TrainingError(f"--{name.replace('_', '-')} must be positive")
    return resolved


def _load_init(init: str) -> tuple[LukeConfig | None, dict[str, torch.Tensor], str]:
    """(config, state dict, kind) of an --init source: our checkpoint/run, a LUKE dir, or a word model."""
    path = Path(init)
    if path.is_file() or (path.is_dir() and list_checkpoints(path)):
        state = load_checkpoint(resolve_checkpoint(path))
        return LukeConfig(**state["model_config"]), state["model"], "luke"
    if not (path / "config.json").is_file():
        raise TrainingError(f"--init {init}: neither a checkpoint, a run directory nor a Hugging Face model")
    if _is_luke_dir(path):
        model = LukeForMaskedLM.from_pretrained(path)
        return model.config, model.state_dict(), "luke"
    from transformers import AutoModelForMaskedLM

    try:
        word_model = AutoModelForMaskedLM.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise TrainingError(f"--init {init}: cannot load it as a masked language model: {error}") from None
    return None, word_model.state_dict(), "word"


def _architecture_from(path: Path) -> dict[str, Any]:
    source = hf_architecture(path / "config.json")
    keys = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "layer_norm_eps",
        "max_position_embeddings",
        "type_vocab_size",
    )
    return {key: source[key] for key in keys if key in source}


class MetricsLog:
    """metrics.jsonl (one object per logged step) and TensorBoard events; main rank only."""

    def __init__(self, run_dir: Path, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.path = run_dir / METRICS_FILE
        self.writer = None
        if not enabled:
            return
        # A resumed run rewrites what the interrupted one logged after its checkpoint.
        kept: list[str] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip() and json.loads(line).get("step", 0) <= start_step:
                    kept.append(line)
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=start_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.handle.flush()
        assert self.writer is not None
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.enabled:
            self.handle.close()
            assert self.writer is not None
            self.writer.close()


class Progress:
    """A rich progress bar on a terminal, one line per logged step otherwise."""

    def __init__(self, total: int, start: int, enabled: bool, bar: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.bar = None
        if enabled and bar:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("[bold]pretrain"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("pretrain", total=total, completed=start, status="")

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        status = None
        if record is not None:
            status = (
                f"loss {record['loss']:.3f} mlm {record['mlm_loss']:.2f}/{record['mlm_acc']:.0%} "
                f"ent {record['entity_loss']:.2f}/{record['entity_acc']:.0%} {record['tokens_per_s']:,.0f} tok/s"
            )
        if self.bar is not None:
            fields = {"status": status} if status else {}
            self.bar.update(self.task, completed=step, **fields)
        elif status:
            print(f"step {step}/{self.total}: {status} lr {record['lr']:.3g}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _copy_vocab_files(run_dir: Path, tokenizer: Path, entity_vocab: Path) -> None:
    """The run keeps the tokenizer and entity vocab it trained with, so that export is self-contained."""
    target = run_dir / TOKENIZER_DIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer, target / SENTENCEPIECE_FILE)
    shutil.copyfile(entity_vocab, target / ENTITY_VOCAB_JSONL)
    (target / ENTITY_VOCAB_HF_JSON).write_text(load_entity_vocab(entity_vocab).hf_json(), encoding="utf-8")


def pretrain(options: PretrainOptions) -> dict[str, Any]:
    """Runs (or resumes) a pretraining run; returns the summary also written to summary.json."""
    wanted = torch.device(options.device) if options.device else None
    distributed = setup_distributed(
        "cuda"
        if (wanted is None and torch.cuda.is_available()) or (wanted and wanted.type == "cuda")
        else "cpu"
    )
    try:
        return _pretrain(options, distributed)
    finally:
        if distributed.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _pretrain(options: PretrainOptions, distributed: Distributed) -> dict[str, Any]:
    device = choose_device(options.device, distributed.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast, precision = autocast_context(device, options.precision)

    shard_set = open_shard_set(options.data, options.langs, options.verify_checksums)
    tokenizer_path, entity_vocab_path = resolve_paths(options, shard_set)
    opts = resolve_options(options, shard_set, distributed.world_size)
    run_dir = Path(opts.output)
    max_seq_length = int(shard_set.settings["max_seq_length"])

    resume_state: dict[str, Any] | None = None
    existing = latest_checkpoint(run_dir)
    if existing is not None and not opts.resume:
        raise TrainingError(
            f"{run_dir} already holds checkpoints: add --resume to continue it, or pick a new --output"
        )
    if opts.resume and existing is not None:
        resume_state = load_checkpoint(existing)
        _check_resume(resume_state, opts, shard_set, existing)

    # Model: the checkpoint's config on resume, the init model's for a LUKE init, else preset/file.
    init_state: dict[str, torch.Tensor] | None = None
    init_kind = None
    if resume_state is not None:
        config = LukeConfig(**resume_state["model_config"])
    elif opts.init:
        init_config, init_state, init_kind = _load_init(opts.init)
        if init_kind == "luke":
            assert init_config is not None
            config = init_config
        else:
            arch = _architecture_from(Path(opts.init))
            config = build_config(
                opts.preset,
                opts.config,
                shard_set.word_vocab_size,
                shard_set.entity_vocab_size,
                max_seq_length,
            )
            config = LukeConfig(**{**config.to_dict(), **arch})
    else:
        config = build_config(
            opts.preset, opts.config, shard_set.word_vocab_size, shard_set.entity_vocab_size, max_seq_length
        )
    if config.max_position_embeddings < max_seq_length + config.pad_token_id + 1:
        raise TrainingError(
            f"the model has {config.max_position_embeddings} positions, too few for the shards' "
            f"sequences of {max_seq_length} tokens"
        )
    if (config.vocab_size, config.entity_vocab_size) != (
        shard_set.word_vocab_size,
        shard_set.entity_vocab_size,
    ):
        raise TrainingError(
            f"the model has {config.vocab_size} word and {config.entity_vocab_size} entity ids, the shards "
            f"{shard_set.word_vocab_size} and {shard_set.entity_vocab_size}"
        )

    model = new_model(config, opts.seed)
    init_report: dict[str, Any] = {}
    if init_state is not None:
        if init_kind == "luke":
            missing, unexpected = model.load_state_dict(init_state, strict=False)
            model.tie_weights()
            init_report = {"kind": "luke", "missing": list(missing), "unexpected": list(unexpected)}
        else:
            copied = init_word_side(model, init_state)
            init_report = {"kind": "word", "copied": len(copied["copied"]), "skipped": copied["skipped"]}
    trainable = trainable_parameters(model, opts.stage)
    model.to(device)

    optimizer = torch.optim.AdamW(
        parameter_groups(model, opts.weight_decay),
        lr=opts.learning_rate,
        betas=tuple(opts.adam_betas),
        eps=opts.adam_eps,
        **({"fused": True} if device.type == "cuda" else {}),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(opts.warmup_steps, opts.total_steps)
    )

    word_vocab = load_word_vocab(tokenizer_path)
    masker = Masker(
        MaskingConfig(
            word_mask_prob=opts.word_mask_prob,
            entity_mask_prob=opts.entity_mask_prob,
            whole_word_masking=opts.whole_word_masking,
            mask_words_in_entity_spans=opts.mask_words_in_entity_spans,
            max_mention_length=int(shard_set.settings["max_mention_length"]),
        ),
        mask_id=word_vocab.mask_id,
        word_vocab_size=word_vocab.size,
        word_start_table=word_vocab.word_start_table() if opts.whole_word_masking else None,
    )
    stream = ExampleStream(
        [language.files for language in shard_set.languages],
        shard_set.sizes(),
        StreamConfig(
            seed=opts.seed * 10 + opts.stage,  # stage 2 does not replay stage 1's order
            global_batch_size=opts.batch_size,
            micro_batch_size=opts.micro_batch_size,
            world_size=distributed.world_size,
            rank=distributed.rank,
            sampling_smoothing=opts.sampling_smoothing,
            shuffle_buffer=opts.shuffle_buffer,
            block_rows=opts.block_rows,
        ),
        masker,
    )

    start_step = 0
    counts = np.zeros(len(shard_set.languages), dtype=np.int64)
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        model.tie_weights()
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start_step = int(resume_state["step"])
        counts = np.array(resume_state["data"]["counts"], dtype=np.int64)
        rng_states = resume_state["rng"]
        if len(rng_states) == distributed.world_size:
            set_rng_state(rng_states[distributed.rank])
        else:  # a different number of processes: the data order stays exact, dropout does not
            torch.manual_seed(opts.seed * 7919 + distributed.rank + start_step)
    else:
        torch.manual_seed(opts.seed * 7919 + distributed.rank)
        random.seed(opts.seed + distributed.rank)
        np.random.seed(opts.seed + distributed.rank)

    if distributed.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _copy_vocab_files(run_dir, tokenizer_path, entity_vocab_path)
        run_record = {
            "options": _jsonable(asdict(opts)),
            "model_config": config.to_dict(),
            "precision": precision,
            "world_size": distributed.world_size,
            "data": shard_set.fingerprint(),
            "sampling_probabilities": [float(p) for p in stream.probabilities],
            "init": init_report,
            "trainable_parameters": sum(
                p.numel() for n, p in model.named_parameters() if n in set(trainable)
            ),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        (run_dir / RUN_FILE).write_text(
            json.dumps(run_record, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    if distributed.enabled:
        dist.barrier()

    module: torch.nn.Module = PretrainingModel(model)
    if distributed.enabled:
        module = torch.nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    params = [p for p in model.parameters() if p.requires_grad]

    log = MetricsLog(run_dir, start_step, distributed.main)
    is_terminal = sys.stderr.isatty()
    progress = Progress(
        opts.total_steps,
        start_step,
        distributed.main and (opts.progress is not False),
        bar=is_terminal if opts.progress is None else bool(opts.progress and is_terminal),
    )
    loader = torch_loader(
        stream, start_step, counts, opts.total_steps, opts.num_workers, pin_memory=device.type == "cuda"
    )
    batches = iter(loader)
    accumulation = opts.batch_size // (opts.micro_batch_size * distributed.world_size)
    last_log_time = time.perf_counter()
    tokens_since_log = 0
    record: dict[str, Any] | None = None
    step = start_step
    # Fault injection for the resumption tests: die without any cleanup right after this step.
    kill_after = int(os.environ.get(KILL_AFTER_STEP_ENV, "0")) or None
    try:
        while step < opts.total_steps:
            micro_batches = [next(batches) for _ in range(accumulation)]
            for position, micro in enumerate(micro_batches):
                if int(micro["step"]) != step or int(micro["micro"]) != position:
                    raise RuntimeError(f"data order broken: got step {int(micro['step'])}, expected {step}")
            targets = torch.tensor(
                [
                    sum(int((m["labels"] >= 0).sum()) for m in micro_batches),
                    sum(int((m["entity_labels"] >= 0).sum()) for m in micro_batches),
                ],
                dtype=torch.float64,
                device=device,
            )
            if distributed.enabled:
                dist.all_reduce(targets)
            word_targets = max(1.0, float(targets[0]))
            entity_targets = max(1.0, float(targets[1]))
            stats = torch.zeros(5, dtype=torch.float64, device=device)
            model.train()
            for index, micro in enumerate(micro_batches):
                inputs = {
                    name: micro[name].to(device, non_blocking=True)
                    for name in (
                        "input_ids",
                        "attention_mask",
                        "labels",
                        "entity_ids",
                        "entity_attention_mask",
                        "entity_position_ids",
                        "entity_labels",
                    )
                }
                sync = index == len(micro_batches) - 1 or not distributed.enabled
                context = contextlib.nullcontext() if sync else module.no_sync()  # type: ignore[operator]
                with context:
                    with autocast():
                        out = module(**inputs)
                    loss = (
                        out["mlm_sum"] / word_targets + out["entity_sum"] / entity_targets
                    ) * distributed.world_size
                    loss.backward()
                stats += torch.stack(
                    [
                        out["mlm_sum"].detach().double(),
                        out["entity_sum"].detach().double(),
                        out["mlm_correct"].double(),
                        out["entity_correct"].double(),
                        micro["tokens"].to(device).double(),
                    ]
                )
            if distributed.enabled:
                dist.all_reduce(stats)
            mlm_loss = float(stats[0]) / word_targets
            entity_loss = float(stats[1]) / entity_targets
            total_loss = mlm_loss + entity_loss
            if not math.isfinite(total_loss):
                _stop_non_finite(run_dir, step + 1, f"loss is {total_loss}")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, opts.max_grad_norm))
            if not math.isfinite(grad_norm):
                _stop_non_finite(run_dir, step + 1, f"gradient norm is {grad_norm}")
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            counts = counts + np.bincount(
                stream.sampler.languages(step * opts.batch_size, opts.batch_size), minlength=len(counts)
            )
            step += 1
            tokens_since_log += int(stats[4])

            record = None
            if step % opts.log_every == 0 or step == opts.total_steps:
                now = time.perf_counter()
                record = {
                    "step": step,
                    "loss": total_loss,
                    "mlm_loss": mlm_loss,
                    "entity_loss": entity_loss,
                    "mlm_acc": float(stats[2]) / word_targets,
                    "entity_acc": float(stats[3]) / entity_targets,
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "tokens_per_s": tokens_since_log / max(now - last_log_time, 1e-9),
                    "examples": step * opts.batch_size,
                }
                if device.type == "cuda":
                    record["max_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
                log.write(record)
                last_log_time = now
                tokens_since_log = 0
            progress.update(step, record)
            if step % opts.save_every == 0 or step == opts.total_steps:
                _save(
                    run_dir, step, model, optimizer, scheduler, counts, config, opts, shard_set, distributed
                )
            if kill_after == step:
                os.kill(os.getpid(), signal.SIGKILL)
    finally:
        progress.close()
        log.close()
        stream.close()

    digests = gather_objects(parameter_digest(model), distributed)
    summary = {
        "step": step,
        "final": record,
        "parameter_digests": digests,
        "ranks_identical": len(set(digests)) == 1,
        "precision": precision,
        "device": str(device),
        "world_size": distributed.world_size,
    }
    if distributed.main:
        (run_dir / SUMMARY_FILE).write_text(
            json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    if not summary["ranks_identical"]:
        raise RuntimeError(f"ranks ended with different weights: {digests}")
    return summary


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _check_resume(state: dict[str, Any], opts: PretrainOptions, shard_set: ShardSet, path: Path) -> None:
    if state["data"]["fingerprint"] != shard_set.fingerprint():
        raise TrainingError(f"{path} was trained on other data (languages, rows, tokenizer or vocab differ)")
    saved = state["options"]
    current = _jsonable(asdict(opts))
    changed = [name for name in RUN_DEFINING if saved.get(name) != current.get(name)]
    if changed:
        details = ", ".join(f"{name} {saved.get(name)!r} -> {current.get(name)!r}" for name in changed)
        raise TrainingError(f"cannot resume {path} exactly with different settings: {details}")


def _save(
    run_dir: Path,
    step: int,
    model: LukeForMaskedLM,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    counts: np.ndarray,
    config: LukeConfig,
    opts: PretrainOptions,
    shard_set: ShardSet,
    distributed: Distributed,
) -> None:
    rng_states = gather_objects(rng_state(), distributed)
    if distributed.main:
        state = {
            "stage": opts.stage,
            "model_config": config.to_dict(),
            "model": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_states,
            "data": {
                "step": step,
                "counts": [int(c) for c in counts],
                "fingerprint": shard_set.fingerprint(),
                "settings": shard_set.settings,
            },
            "options": _jsonable(asdict(opts)),
        }
        save_checkpoint(run_dir, step, state, opts.keep_last)
    if distributed.enabled:
        dist.barrier()


def _stop_non_finite(run_dir: Path, step: int, what: str) -> None:
    latest = latest_checkpoint(run_dir)
    kept = f"the last good checkpoint is {latest}" if latest else "no checkpoint was written before it"
    raise NonFiniteLossError(f"{what} at step {step}: training stopped before applying it; {kept}")


def load_trained_model(path: str | Path) -> tuple[LukeForMaskedLM, dict[str, Any], Path]:
    """The model of a checkpoint (or of a run directory's latest one), in eval mode."""
    checkpoint = resolve_checkpoint(path)
    state = load_checkpoint(checkpoint)
    model = LukeForMaskedLM(LukeConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.tie_weights()
    model.eval()
    return model, state, checkpoint
