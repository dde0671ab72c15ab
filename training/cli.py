"""The `mluke-train` command: pretrain, plan, export."""

from __future__ import annotations

import json
import sys

import click

from .errors import TrainingError


def _langs(value: str | None) -> list[str] | None:
    if not value:
        return None
    langs = [lang.strip() for lang in value.split(",") if lang.strip()]
    if len(set(langs)) != len(langs):
        raise click.BadParameter("a language is listed twice")
    return langs


# Commands that run models need torch and transformers (the `train` extra); plan and evaluate do not.
_NEEDS_TORCH = {"pretrain", "export", "finetune"}


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Pretrain mLUKE-style models on the shards and export them to Hugging Face format."""
    import importlib.util

    if ctx.invoked_subcommand in _NEEDS_TORCH:
        missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
        if missing:
            raise click.ClickException(
                f"`mluke-train {ctx.invoked_subcommand}` needs {' and '.join(missing)}: "
                "run `bash scripts/setup.sh --train` (or pip install 'mluke-data[train]')"
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
        default=0.7,
        show_default=True,
        type=float,
        help="Language sampling exponent alpha: p ~ size^alpha.",
    )(command)
    return command


@main.command()
@_data_options
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--tokenizer", default=None, help="Sentencepiece model (default WORKDIR/tokenizer/).")
@click.option("--entity-vocab", default=None, help="entity_vocab.jsonl (default WORKDIR/vocab/).")
@click.option("--preset", default="base", show_default=True, type=click.Choice(["tiny", "base", "large"]))
@click.option(
    "--config", "config_file", default=None, type=click.Path(dir_okay=False), help="LukeConfig JSON."
)
@click.option("--init", default=None, help="Start from a Hugging Face model dir, run dir or checkpoint.")
@click.option("--resume", is_flag=True, help="Continue the run in --output from its latest checkpoint.")
@click.option("--stage", default=2, show_default=True, type=click.IntRange(1, 2), help="1: entity side only.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1))
@click.option("--epochs", default=None, type=float, help="Instead of --max-steps: passes over the examples.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1), help="Global batch (preset default).")
@click.option("--micro-batch-size", default=None, type=click.IntRange(min=1), help="Per process and forward.")
@click.option("--learning-rate", "--lr", "learning_rate", default=None, type=float)
@click.option("--warmup-steps", default=None, type=click.IntRange(min=0))
@click.option("--weight-decay", default=0.01, show_default=True, type=float)
@click.option("--max-grad-norm", default=1.0, show_default=True, type=float)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--shuffle-buffer", default=16384, show_default=True, type=click.IntRange(min=1))
@click.option("--word-mask-prob", default=0.15, show_default=True, type=float)
@click.option("--entity-mask-prob", default=0.15, show_default=True, type=float)
@click.option("--whole-word-masking", is_flag=True, help="Mask whole words (sentencepiece word starts).")
@click.option("--mask-words-in-entity-spans", is_flag=True, help="Also mask the words of masked entities.")
@click.option("--num-workers", default=2, show_default=True, type=click.IntRange(min=0))
@click.option("--log-every", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--save-every", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--keep-last", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "bf16", "fp32"]))
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available).")
@click.option("--verify-checksums", is_flag=True, help="Check every shard's sha256 against the manifest.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def pretrain(**kwargs) -> None:
    """Pretrain LukeForMaskedLM on the shards (also under torchrun for several processes)."""
    from .trainer import PretrainOptions
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


@main.command()
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
    """Total steps, tokens and estimated time of a run (luke's compute-total-training-steps)."""
    from .plan import format_plan, make_plan
    from .shards import open_shard_set

    shard_set = open_shard_set(list(data), _langs(langs))
    result = make_plan(
        shard_set, batch_size, epochs, max_steps, sampling_smoothing, tuple(throughputs), warmup_steps
    )
    click.echo(json.dumps(result, indent=1, sort_keys=True) if as_json else format_plan(result))


@main.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--tokenizer", default=None, help="Sentencepiece model (default: the run's copy).")
@click.option("--entity-vocab", default=None, help="entity_vocab.jsonl (default: the run's copy).")
@click.option("--max-entity-length", default=None, type=click.IntRange(min=1), help="Tokenizer default.")
def export(source, out_dir, tokenizer, entity_vocab, max_entity_length) -> None:
    """Write RUN_DIR's latest (or CHECKPOINT's) model as a Hugging Face directory."""
    from .export import export as run

    record = run(source, out_dir, tokenizer, entity_vocab, max_entity_length)
    click.echo(f"exported step {record['step']} of {record['checkpoint']} to {out_dir}", err=True)


# Fine-tuning and scoring (training/finetune.py; it loads torch only when a command runs).
from .finetune import evaluate_group, finetune_group  # noqa: E402

main.add_command(finetune_group)
main.add_command(evaluate_group)


if __name__ == "__main__":  # python -m training.cli
    try:
        main()
    except TrainingError as error:  # pragma: no cover - click handles it inside main()
        error.show()
        sys.exit(error.exit_code)
