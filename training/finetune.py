"""`mluke-train finetune qa` and `mluke-train evaluate qa`: extractive QA with mLUKE-W or mLUKE-E inputs.

The model is transformers' ``LukeForQuestionAnswering`` loaded from a ``mluke-train export``
directory (or any local LUKE/mLUKE directory); its span head starts fresh. Training uses the
runtime every run shares (``training.runtime``): AdamW without decay on biases and layer norms,
linear warmup then linear decay, bf16 autocast on CUDA, DistributedDataParallel under torchrun,
atomic checkpoints, metrics.jsonl + TensorBoard.

Data order: the training windows form an endless stream of slots, slot k being window
``perm_e[k mod n]`` with ``e = k div n`` and ``perm_e`` a permutation drawn from (seed, e). Step t
takes slots [tB, (t+1)B) of the global batch size B; micro-batch m of rank r is the slice
``m * world + r``. Each micro-batch's summed span losses are divided by B (and multiplied by the
world size to undo DDP's averaging), so an update does not depend on how ranks and accumulation
split the batch, and a resumed run continues with exactly the batches it would have seen.

Torch is imported inside the functions that need it, so that ``mluke-train --help`` stays fast. The
command-line options are in training/cli.py.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from .errors import TrainingError
from .options import ENTITY_MODES, FINETUNE_RUN_DEFINING, EvalSet, FinetuneOptions
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
from .qa_metrics import Score, evaluate, format_table

if TYPE_CHECKING:
    import torch

RUN_FILE = "run.json"
RESULTS_FILE = "results.json"
PREDICTIONS_DIR = "predictions"
MODEL_DIR = "model"
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

    from .model import ENTITY_AWARE_QUERIES

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
    queries = [key for key in missing if any(f".{name}." in key for name in ENTITY_AWARE_QUERIES)]
    if queries:
        # A directory without entity-aware queries (written by a model trained with plain
        # attention, before luke's converter adds them): they start as the word query.
        with torch.no_grad():
            for key in queries:
                module_name, _, kind = key.rpartition(".")
                query = model.get_parameter(module_name.rsplit(".", 1)[0] + f".query.{kind}")
                model.get_parameter(key).copy_(query)
        missing = [key for key in missing if key not in queries]
    if [key for key in missing if not key.startswith("qa_outputs.")]:
        raise TrainingError(f"{model_dir} lacks encoder weights: {', '.join(missing[:5])}")
    return model, {
        "new_span_head": bool(missing),
        "entity_aware_queries_from_query": len(queries),
        "unused": len(info.get("unexpected_keys", [])),
    }


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
# The run


def _to_device(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    import torch

    return {name: torch.from_numpy(array).to(device, non_blocking=True) for name, array in batch.items()}


def finetune_qa(options: FinetuneOptions) -> dict[str, Any]:
    """Fine-tunes (when ``options.train`` is set) and evaluates; returns the results."""
    from . import runtime

    with runtime.distributed_run(options.device) as distributed:
        return _finetune(options, distributed)


def _finetune(options: FinetuneOptions, distributed) -> dict[str, Any]:
    from . import runtime
    from .checkpoint import latest_checkpoint, load_checkpoint

    opts = FinetuneOptions(**asdict(options))
    opts.eval = [EvalSet(**s) if isinstance(s, dict) else s for s in opts.eval]
    if opts.entities not in ENTITY_MODES:
        raise TrainingError(f"--entities must be one of {', '.join(ENTITY_MODES)}, not {opts.entities!r}")
    if not opts.train and not opts.eval:
        raise TrainingError("nothing to do: give --train and/or --eval")
    device = runtime.choose_device(opts.device, distributed.local_rank)
    runtime.configure_device(device)
    autocast, precision = runtime.autocast_context(device, opts.precision)
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
        runtime.refuse_existing_run(run_dir, existing, opts.resume)
        if existing is not None:
            resume_state = load_checkpoint(existing)
            _check_resume(resume_state, opts, existing)

    if distributed.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "options": runtime.jsonable(asdict(opts)),
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
    runtime.barrier(distributed)

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
        runtime.barrier(distributed)

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
    from . import runtime

    if state.get("task") != "qa":
        raise TrainingError(f"{path} is not a QA fine-tuning checkpoint")
    runtime.check_resume(state["options"], runtime.jsonable(asdict(opts)), FINETUNE_RUN_DEFINING, path)


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

    from . import runtime
    from .checkpoint import save_checkpoint

    assert opts.micro_batch_size is not None and opts.warmup_steps is not None
    optimizer, scheduler = runtime.make_optimizer(
        model,
        device,
        opts.learning_rate,
        opts.weight_decay,
        (0.9, 0.999),
        opts.adam_eps,
        opts.warmup_steps,
        opts.total_steps,
    )
    start_step = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start_step = int(resume_state["step"])
        runtime.restore_rng(resume_state["rng"], distributed, opts.seed, start_step)
    else:
        runtime.seed_everything(opts.seed, distributed.rank)

    module = model
    if distributed.enabled:
        module = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    params = [p for p in model.parameters() if p.requires_grad]
    order = SlotOrder(len(features), opts.seed)
    batch_size, micro, world = opts.batch_size, opts.micro_batch_size, distributed.world_size
    accumulation = batch_size // (micro * world)
    log = runtime.MetricsLog(run_dir, start_step, distributed.main)
    progress = runtime.Progress(
        "finetune qa", opts.total_steps, start_step, distributed.main, opts.progress, _describe_record
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
            grad_norm = float(runtime.clip_gradients(params, opts.max_grad_norm))
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


def _describe_record(record: dict[str, Any]) -> str:
    return f"loss {record['loss']:.3f} lr {record['lr']:.3g} {record['examples_per_s']:,.1f} windows/s"


def _save_checkpoint(run_dir, step, model, optimizer, scheduler, opts, distributed, save) -> None:
    from . import runtime

    states = runtime.gather_objects(runtime.rng_state(), distributed)
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
                "options": runtime.jsonable(asdict(opts)),
            },
            opts.keep_last,
        )
    runtime.barrier(distributed)


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
