"""`mluke-train finetune qa` and `mluke-train evaluate qa`: extractive QA with mLUKE-W or mLUKE-E inputs.

The model is transformers' ``LukeForQuestionAnswering`` loaded from a ``mluke-train export``
directory (or any local LUKE/mLUKE directory); its span head starts fresh. Training reuses the
pretraining machinery (``training.trainer``): AdamW without decay on biases and layer norms,
linear warmup then linear decay, bf16 autocast on CUDA, DistributedDataParallel under torchrun,
atomic checkpoints, metrics.jsonl + TensorBoard.

Data order: the training windows form an endless stream of slots, slot k being window
``perm_e[k mod n]`` with ``e = k div n`` and ``perm_e`` a permutation drawn from (seed, e). Step t
takes slots [tB, (t+1)B) of the global batch size B; micro-batch m of rank r is the slice
``m * world + r``. Each micro-batch's summed span losses are divided by B (and multiplied by the
world size to undo DDP's averaging), so an update does not depend on how ranks and accumulation
split the batch, and a resumed run continues with exactly the batches it would have seen.

Torch is imported inside the functions that need it, so that ``mluke-train --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from .errors import TrainingError
from .qa import (
    SENTENCEPIECE_MODEL,
    TOKENIZER_JSON,
    Feature,
    FeatureSet,
    FeatureSettings,
    MentionDictionary,
    WordTokenizer,
    best_answers,
    build_features,
    collate,
    entity_id_map,
    language_of,
    load_mention_dictionary,
    read_squad,
    resolve_vocab_dir,
)
from .qa_metrics import METRICS, Score, evaluate, format_table, read_predictions, reference_answers

if TYPE_CHECKING:
    import torch

RUN_FILE = "run.json"
RESULTS_FILE = "results.json"
PREDICTIONS_DIR = "predictions"
MODEL_DIR = "model"
ENTITY_MODES = ("none", "mentions")
# Files of the model directory that travel with the fine-tuned model.
_TOKENIZER_FILES = (
    TOKENIZER_JSON,
    SENTENCEPIECE_MODEL,
    "tokenizer_config.json",
    "special_tokens_map.json",
    "entity_vocab.json",
    "vocab.json",
    "merges.txt",
)
# Parameters only the entity inputs reach; frozen when the model reads words only.
_ENTITY_ONLY = ("luke.entity_embeddings.", ".w2e_query.", ".e2w_query.", ".e2e_query.")
# Options that define a run's trajectory: a resumed run must keep them.
RUN_DEFINING = (
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
    max_mention_length: int = 30
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


# ---------------------------------------------------------------------------------------------
# Model and data


def read_model_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise TrainingError(f"--model {model_dir}: no config.json (give a `mluke-train export` directory)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {path}: {error}") from None
    if config.get("model_type") != "luke":
        raise TrainingError(f"--model {model_dir} is a {config.get('model_type')!r} model, not a LUKE model")
    return config


def load_qa_model(model_dir: Path, seed: int):
    """LukeForQuestionAnswering from a LUKE directory; a missing span head starts from ``seed``."""
    import torch
    from transformers import LukeForQuestionAnswering
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its "newly initialized" warning is reported below instead
    hf_logging.disable_progress_bar()
    try:
        model, info = LukeForQuestionAnswering.from_pretrained(model_dir, output_loading_info=True)
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot load {model_dir} as LukeForQuestionAnswering: {error}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = sorted(info.get("missing_keys", []))
    if [key for key in missing if not key.startswith("qa_outputs.")]:
        raise TrainingError(f"{model_dir} lacks encoder weights: {', '.join(missing[:5])}")
    return model, {"new_span_head": bool(missing), "unused": len(info.get("unexpected_keys", []))}


def parse_eval(values: tuple[str, ...], langs: tuple[str, ...]) -> list[EvalSet]:
    """``NAME=FILE`` or ``FILE`` (named after the file); languages from ``--eval-lang NAME=LANG``,
    else from the name or the file name (``xquad.de``), else English."""
    overrides: dict[str, str] = {}
    for value in langs:
        name, sep, lang = value.partition("=")
        if not sep or not name or not lang:
            raise TrainingError(f"--eval-lang {value!r}: expected NAME=LANG")
        overrides[name] = lang
    sets: list[EvalSet] = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            path = value
            name = Path(value).name.removesuffix(".json")
        if not name or not path:
            raise TrainingError(f"--eval {value!r}: expected NAME=FILE or FILE")
        if "/" in name or "\\" in name:
            raise TrainingError(f"--eval {value!r}: the name becomes a file name, it cannot hold a slash")
        if any(s.name == name for s in sets):
            raise TrainingError(f"--eval: the name {name!r} is given twice")
        lang = overrides.get(name) or language_of(name, path) or "en"
        sets.append(EvalSet(name, path, lang))
    unknown = set(overrides) - {s.name for s in sets}
    if unknown:
        raise TrainingError(f"--eval-lang names no --eval set: {', '.join(sorted(unknown))}")
    return sets


class Linkers:
    """Mention dictionaries per language, loaded on first use (--entities mentions)."""

    def __init__(self, opts: FinetuneOptions, model_dir: Path, entity_vocab_size: int) -> None:
        self.opts = opts
        if not opts.mention_dict:
            raise TrainingError("--entities mentions needs --mention-dict WORKDIR/vocab/mentions")
        self.vocab_dir = resolve_vocab_dir(opts.mention_dict)
        self.id_map, self.description = entity_id_map(self.vocab_dir, model_dir, entity_vocab_size)
        if not self.id_map:
            raise TrainingError(
                f"no entity of the mention dictionary is in the model's vocabulary ({self.description})"
            )
        self.loaded: dict[str, MentionDictionary] = {}

    def get(self, lang: str) -> MentionDictionary:
        if lang not in self.loaded:
            self.loaded[lang] = load_mention_dictionary(
                self.vocab_dir,
                lang,
                self.id_map,
                self.opts.min_commonness,
                self.opts.min_mention_count,
                min_link_prob=self.opts.min_link_prob,
            )
        return self.loaded[lang]


def feature_settings(opts: FinetuneOptions) -> FeatureSettings:
    return FeatureSettings(
        max_seq_length=opts.max_seq_length,
        doc_stride=opts.doc_stride,
        max_query_length=opts.max_query_length,
        max_entity_length=opts.max_entity_length,
        max_mention_length=opts.max_mention_length,
    )


# ---------------------------------------------------------------------------------------------
# Data order


class SlotOrder:
    """Slot k of the training stream -> window index (a fresh permutation per pass)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self._cache: dict[int, np.ndarray] = {}

    def _epoch(self, epoch: int) -> np.ndarray:
        if epoch not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            self._cache[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return self._cache[epoch]

    def take(self, first: int, count: int) -> list[int]:
        return [int(self._epoch(k // self.size)[k % self.size]) for k in range(first, first + count)]


# ---------------------------------------------------------------------------------------------
# Progress


class _Progress:
    """A rich progress bar on a terminal, a line per logged step otherwise (main rank only)."""

    def __init__(self, total: int, start: int, enabled: bool, bar: bool, label: str) -> None:
        self.enabled = enabled
        self.total = total
        self.bar = None
        if enabled and bar:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn(f"[bold]{label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, completed=start, status="")

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        status = None
        if record is not None:
            status = (
                f"loss {record['loss']:.3f} lr {record['lr']:.3g} {record['examples_per_s']:,.1f} windows/s"
            )
        if self.bar is not None:
            self.bar.update(self.task, completed=step, **({"status": status} if status else {}))
        elif status:
            print(f"step {step}/{self.total}: {status}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# ---------------------------------------------------------------------------------------------
# The run


def _to_device(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    import torch

    return {name: torch.from_numpy(array).to(device, non_blocking=True) for name, array in batch.items()}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def finetune_qa(options: FinetuneOptions) -> dict[str, Any]:
    """Fine-tunes (when ``options.train`` is set) and evaluates; returns the results."""
    import torch
    import torch.distributed as dist

    from .trainer import setup_distributed

    wanted = torch.device(options.device) if options.device else None
    kind = (
        "cuda"
        if (wanted is None and torch.cuda.is_available()) or (wanted and wanted.type == "cuda")
        else "cpu"
    )
    distributed = setup_distributed(kind)
    try:
        return _finetune(options, distributed)
    finally:
        if distributed.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _finetune(options: FinetuneOptions, distributed) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    from .checkpoint import latest_checkpoint, load_checkpoint
    from .trainer import autocast_context, choose_device

    opts = FinetuneOptions(**asdict(options))
    opts.eval = [EvalSet(**s) if isinstance(s, dict) else s for s in opts.eval]
    if opts.entities not in ENTITY_MODES:
        raise TrainingError(f"--entities must be one of {', '.join(ENTITY_MODES)}, not {opts.entities!r}")
    if not opts.train and not opts.eval:
        raise TrainingError("nothing to do: give --train and/or --eval")
    device = choose_device(opts.device, distributed.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast, precision = autocast_context(device, opts.precision)
    run_dir = Path(opts.output)
    model_dir = Path(opts.model)
    config = read_model_config(model_dir)
    tokenizer = WordTokenizer.from_model_dir(model_dir)
    if tokenizer.pad_id != config.get("pad_token_id", tokenizer.pad_id):
        raise TrainingError(
            f"the tokenizer's <pad> is id {tokenizer.pad_id}, the model's pad_token_id {config['pad_token_id']}"
        )
    if tokenizer.vocab_size > int(config["vocab_size"]):
        raise TrainingError(
            f"the tokenizer has {tokenizer.vocab_size} ids, the model only {config['vocab_size']} word embeddings"
        )
    limit = int(config["max_position_embeddings"]) - int(config.get("pad_token_id", 1)) - 1
    opts.max_seq_length = opts.max_seq_length or min(384, limit)
    if opts.max_seq_length > limit:
        raise TrainingError(f"--max-seq-length {opts.max_seq_length} exceeds the model's {limit} positions")
    with_entities = opts.entities == "mentions"
    linkers = Linkers(opts, model_dir, int(config["entity_vocab_size"])) if with_entities else None
    settings = feature_settings(opts)

    train_sets: list[tuple[str, FeatureSet]] = []
    for path in opts.train:
        lang = opts.train_lang or language_of(path) or "en"
        linker = linkers.get(lang) if linkers else None
        feature_set = build_features(
            read_squad(path, lang), tokenizer, settings, training=True, linker=linker
        )
        if not feature_set.features:
            raise TrainingError(f"{path} gives no training window (no answerable question found)")
        train_sets.append((path, feature_set))
    train_windows = [feature for _, feature_set in train_sets for feature in feature_set.features]
    eval_sets: list[tuple[EvalSet, FeatureSet]] = []
    for spec in opts.eval:
        data = read_squad(spec.path, spec.lang)
        linker = linkers.get(spec.lang) if linkers else None
        eval_sets.append((spec, build_features(data, tokenizer, settings, training=False, linker=linker)))

    model, load_report = load_qa_model(model_dir, opts.seed)
    if not with_entities:
        for name, parameter in model.named_parameters():
            if any(part in name for part in _ENTITY_ONLY):
                parameter.requires_grad_(False)
    model.to(device)

    resume_state = None
    if train_windows:
        opts = _resolve_training(opts, len(train_windows), distributed.world_size)
        existing = latest_checkpoint(run_dir)
        if existing is not None and not opts.resume:
            raise TrainingError(
                f"{run_dir} already holds checkpoints: add --resume to continue it, or pick a new --output"
            )
        if existing is not None:
            resume_state = load_checkpoint(existing)
            _check_resume(resume_state, opts, existing)

    if distributed.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "options": _jsonable(asdict(opts)),
            "model_config": config,
            "model_load": load_report,
            "tokenizer": tokenizer.source,
            "precision": precision,
            "device": str(device),
            "world_size": distributed.world_size,
            "entity_linking": linkers.description if linkers else None,
            "mention_dictionaries": {lang: len(d) for lang, d in linkers.loaded.items()} if linkers else None,
            "train": {path: {"lang": fs.data.lang, **fs.data.stats, **fs.stats} for path, fs in train_sets},
            "eval": {spec.name: {"lang": spec.lang, **fs.data.stats, **fs.stats} for spec, fs in eval_sets},
        }
        (run_dir / RUN_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if distributed.enabled:
        dist.barrier()

    summary: dict[str, Any] = {}
    if train_windows:
        summary = _train(
            opts,
            model,
            train_windows,
            device,
            autocast,
            distributed,
            run_dir,
            with_entities,
            tokenizer,
            resume_state,
        )
        if distributed.main:
            _save_model(model, model_dir, run_dir / MODEL_DIR)
        if distributed.enabled:
            dist.barrier()

    scores: list[tuple[str, Score]] = []
    sets: dict[str, Any] = {}
    for spec, feature_set in eval_sets:
        starts, ends = predict_logits(
            model,
            feature_set,
            device,
            autocast,
            opts.eval_batch_size,
            with_entities,
            tokenizer.pad_id,
            distributed,
        )
        if not distributed.main:
            continue
        predictions = best_answers(feature_set, starts, ends, opts.n_best, opts.max_answer_length)
        score = evaluate(feature_set.data.references(), predictions, spec.lang, opts.metric)
        scores.append((spec.name, score))
        (run_dir / PREDICTIONS_DIR).mkdir(parents=True, exist_ok=True)
        (run_dir / PREDICTIONS_DIR / f"{spec.name}.json").write_text(
            json.dumps(predictions, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        sets[spec.name] = {"file": spec.path, **score.to_dict()}
    results: dict[str, Any] = {
        "model": str(model_dir),
        "entities": opts.entities,
        "sets": sets,
        "train": summary or None,
    }
    if distributed.main:
        average = None
        if scores:
            average = (
                float(np.mean([s.exact_match for _, s in scores])),
                float(np.mean([s.f1 for _, s in scores])),
            )
            results["average"] = {"exact_match": average[0], "f1": average[1], "sets": len(scores)}
            click.echo(format_table(scores, average if len(scores) > 1 else None))
        if train_windows:
            results["fine_tuned_model"] = str(run_dir / MODEL_DIR)
        (run_dir / RESULTS_FILE).write_text(
            json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    return results


def _resolve_training(opts: FinetuneOptions, windows: int, world_size: int) -> FinetuneOptions:
    resolved = FinetuneOptions(**asdict(opts))
    resolved.eval = opts.eval
    resolved.micro_batch_size = resolved.micro_batch_size or max(1, resolved.batch_size // world_size)
    if resolved.batch_size % (resolved.micro_batch_size * world_size):
        raise TrainingError(
            f"--batch-size {resolved.batch_size} is not a multiple of --micro-batch-size "
            f"{resolved.micro_batch_size} x {world_size} process(es)"
        )
    if resolved.max_steps:
        resolved.total_steps = resolved.max_steps
    else:
        resolved.total_steps = math.ceil(windows * resolved.epochs / resolved.batch_size)
    if resolved.total_steps <= 0:
        raise TrainingError("the run has no steps (give --epochs > 0 or --max-steps)")
    if resolved.warmup_steps is None:
        resolved.warmup_steps = round(resolved.warmup_ratio * resolved.total_steps)
    return resolved


def _check_resume(state: dict[str, Any], opts: FinetuneOptions, path: Path) -> None:
    if state.get("task") != "qa":
        raise TrainingError(f"{path} is not a QA fine-tuning checkpoint")
    saved = state["options"]
    current = _jsonable(asdict(opts))
    changed = [name for name in RUN_DEFINING if saved.get(name) != current.get(name)]
    if changed:
        details = ", ".join(f"{name} {saved.get(name)!r} -> {current.get(name)!r}" for name in changed)
        raise TrainingError(f"cannot resume {path} exactly with different settings: {details}")


def _train(
    opts: FinetuneOptions,
    model,
    features: list[Feature],
    device,
    autocast,
    distributed,
    run_dir: Path,
    with_entities: bool,
    tokenizer: WordTokenizer,
    resume_state: dict[str, Any] | None,
) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    from .checkpoint import save_checkpoint
    from .trainer import MetricsLog, linear_schedule, parameter_groups, set_rng_state

    assert opts.micro_batch_size is not None and opts.warmup_steps is not None
    optimizer = torch.optim.AdamW(
        parameter_groups(model, opts.weight_decay),
        lr=opts.learning_rate,
        betas=(0.9, 0.999),
        eps=opts.adam_eps,
        **({"fused": True} if device.type == "cuda" else {}),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(opts.warmup_steps, opts.total_steps)
    )
    start_step = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start_step = int(resume_state["step"])
        rng = resume_state["rng"]
        if len(rng) == distributed.world_size:
            set_rng_state(rng[distributed.rank])
        else:
            torch.manual_seed(opts.seed * 7919 + distributed.rank + start_step)
    else:
        torch.manual_seed(opts.seed * 7919 + distributed.rank)
        random.seed(opts.seed + distributed.rank)
        np.random.seed(opts.seed + distributed.rank)

    module = model
    if distributed.enabled:
        module = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    params = [p for p in model.parameters() if p.requires_grad]
    order = SlotOrder(len(features), opts.seed)
    batch_size, micro, world = opts.batch_size, opts.micro_batch_size, distributed.world_size
    accumulation = batch_size // (micro * world)
    log = MetricsLog(run_dir, start_step, distributed.main)
    is_terminal = sys.stderr.isatty()
    progress = _Progress(
        opts.total_steps,
        start_step,
        distributed.main and opts.progress is not False,
        bar=is_terminal if opts.progress is None else bool(opts.progress and is_terminal),
        label="finetune qa",
    )
    record: dict[str, Any] | None = None
    last_time = time.perf_counter()
    windows_since = 0
    step = start_step
    try:
        while step < opts.total_steps:
            model.train()
            stats = torch.zeros(2, dtype=torch.float64, device=device)
            for index in range(accumulation):
                first = step * batch_size + (index * world + distributed.rank) * micro
                batch = collate(
                    [features[i] for i in order.take(first, micro)],
                    tokenizer.pad_id,
                    with_entities,
                    with_labels=True,
                )
                inputs = _to_device(batch, device)
                starts = inputs.pop("start_positions")
                ends = inputs.pop("end_positions")
                sync = index == accumulation - 1 or not distributed.enabled
                context = contextlib.nullcontext() if sync else module.no_sync()
                with context:
                    with autocast():
                        start_logits, end_logits = module(**inputs, return_dict=False)[:2]
                    loss_sum = (
                        torch.nn.functional.cross_entropy(start_logits.float(), starts, reduction="sum")
                        + torch.nn.functional.cross_entropy(end_logits.float(), ends, reduction="sum")
                    ) / 2
                    (loss_sum / batch_size * world).backward()
                stats += torch.stack(
                    [loss_sum.detach().double(), torch.tensor(float(len(starts)), device=device).double()]
                )
            if distributed.enabled:
                dist.all_reduce(stats)
            loss = float(stats[0]) / batch_size
            if not math.isfinite(loss):
                raise TrainingError(f"loss is {loss} at step {step + 1}: training stopped before applying it")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, opts.max_grad_norm))
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            windows_since += int(stats[1])
            record = None
            if step % opts.log_every == 0 or step == opts.total_steps:
                now = time.perf_counter()
                record = {
                    "step": step,
                    "loss": loss,
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "examples_per_s": windows_since / max(now - last_time, 1e-9),
                    "epoch": step * batch_size / len(features),
                }
                log.write(record)
                last_time, windows_since = now, 0
            progress.update(step, record)
            if step % opts.save_every == 0 or step == opts.total_steps:
                _save_checkpoint(
                    run_dir, step, model, optimizer, scheduler, opts, distributed, save_checkpoint
                )
    finally:
        progress.close()
        log.close()
    return {
        "step": step,
        "final": record,
        "windows": len(features),
        "epochs": step * batch_size / len(features),
    }


def _save_checkpoint(run_dir, step, model, optimizer, scheduler, opts, distributed, save) -> None:
    import torch.distributed as dist

    from .trainer import gather_objects, rng_state

    states = gather_objects(rng_state(), distributed)
    if distributed.main:
        save(
            run_dir,
            step,
            {
                "task": "qa",
                "model_config": model.config.to_dict(),
                "model": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": states,
                "options": _jsonable(asdict(opts)),
            },
            opts.keep_last,
        )
    if distributed.enabled:
        dist.barrier()


def _save_model(model, source: Path, target: Path) -> None:
    """The fine-tuned model as a Hugging Face directory, with the source's tokenizer files."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    for name in _TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
    if not (target / TOKENIZER_JSON).is_file():
        # Sentencepiece-only sources: keep the converted tokenizer the run used.
        WordTokenizer.from_model_dir(source).backend.save(str(target / TOKENIZER_JSON))


def predict_logits(
    model,
    feature_set: FeatureSet,
    device,
    autocast,
    batch_size: int,
    with_entities: bool,
    pad_id: int,
    distributed,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end scores over each window's context tokens (ranks share the windows)."""
    import torch
    import torch.distributed as dist

    features = feature_set.features
    mine = list(range(distributed.rank, len(features), distributed.world_size))
    mine.sort(key=lambda i: len(features[i].input_ids))  # less padding
    found: list[tuple[int, np.ndarray, np.ndarray]] = []
    model.eval()
    with torch.no_grad():
        for first in range(0, len(mine), batch_size):
            chunk = mine[first : first + batch_size]
            batch = collate([features[i] for i in chunk], pad_id, with_entities, with_labels=False)
            with autocast():
                start_logits, end_logits = model(**_to_device(batch, device), return_dict=False)[:2]
            start_logits = start_logits.float().cpu().numpy()
            end_logits = end_logits.float().cpu().numpy()
            for row, index in enumerate(chunk):
                feature = features[index]
                window = slice(feature.context_offset, feature.context_offset + feature.window_length)
                found.append((index, start_logits[row, window].copy(), end_logits[row, window].copy()))
    if distributed.enabled:
        gathered: list[Any] = [None] * distributed.world_size
        dist.all_gather_object(gathered, found)
        found = [item for part in gathered for item in part]
    starts: list[np.ndarray] = [np.zeros(0)] * len(features)
    ends: list[np.ndarray] = [np.zeros(0)] * len(features)
    for index, start, end in found:
        starts[index], ends[index] = start, end
    return starts, ends


# ---------------------------------------------------------------------------------------------
# Command line (registered in training/cli.py)


@click.group("finetune")
def finetune_group() -> None:
    """Fine-tune a LUKE/mLUKE model on a downstream task."""


@finetune_group.command("qa")
@click.option(
    "--model",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="`mluke-train export` output or a local LUKE/mLUKE directory.",
)
@click.option(
    "--train",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="SQuAD-format training file, repeatable (omit to only evaluate --model).",
)
@click.option(
    "--train-lang",
    default=None,
    help="Language of the --train files (default: from each file name, else en).",
)
@click.option(
    "--eval",
    "evals",
    multiple=True,
    help="NAME=FILE.json (or FILE.json), repeatable: one row of the table each.",
)
@click.option(
    "--eval-lang", "eval_langs", multiple=True, help="NAME=LANG when the name does not tell the language."
)
@click.option(
    "--entities",
    default="none",
    show_default=True,
    type=click.Choice(ENTITY_MODES),
    help="none: words only (mLUKE-W); mentions: entities found with the mention dictionary (mLUKE-E).",
)
@click.option(
    "--mention-dict",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="WORKDIR/vocab/mentions (or WORKDIR/vocab, WORKDIR).",
)
@click.option(
    "--min-commonness",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Link a mention only to an entity with p(entity|mention) at least this.",
)
@click.option(
    "--min-mention-count",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Use only anchors seen at least this many times as links.",
)
@click.option(
    "--min-link-prob",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Use only mentions that are a link in at least this share of the pages they occur in.",
)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option(
    "--max-seq-length",
    default=None,
    type=click.IntRange(min=16),
    help="Default 384 (fewer if the model has fewer positions).",
)
@click.option(
    "--doc-stride",
    default=128,
    show_default=True,
    type=click.IntRange(min=1),
    help="Context tokens between the starts of two windows.",
)
@click.option("--max-query-length", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--max-answer-length", default=30, show_default=True, type=click.IntRange(min=1), help="In tokens."
)
@click.option("--n-best", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--max-entity-length",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Entities per window.",
)
@click.option(
    "--max-mention-length",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Tokens per mention.",
)
@click.option("--epochs", default=2.0, show_default=True, type=float)
@click.option("--max-steps", default=None, type=click.IntRange(min=1), help="Instead of --epochs.")
@click.option(
    "--batch-size", default=32, show_default=True, type=click.IntRange(min=1), help="Global batch (windows)."
)
@click.option("--micro-batch-size", default=None, type=click.IntRange(min=1), help="Per process and forward.")
@click.option("--eval-batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--learning-rate", "--lr", "learning_rate", default=2e-5, show_default=True, type=float)
@click.option("--warmup-ratio", default=0.1, show_default=True, type=float)
@click.option("--warmup-steps", default=None, type=click.IntRange(min=0), help="Instead of --warmup-ratio.")
@click.option("--weight-decay", default=0.01, show_default=True, type=float)
@click.option("--max-grad-norm", default=1.0, show_default=True, type=float)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--log-every", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--save-every", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--keep-last", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--resume", is_flag=True, help="Continue the run in --output from its latest checkpoint.")
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "bf16", "fp32"]))
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available).")
@click.option(
    "--metric",
    default="auto",
    show_default=True,
    type=click.Choice(METRICS),
    help="auto: character-level (MLQA) for zh/ja/th, SQuAD v1.1 otherwise.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def finetune_qa_command(evals: tuple[str, ...], eval_langs: tuple[str, ...], **kwargs: Any) -> None:
    """Fine-tune LukeForQuestionAnswering on SQuAD-format data and score every --eval set."""
    kwargs["train"] = list(kwargs["train"])
    options = FinetuneOptions(eval=parse_eval(evals, eval_langs), **kwargs)
    results = finetune_qa(options)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun the first process reports
    train = results.get("train")
    if train and train.get("final"):
        click.echo(
            f"trained {train['step']} steps ({train['epochs']:.2f} epochs), final loss {train['final']['loss']:.4f}",
            err=True,
        )
    click.echo(f"results: {Path(options.output) / RESULTS_FILE}", err=True)


@click.group("evaluate")
def evaluate_group() -> None:
    """Score predictions files."""


@evaluate_group.command("qa")
@click.option(
    "--predictions",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help='{"question id": "answer", ...}',
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="SQuAD-format file with the reference answers.",
)
@click.option(
    "--lang", default=None, help="Language of the answers (default: from the data file name, else en)."
)
@click.option("--metric", default="auto", show_default=True, type=click.Choice(METRICS))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def evaluate_qa_command(
    predictions: str, data_path: str, lang: str | None, metric: str, as_json: bool
) -> None:
    """Exact match and F1 of a predictions file (the official SQuAD v1.1 / MLQA scores)."""
    from .qa_metrics import read_json

    lang = lang or language_of(data_path) or "en"
    data = read_json(data_path, "QA data file")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise TrainingError(f'{data_path} is not SQuAD-format JSON (no top-level "data" list)')
    score = evaluate(reference_answers(data), read_predictions(predictions), lang, metric)
    if as_json:
        click.echo(json.dumps(score.to_dict(), indent=1, sort_keys=True))
    else:
        click.echo(format_table([(Path(data_path).name, score)]))
    if score.missing:
        click.echo(f"{score.missing} of {score.questions} questions have no prediction (scored 0)", err=True)
