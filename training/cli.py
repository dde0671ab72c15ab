"""The `mluke-train` command: pretrain, plan, export, finetune, evaluate.

Option defaults come from the settings dataclasses of training/options.py (defined once there).
Torch is imported only when a command that needs it runs, so `--help` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .errors import TrainingError
from .options import ENTITY_MODES, FinetuneOptions, PretrainOptions, default
from .qa_metrics import METRICS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
pt = functools.partial(default, PretrainOptions)
ft = functools.partial(default, FinetuneOptions)


def _langs(value: str | None) -> list[str] | None:
    if not value:
        return None
    langs = [lang.strip() for lang in value.split(",") if lang.strip()]
    if len(set(langs)) != len(langs):
        raise click.BadParameter("a language is listed twice")
    return langs


# Commands that run models need torch and transformers (the `train` extra); plan and evaluate do not.
_NEEDS_TORCH = {"pretrain", "export", "finetune"}


@click.group(context_settings=CONTEXT)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pretrain mLUKE-style models on the shards, fine-tune them, export to Hugging Face format.

    \b
    Start here:
      mluke-train plan --data out/shards --batch-size 2048 --epochs 20
      mluke-train pretrain --data out/shards --preset tiny --max-steps 200 --output runs/demo
      mluke-train export runs/demo runs/demo/export
    Continue a published mLUKE on new shards: docs/training.md.
    """
    import importlib.util

    if ctx.invoked_subcommand in _NEEDS_TORCH:
        missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
        if missing:
            raise click.ClickException(
                f"`mluke-train {ctx.invoked_subcommand}` needs {' and '.join(missing)}: "
                "run `bash scripts/setup.sh --train` (or pip install -e '.[train]')"
            )


def _data_options(command):
    command = click.option(
        "--data",
        "data",
        multiple=True,
        required=True,
        type=click.Path(file_okay=False),
        help="WORKDIR/shards (or WORKDIR); repeat for several work directories.",
    )(command)
    command = click.option("--langs", default=None, help="Comma-separated languages (default: all found).")(
        command
    )
    command = click.option(
        "--sampling-smoothing",
        default=pt("sampling_smoothing"),
        show_default=True,
        type=float,
        help="Language sampling exponent alpha: p ~ size^alpha.",
    )(command)
    return command


