"""`mluke-train pretrain`: the pretraining loop (one process, or DDP under torchrun).

A run is: open the shards, build the model (preset, --init or a checkpoint to resume), make the
example stream, then repeat the train step and log / checkpoint. The pieces every run needs
(processes, device, optimizer, RNG, logs, progress) are in training/runtime.py.

Loss normalisation (as luke with DeepSpeed): each micro-batch's loss is its mean cross-entropy
over its own word targets plus its mean over its entity targets; the update uses the mean of these
over the micro-batches of the global batch (accumulation steps and ranks). The number of targets
of a micro-batch is known on the host (the loader lists the targets), so nothing in the step waits
for the device: micro-batches stream from the loader into forward/backward one at a time, and the
only synchronisations are at logged and checkpointed steps. For a given micro-batch size the
update does not depend on how the micro-batches are spread over ranks and accumulation steps.

A non-finite loss makes the gradient norm non-finite; the first step where that happened is kept
on the device and checked at every logged and checkpointed step, before anything is written: the
run stops naming the step, and the last checkpoint written is a good one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import LukeConfig, LukeForMaskedLM

from schemas.vocab import ENTITY_VOCAB_HF_JSON, ENTITY_VOCAB_JSONL, VOCAB_DIR

from . import runtime
from .checkpoint import latest_checkpoint, load_checkpoint, resolve_checkpoint, save_checkpoint
from .data import ExampleStream, StreamConfig, torch_loader
from .errors import TrainingError
from .init import apply_source, describe, read_source
from .masking import Masker, MaskingConfig
from .model import (
    PRESETS,
    PretrainingModel,
    build_config,
    check_tied,
    load_weights,
    new_model,
    parameter_count,
    trainable_parameters,
)
from .options import RUN_DEFINING, PretrainOptions
from .shards import ShardSet, open_shard_set
from .vocab import (
    SENTENCEPIECE_FILE,
    TOKENIZER_DIR,
    EntityVocab,
    WordVocab,
    load_entity_vocab,
    load_word_vocab,
    sha256_file,
)

RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
KILL_AFTER_STEP_ENV = "MLUKE_TRAIN_KILL_AFTER_STEP"
# Checkpoints written before the decoders were tied cannot be resumed (their decoder is a matrix
# of its own); they still serve as --init, which ignores decoder weights.
TIED_SINCE_FORMAT_VERSION = 2
MODEL_INPUTS = (
    "input_ids",
    "attention_mask",
    "entity_ids",
    "entity_attention_mask",
    "entity_position_ids",
    "word_target_index",
    "word_target_ids",
    "entity_target_index",
    "entity_target_ids",
)


class NonFiniteLossError(TrainingError):
    exit_code = 3


# ---------------------------------------------------------------------------------------------
# Setting a run up


def resolve_paths(options: PretrainOptions, shard_set: ShardSet) -> tuple[Path, Path]:
    """The tokenizer and entity vocabulary, checked against the shards' sha256."""
    work_dir = shard_set.work_dirs[0]
    tokenizer = Path(options.tokenizer) if options.tokenizer else work_dir / TOKENIZER_DIR
    word_vocab = load_word_vocab(tokenizer)
    if sha256_file(word_vocab.path) != shard_set.tokenizer_sha256:
        raise TrainingError(
            f"tokenizer {word_vocab.path} is not the one the shards were built with "
            f"(sha256 differs from the shard metadata's tokenizer_sha256 {shard_set.tokenizer_sha256[:12]}…)"
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
            f"(sha256 differs from the shard metadata's entity_vocab_sha256 {shard_set.entity_vocab_sha256[:12]}…)"
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


def find_resume_state(opts: PretrainOptions, run_dir: Path, shard_set: ShardSet) -> dict[str, Any] | None:
    existing = latest_checkpoint(run_dir)
    runtime.refuse_existing_run(run_dir, existing, opts.resume)
    if not opts.resume or existing is None:
        return None
    state = load_checkpoint(existing)
    if int(state.get("version", 1)) < TIED_SINCE_FORMAT_VERSION:
        raise TrainingError(
            f"{existing} was written before the decoders were tied to the embeddings and cannot be "
            f"resumed exactly; start a new run with --init {existing}"
        )
    if state["data"]["fingerprint"] != shard_set.fingerprint():
        raise TrainingError(
            f"{existing} was trained on other data (languages, rows, tokenizer or vocab differ)"
        )
    runtime.check_resume(state["options"], runtime.jsonable(asdict(opts)), RUN_DEFINING, existing)
    return state


def build_model(
    opts: PretrainOptions,
    shard_set: ShardSet,
    words: WordVocab,
    entities: EntityVocab,
    resume_state: dict[str, Any] | None,
) -> tuple[LukeForMaskedLM, LukeConfig, dict[str, Any]]:
    """The model of a resumed checkpoint, of --init (ids mapped), or fresh from the preset."""
    max_seq_length = int(shard_set.settings["max_seq_length"])
    if resume_state is not None:
        config = LukeConfig(**resume_state["model_config"])
        model = new_model(config, opts.seed)
        load_weights(model, resume_state["model"])
        return model, config, {}
    source = read_source(opts.init) if opts.init else None
    config = build_config(
        opts.preset,
        opts.config,
        shard_set.word_vocab_size,
        shard_set.entity_vocab_size,
        max_seq_length,
        entity_aware_attention=opts.entity_aware_attention,
        architecture=source.architecture if source else None,
    )
    model = new_model(config, opts.seed)
    report = apply_source(model, source, words, entities, opts.init_partial) if source else {}
    return model, config, report


def make_stream(
    opts: PretrainOptions, shard_set: ShardSet, words: WordVocab, distributed: runtime.Distributed
) -> ExampleStream:
    masker = Masker(
        MaskingConfig(
            word_mask_prob=opts.word_mask_prob,
            entity_mask_prob=opts.entity_mask_prob,
            whole_word_masking=opts.whole_word_masking,
            mask_words_in_entity_spans=opts.mask_words_in_entity_spans,
            max_mention_length=int(shard_set.settings["max_mention_length"]),
        ),
        mask_id=words.mask_id,
        word_vocab_size=words.size,
        word_start_table=words.word_start_table() if opts.whole_word_masking else None,
    )
    assert opts.batch_size is not None and opts.micro_batch_size is not None
    return ExampleStream(
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


def _copy_vocab_files(run_dir: Path, tokenizer: Path, entity_vocab: Path) -> None:
    """The run keeps the tokenizer and entity vocab it trained with, so that export is self-contained."""
    target = run_dir / TOKENIZER_DIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer, target / SENTENCEPIECE_FILE)
    shutil.copyfile(entity_vocab, target / ENTITY_VOCAB_JSONL)
    (target / ENTITY_VOCAB_HF_JSON).write_text(load_entity_vocab(entity_vocab).hf_json(), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The step


@dataclass
class StepResult:
    """Device sums of one step (no synchronisation) and the host counts that go with them."""

    sums: torch.Tensor  # mlm loss sum, entity loss sum, mlm correct, entity correct
    grad_norm: torch.Tensor
    word_targets: int
    entity_targets: int
    tokens: int


class TrainStep:
    """Forward and backward over the micro-batches of one global batch, then the update."""

    def __init__(
        self,
        model: LukeForMaskedLM,
        opts: PretrainOptions,
        device: torch.device,
        autocast: Any,
        distributed: runtime.Distributed,
    ) -> None:
        assert opts.batch_size is not None and opts.micro_batch_size is not None
        self.device = device
        self.autocast = autocast
        self.distributed = distributed
        self.accumulation = opts.batch_size // (opts.micro_batch_size * distributed.world_size)
        self.max_grad_norm = opts.max_grad_norm
        self.params = [p for p in model.parameters() if p.requires_grad]
        module: torch.nn.Module = PretrainingModel(model)
        self.ddp = None
        if distributed.enabled:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                module, device_ids=[device.index] if device.type == "cuda" else None
            )
            module = self.ddp
        self.module = torch.compile(module, dynamic=True) if opts.compile else module

    def __call__(
        self, batches: Iterator[dict[str, torch.Tensor]], step: int, optimizer: Any, scheduler: Any
    ) -> StepResult:
        sums = torch.zeros(4, dtype=torch.float64, device=self.device)
        word_targets = entity_targets = tokens = 0
        for index in range(self.accumulation):
            micro = next(batches)  # streamed: the next one loads while this one computes
            if int(micro["step"]) != step or int(micro["micro"]) != index:
                raise RuntimeError(f"data order broken: got step {int(micro['step'])}, expected {step}")
            inputs = {name: micro[name].to(self.device, non_blocking=True) for name in MODEL_INPUTS}
            words, entities = len(micro["word_target_ids"]), len(micro["entity_target_ids"])
            last = index == self.accumulation - 1
            context = self.ddp.no_sync() if self.ddp is not None and not last else contextlib.nullcontext()
            with context:
                with self.autocast():
                    out = self.module(**inputs)
                loss = (
                    out["mlm_sum"] / max(1, words) + out["entity_sum"] / max(1, entities)
                ) / self.accumulation
                loss.backward()
            sums += torch.stack(
                [
                    out["mlm_sum"].detach(),
                    out["entity_sum"].detach(),
                    out["mlm_correct"],
                    out["entity_correct"],
                ]
            ).double()
            word_targets += words
            entity_targets += entities
            tokens += int(micro["tokens"])
        grad_norm = runtime.clip_gradients(self.params, self.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return StepResult(sums, grad_norm, word_targets, entity_targets, tokens)


class NonFiniteWatch:
    """Remembers on the device the first step whose gradient norm was not finite."""

    def __init__(self, device: torch.device, start_step: int) -> None:
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self.step = torch.full((), start_step, dtype=torch.long, device=device)

    def observe(self, grad_norm: torch.Tensor) -> None:
        self.step += 1
        bad = ~torch.isfinite(grad_norm) & (self.first_bad < 0)
        self.first_bad = torch.where(bad, self.step, self.first_bad)

    def check(self, run_dir: Path) -> None:
        bad_step = int(self.first_bad)
        if bad_step >= 0:
            latest = latest_checkpoint(run_dir)
            kept = (
                f"the last good checkpoint is {latest}" if latest else "no checkpoint was written before it"
            )
            raise NonFiniteLossError(
                f"the loss or gradient is not finite at step {bad_step}: training stopped; {kept}"
            )


def log_record(
    result: StepResult,
    step: int,
    opts: PretrainOptions,
    lr: float,
    tokens: int,
    seconds: float,
    device,
    distributed,
) -> dict[str, Any]:
    """The logged figures of a step, summed over the ranks (one synchronisation)."""
    sums = result.sums.double()
    if distributed.enabled:
        torch.distributed.all_reduce(sums)
    word_targets, entity_targets, tokens = runtime.host_all_reduce(
        (result.word_targets, result.entity_targets, tokens), distributed
    )
    values = sums.tolist()
    mlm_loss = values[0] / max(1.0, word_targets)
    entity_loss = values[1] / max(1.0, entity_targets)
    record = {
        "step": step,
        "loss": mlm_loss + entity_loss,
        "mlm_loss": mlm_loss,
        "entity_loss": entity_loss,
        "mlm_acc": values[2] / max(1.0, word_targets),
        "entity_acc": values[3] / max(1.0, entity_targets),
        "lr": lr,
        "grad_norm": float(result.grad_norm),
        "tokens_per_s": tokens / max(seconds, 1e-9),
        "examples": step * opts.batch_size,
    }
    if device.type == "cuda":
        record["max_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return record


def describe_record(record: dict[str, Any]) -> str:
    return (
        f"loss {record['loss']:.3f} mlm {record['mlm_loss']:.2f}/{record['mlm_acc']:.0%} "
        f"ent {record['entity_loss']:.2f}/{record['entity_acc']:.0%} {record['tokens_per_s']:,.0f} tok/s "
        f"lr {record['lr']:.3g}"
    )


# ---------------------------------------------------------------------------------------------
# The run


def pretrain(options: PretrainOptions) -> dict[str, Any]:
    """Runs (or resumes) a pretraining run; returns the summary also written to summary.json."""
    with runtime.distributed_run(options.device) as distributed:
        return _pretrain(options, distributed)


def _pretrain(options: PretrainOptions, distributed: runtime.Distributed) -> dict[str, Any]:
    device = runtime.choose_device(options.device, distributed.local_rank)
    runtime.configure_device(device, options.cpu_threads)
    autocast, precision = runtime.autocast_context(device, options.precision)

    shard_set = open_shard_set(options.data, options.langs, options.verify_checksums)
    tokenizer_path, entity_vocab_path = resolve_paths(options, shard_set)
    opts = resolve_options(options, shard_set, distributed.world_size)
    run_dir = Path(opts.output)
    words, entities = load_word_vocab(tokenizer_path), load_entity_vocab(entity_vocab_path)
    resume_state = find_resume_state(opts, run_dir, shard_set)

    model, config, init_report = build_model(opts, shard_set, words, entities, resume_state)
    trainable = trainable_parameters(model, opts.stage)
    model.to(device)
    check_tied(model)
    optimizer, scheduler = runtime.make_optimizer(
        model,
        device,
        opts.learning_rate,
        opts.weight_decay,
        opts.adam_betas,
        opts.adam_eps,
        opts.warmup_steps,
        opts.total_steps,
    )
    stream = make_stream(opts, shard_set, words, distributed)

    start_step = 0
    counts = np.zeros(len(shard_set.languages), dtype=np.int64)
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start_step = int(resume_state["step"])
        counts = np.array(resume_state["data"]["counts"], dtype=np.int64)
        runtime.restore_rng(resume_state["rng"], distributed, opts.seed, start_step)
    else:
        runtime.seed_everything(opts.seed, distributed.rank)

    if distributed.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _copy_vocab_files(run_dir, tokenizer_path, entity_vocab_path)
        if init_report:
            for line in describe(init_report):
                print(line, file=sys.stderr, flush=True)
        _write_run_record(
            run_dir, opts, config, precision, distributed, shard_set, stream, init_report, model, trainable
        )
    runtime.barrier(distributed)

    train_step = TrainStep(model, opts, device, autocast, distributed)
    watch = NonFiniteWatch(device, start_step)
    log = runtime.MetricsLog(run_dir, start_step, distributed.main)
    progress = runtime.Progress(
        "pretrain", opts.total_steps, start_step, distributed.main, opts.progress, describe_record
    )
    workers = runtime.default_loader_workers(device) if opts.num_workers is None else opts.num_workers
    loader = torch_loader(
        stream, start_step, counts, opts.total_steps, workers, pin_memory=device.type == "cuda"
    )
    batches = iter(loader)
    # Fault injection for the resumption tests: die without any cleanup right after this step.
    kill_after = int(os.environ.get(KILL_AFTER_STEP_ENV, "0")) or None
    record: dict[str, Any] | None = None
    since_log = time.perf_counter()
    tokens = 0
    step = start_step
    try:
        while step < opts.total_steps:
            lr = scheduler.get_last_lr()[0]
            result = train_step(batches, step, optimizer, scheduler)
            watch.observe(result.grad_norm)
            counts = counts + np.bincount(
                stream.sampler.languages(step * opts.batch_size, opts.batch_size), minlength=len(counts)
            )
            step += 1
            tokens += result.tokens
            logged = step % opts.log_every == 0 or step == opts.total_steps
            saved = step % opts.save_every == 0 or step == opts.total_steps
            record = None
            if logged or saved:
                watch.check(run_dir)
            if logged:
                now = time.perf_counter()
                record = log_record(result, step, opts, lr, tokens, now - since_log, device, distributed)
                log.write(record)
                since_log, tokens = now, 0
            progress.update(step, record)
            if saved:
                _save(
                    run_dir, step, model, optimizer, scheduler, counts, config, opts, shard_set, distributed
                )
            if kill_after == step:
                os.kill(os.getpid(), signal.SIGKILL)
    finally:
        progress.close()
        log.close()
        stream.close()

    digests = runtime.gather_objects(runtime.parameter_digest(model), distributed)
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


def _write_run_record(
    run_dir: Path,
    opts: PretrainOptions,
    config: LukeConfig,
    precision: str,
    distributed: runtime.Distributed,
    shard_set: ShardSet,
    stream: ExampleStream,
    init_report: dict[str, Any],
    model: LukeForMaskedLM,
    trainable: list[str],
) -> None:
    named = set(trainable)
    record = {
        "options": runtime.jsonable(asdict(opts)),
        "model_config": config.to_dict(),
        "precision": precision,
        "world_size": distributed.world_size,
        "data": shard_set.fingerprint(),
        "sampling_probabilities": [float(p) for p in stream.probabilities],
        "init": init_report,
        "trainable_parameters": sum(p.numel() for n, p in model.named_parameters() if n in named),
        "parameters": parameter_count(config)["total"],
    }
    (run_dir / RUN_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


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
    distributed: runtime.Distributed,
) -> None:
    rng_states = runtime.gather_objects(runtime.rng_state(), distributed)
    if distributed.main:
        state = {
            "version": TIED_SINCE_FORMAT_VERSION,
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
            "options": runtime.jsonable(asdict(opts)),
        }
        save_checkpoint(run_dir, step, state, opts.keep_last)
    runtime.barrier(distributed)


def load_trained_model(path: str | Path) -> tuple[LukeForMaskedLM, dict[str, Any], Path]:
    """The model of a checkpoint (or of a run directory's latest one), in eval mode, decoders tied."""
    checkpoint = resolve_checkpoint(path)
    state = load_checkpoint(checkpoint)
    model = new_model(LukeConfig(**state["model_config"]), seed=0)
    load_weights(model, state["model"])
    model.eval()
    return model, state, checkpoint