def run_options(defaults):
    """The options every training run has (pretrain and finetune), defaults from its settings."""

    def decorate(command):
        options = [
            click.option(
                "--resume", is_flag=True, help="Continue the run in --output from its latest checkpoint."
            ),
            click.option(
                "--micro-batch-size",
                default=None,
                type=click.IntRange(min=1),
                help="Per process and forward.",
            ),
            click.option("--weight-decay", default=defaults("weight_decay"), show_default=True, type=float),
            click.option(
                "--max-grad-norm",
                default=defaults("max_grad_norm"),
                show_default=True,
                type=click.FloatRange(min=0),
                help="Gradient clipping; 0 turns it off (luke clips at 10000, i.e. never).",
            ),
            click.option("--seed", default=defaults("seed"), show_default=True, type=int),
            click.option(
                "--log-every", default=defaults("log_every"), show_default=True, type=click.IntRange(min=1)
            ),
            click.option(
                "--save-every", default=defaults("save_every"), show_default=True, type=click.IntRange(min=1)
            ),
            click.option(
                "--keep-last", default=defaults("keep_last"), show_default=True, type=click.IntRange(min=1)
            ),
            click.option(
                "--precision",
                default=defaults("precision"),
                show_default=True,
                type=click.Choice(["auto", "bf16", "fp32"]),
            ),
            click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)."),
            click.option(
                "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@main.command(context_settings=CONTEXT)
@_data_options
@run_options(pt)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--tokenizer", default=None, help="Sentencepiece model (default WORKDIR/tokenizer/).")
@click.option("--entity-vocab", default=None, help="entity_vocab.jsonl (default WORKDIR/vocab/).")
@click.option(
    "--preset", default=pt("preset"), show_default=True, type=click.Choice(["tiny", "base", "large"])
)
@click.option(
    "--config", "config_file", default=None, type=click.Path(dir_okay=False), help="LukeConfig JSON."
)
@click.option(
    "--init",
    default=None,
    help="Start from a published LUKE/mLUKE or XLM-R directory, a run directory or a checkpoint "
    "(word and entity ids mapped to the shards').",
)
@click.option(
    "--init-partial",
    is_flag=True,
    help="Accept an --init that does not fully fit (another tokenizer, missing weights); the rest starts fresh.",
)
@click.option(
    "--entity-aware-attention",
    is_flag=True,
    help="Pretrain with entity-aware self-attention (mLUKE used plain attention).",
)
@click.option(
    "--stage", default=pt("stage"), show_default=True, type=click.IntRange(1, 2), help="1: entity side only."
)
@click.option("--max-steps", default=None, type=click.IntRange(min=1))
@click.option("--epochs", default=None, type=float, help="Instead of --max-steps: passes over the examples.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1), help="Global batch (preset default).")
@click.option("--learning-rate", "--lr", "learning_rate", default=None, type=float)
@click.option("--warmup-steps", default=None, type=click.IntRange(min=0))
@click.option("--shuffle-buffer", default=pt("shuffle_buffer"), show_default=True, type=click.IntRange(min=1))
@click.option("--word-mask-prob", default=pt("word_mask_prob"), show_default=True, type=float)
@click.option("--entity-mask-prob", default=pt("entity_mask_prob"), show_default=True, type=float)
@click.option("--whole-word-masking", is_flag=True, help="Mask whole words (sentencepiece word starts).")
@click.option("--mask-words-in-entity-spans", is_flag=True, help="Also mask the words of masked entities.")
@click.option(
    "--num-workers",
    default=None,
    type=click.IntRange(min=0),
    help="Loader processes (default: 2 on a GPU, 0 = in the training process on CPU).",
)
@click.option("--cpu-threads", default=None, type=click.IntRange(min=1), help="Intra-op threads on CPU.")
@click.option("--compile", "compile", is_flag=True, help="torch.compile the model (first steps compile).")
@click.option("--verify-checksums", is_flag=True, help="Check every shard's sha256 against the manifest.")
def pretrain(**kwargs: Any) -> None:
    """Pretrain mLUKE (LukeForMaskedLM, tied decoders) on the shards; also under torchrun.

    \b
    Examples:
      mluke-train pretrain --data out/shards --preset tiny --max-steps 200 --output runs/demo
      mluke-train pretrain --data work/shards --init mluke-base --stage 1 --epochs 1 --output runs/s1
      mluke-train pretrain --data work/shards --init runs/s1 --stage 2 --epochs 1 --output runs/s2
      torchrun --nproc-per-node 8 -m training.cli pretrain --data work/shards --preset base ...
    """
    from .trainer import pretrain as run

    kwargs["data"] = list(kwargs["data"])
    kwargs["langs"] = _langs(kwargs["langs"])
    kwargs["config"] = kwargs.pop("config_file")
    summary = run(PretrainOptions(**kwargs))
    final = summary.get("final") or {}
    if final:
        click.echo(
            f"done: step {summary['step']}, loss {final['loss']:.4f} "
            f"(mlm {final['mlm_loss']:.4f}, entity {final['entity_loss']:.4f})",
            err=True,
        )


@main.command(context_settings=CONTEXT)
@_data_options
@click.option("--batch-size", default=2048, show_default=True, type=click.IntRange(min=1))
@click.option("--epochs", default=None, type=float)
@click.option("--max-steps", default=None, type=click.IntRange(min=1))
@click.option("--warmup-steps", default=2500, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--throughput",
    "throughputs",
    multiple=True,
    type=float,
    help="Training tokens per second of the whole job, for a time estimate (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    data, langs, sampling_smoothing, batch_size, epochs, max_steps, warmup_steps, throughputs, as_json
) -> None:
    """Total steps, tokens and estimated time of a run (luke's compute-total-training-steps).

    \b
    Example:
      mluke-train plan --data out/shards --batch-size 2048 --epochs 20 --throughput 150000
    """
    from .plan import format_plan, make_plan
    from .shards import open_shard_set

    shard_set = open_shard_set(list(data), _langs(langs))
    result = make_plan(
        shard_set, batch_size, epochs, max_steps, sampling_smoothing, tuple(throughputs), warmup_steps
    )
    click.echo(json.dumps(result, indent=1, sort_keys=True) if as_json else format_plan(result))


@main.command(context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--tokenizer", default=None, help="Sentencepiece model (default: the run's copy).")
@click.option("--entity-vocab", default=None, help="entity_vocab.jsonl (default: the run's copy).")
@click.option("--max-entity-length", default=None, type=click.IntRange(min=1), help="Tokenizer default.")
@click.option(
    "--entity-aware-attention/--plain-attention",
    "entity_aware_attention",
    default=None,
    help="use_entity_aware_attention in the written config (default: as trained; the entity-aware "
    "queries are written either way).",
)
def export(source, out_dir, tokenizer, entity_vocab, max_entity_length, entity_aware_attention) -> None:
    """Write RUN_DIR's latest (or CHECKPOINT's) model as a Hugging Face directory.

    \b
    Example:
      mluke-train export runs/demo runs/demo/export
    """
    from .export import export as run

    record = run(source, out_dir, tokenizer, entity_vocab, max_entity_length, entity_aware_attention)
    click.echo(f"exported step {record['step']} of {record['checkpoint']} to {out_dir}", err=True)


@click.group("finetune", context_settings=CONTEXT)
def finetune_group() -> None:
    """Fine-tune a LUKE/mLUKE model on a downstream task."""


@finetune_group.command("qa")
@run_options(ft)
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
    default=ft("min_commonness"),
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Link a mention only to an entity with p(entity|mention) at least this.",
)
@click.option(
    "--min-mention-count",
    default=ft("min_mention_count"),
    show_default=True,
    type=click.IntRange(min=1),
    help="Use only anchors seen at least this many times as links.",
)
@click.option(
    "--min-link-prob",
    default=ft("min_link_prob"),
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Detect a mention only if its text is a link at least this often (luke: 0.01).",
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
    default=ft("doc_stride"),
    show_default=True,
    type=click.IntRange(min=1),
    help="Context tokens between the starts of two windows.",
)
@click.option(
    "--max-query-length", default=ft("max_query_length"), show_default=True, type=click.IntRange(min=1)
)
@click.option(
    "--max-answer-length",
    default=ft("max_answer_length"),
    show_default=True,
    type=click.IntRange(min=1),
    help="In tokens.",
)
@click.option("--n-best", default=ft("n_best"), show_default=True, type=click.IntRange(min=1))
@click.option(
    "--max-entity-length",
    default=ft("max_entity_length"),
    show_default=True,
    type=click.IntRange(min=1),
    help="Entities per window.",
)
@click.option(
    "--max-mention-length",
    default=ft("max_mention_length"),
    show_default=True,
    type=click.IntRange(min=1),
    help="Tokens per mention.",
)
@click.option("--epochs", default=ft("epochs"), show_default=True, type=float)
@click.option("--max-steps", default=None, type=click.IntRange(min=1), help="Instead of --epochs.")
@click.option(
    "--batch-size",
    default=ft("batch_size"),
    show_default=True,
    type=click.IntRange(min=1),
    help="Global batch (windows).",
)
@click.option(
    "--eval-batch-size", default=ft("eval_batch_size"), show_default=True, type=click.IntRange(min=1)
)
@click.option(
    "--learning-rate", "--lr", "learning_rate", default=ft("learning_rate"), show_default=True, type=float
)
@click.option("--warmup-ratio", default=ft("warmup_ratio"), show_default=True, type=float)
@click.option("--warmup-steps", default=None, type=click.IntRange(min=0), help="Instead of --warmup-ratio.")
@click.option(
    "--metric",
    default="auto",
    show_default=True,
    type=click.Choice(METRICS),
    help="auto: character-level (MLQA) for zh/ja/th, SQuAD v1.1 otherwise.",
)
def finetune_qa_command(evals: tuple[str, ...], eval_langs: tuple[str, ...], **kwargs: Any) -> None:
    """Fine-tune LukeForQuestionAnswering on SQuAD-format data and score every --eval set.

    \b
    Examples:
      mluke-train finetune qa --model runs/demo/export --train squad.json \\
          --eval xquad.de.json --eval xquad.ja.json --output runs/qa
      mluke-train finetune qa --model mluke-base --entities mentions \\
          --mention-dict out/vocab/mentions --train squad.json --eval xquad.*.json --output runs/qa-e
    """
    from .finetune import RESULTS_FILE, finetune_qa, parse_eval

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


@click.group("evaluate", context_settings=CONTEXT)
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
    from .qa import language_of
    from .qa_metrics import evaluate, format_table, read_json, read_predictions, reference_answers

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


main.add_command(finetune_group)
main.add_command(evaluate_group)


if __name__ == "__main__":  # python -m training.cli
    try:
        main()
    except TrainingError as error:  # pragma: no cover - click handles it inside main()
        error.show()
        sys.exit(error.exit_code)
