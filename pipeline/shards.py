"""``mluke-data shards build|stats|show`` and ``mluke-data verify``."""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from rich.console import Console
from rich.table import Table

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    UserError,
    beam_options,
    create_pipeline,
    is_dry_run,
    parse_langs_option,
    pipeline_options,
)
from pipeline.progress import FileProgress
from pipeline.tokenizer import MODEL_FILE, TOKENIZER_DIR
from schemas.pages import PAGES_DIR
from schemas.shards import MANIFEST, SHARD_SUFFIX, SHARDS_DIR, Manifest, ShardSettings
from schemas.tokens import UNK_ID
from schemas.vocab import ENTITIES_PARQUET, ENTITY_VOCAB_JSONL, VOCAB_DIR
from schemas.vocab_tables import TITLES_DIR
from transforms.files import match_files, sha256_of, total_bytes
from transforms.shards import (
    JOIN_DIR,
    PARTS_DIR,
    BuildShards,
    ShardingPlan,
    ShardInputs,
    read_parquet_rows,
)
from transforms.title_join import bucket_count, title_rows
from transforms.verify import verify_report, verify_workdir


def _read(path: str) -> bytes:
    with FileSystems.open(path) as handle:
        return handle.read()


def resolve_tokenizer_path(out: str, tokenizer: str | None) -> str:
    """A sentencepiece model file: --tokenizer (file or directory) or WORKDIR/tokenizer/."""
    candidate = tokenizer or f"{out.rstrip('/')}/{TOKENIZER_DIR}"
    if candidate.endswith(".model"):
        if not FileSystems.exists(candidate):
            raise UserError(f"tokenizer model not found: {candidate}")
        return candidate
    preferred = f"{candidate.rstrip('/')}/{MODEL_FILE}"
    if FileSystems.exists(preferred):
        return preferred
    models = match_files(f"{candidate.rstrip('/')}/*.model")
    if len(models) == 1:
        return models[0]
    if tokenizer:
        raise UserError(f"no sentencepiece .model file in {tokenizer}")
    raise UserError(
        f"no tokenizer in {candidate}: pass --tokenizer PATH (e.g. XLM-R's sentencepiece.bpe.model) "
        "or run `mluke-data tokenizer train` first"
    )


def entity_vocab_size(out: str) -> int:
    """Number of entity ids (special ids included): max id in entities.parquet + 1."""
    path = f"{out.rstrip('/')}/{VOCAB_DIR}/{ENTITIES_PARQUET}"
    with FileSystems.open(path) as handle:
        ids = pq.ParquetFile(handle).read(columns=["id"]).column("id")
    largest = pc.max(ids).as_py() if len(ids) else None
    return max(3, largest if largest is not None else 3) + 1


def run_shards(
    out: str,
    tokenizer: str | None,
    settings: ShardSettings,
    plan: ShardingPlan,
    langs: list[str] | None,
    beam_args: list[str],
    workers: int | None = None,
) -> dict[str, Any]:
    from transforms.tokenization import load_tokenizer  # sentencepiece: loaded only when used

    root = out.rstrip("/")
    vocab_jsonl = f"{root}/{VOCAB_DIR}/{ENTITY_VOCAB_JSONL}"
    if not FileSystems.exists(vocab_jsonl):
        raise UserError(f"no entity vocabulary in {root}/{VOCAB_DIR}: run `mluke-data vocab build` first")
    tokenizer_path = resolve_tokenizer_path(out, tokenizer)
    page_files = match_files(f"{root}/{PAGES_DIR}/*/*.parquet")
    if langs:
        page_files = [p for p in page_files if p.split("/")[-2] in langs]
    if not page_files:
        raise UserError(f"no pages under {root}/{PAGES_DIR}: run `mluke-data extract` first")
    title_files = match_files(f"{root}/{VOCAB_DIR}/{TITLES_DIR}/*.parquet")
    title_buckets = {lang: bucket_count(rows) for lang, rows in title_rows(title_files).items()}
    tokenizer_model = load_tokenizer(tokenizer_path)
    inputs = ShardInputs(
        out=root,
        tokenizer_path=tokenizer_path,
        tokenizer_sha256=sha256_of(tokenizer_path),
        entity_vocab_sha256=sha256_of(vocab_jsonl),
        entity_vocab_size=entity_vocab_size(root),
        word_vocab_size=tokenizer_model.vocab_size,
    )
    stale = match_files(f"{root}/{SHARDS_DIR}/**")
    if stale and not is_dry_run(beam_args):
        FileSystems.delete(stale)
    options = pipeline_options(beam_args, workers=workers, input_bytes=total_bytes(page_files))
    # Each page file finishes by renaming its examples part into place.
    parts = f"{root}/{SHARDS_DIR}/{PARTS_DIR}/*/*.{SHARD_SUFFIX}"
    with FileProgress("shards", parts, len(page_files), "page files"), create_pipeline(options) as pipeline:
        sources = {
            "page_files": pipeline | "PageFiles" >> beam.Create(page_files),
            "title_files": pipeline | "TitleFiles" >> beam.Create(title_files),
            "impulse": pipeline | "Impulse" >> beam.Create([None]),
        }
        _ = sources | "BuildShards" >> BuildShards(inputs, settings, plan, page_files, title_buckets)
    if not is_dry_run(beam_args):
        for folder in (PARTS_DIR, JOIN_DIR):
            temporary = match_files(f"{root}/{SHARDS_DIR}/{folder}/**")
            if temporary:
                FileSystems.delete(temporary)
            if "://" not in root:
                shutil.rmtree(f"{root}/{SHARDS_DIR}/{folder}", ignore_errors=True)
    return shard_stats(root)


# ---------------------------------------------------------------------------------------------
# Inspection


def load_manifest(out: str) -> Manifest:
    path = f"{out.rstrip('/')}/{MANIFEST}"
    if not FileSystems.exists(path):
        if FileSystems.exists(f"{out.rstrip('/')}/manifest.json"):
            raise UserError(
                f"the shards in {out} have an older layout (manifest.json beside shards/): "
                f"run `mluke-data shards build --out {out}` again"
            )
        raise UserError(f"no shards in {out}: run `mluke-data shards build` (or `mluke-data build`) first")
    return Manifest.from_json(_read(path))


def read_shard(out: str, relative: str) -> pa.Table:
    return pa.ipc.open_file(pa.BufferReader(_read(f"{out.rstrip('/')}/{relative}"))).read_all()


# Example lengths (in word tokens) counted in each bin of `shards stats`; the last bin is closed.
LENGTH_BINS = (0, 32, 64, 128, 256, 384, 512, 1 << 30)


def read_shard_batches(out: str, relative: str) -> Iterator[pa.RecordBatch]:
    """A shard's record batches, read one at a time (a shard is never held whole)."""
    with FileSystems.open(
        f"{out.rstrip('/')}/{relative}", compression_type=CompressionTypes.UNCOMPRESSED
    ) as handle:
        reader = pa.ipc.open_file(handle)
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index)


def _batch_sums(batch: pa.RecordBatch) -> dict[str, Any]:
    lengths = pc.list_value_length(batch.column("word_ids")).to_numpy()
    words = pc.list_flatten(batch.column("word_ids")).to_numpy()
    starts = pc.list_flatten(batch.column("entity_starts")).to_numpy()
    ends = pc.list_flatten(batch.column("entity_ends")).to_numpy()
    return {
        "examples": batch.num_rows,
        "tokens": int(lengths.sum()),
        "mentions": int(pc.sum(pc.list_value_length(batch.column("entity_ids"))).as_py() or 0),
        "entity_tokens": int((ends - starts).sum()),
        "unk_tokens": int((words == UNK_ID).sum()),
        "histogram": np.histogram(lengths, bins=LENGTH_BINS)[0],
    }


def shard_stats(out: str, langs: list[str] | None = None) -> dict[str, Any]:
    """Per language: examples, tokens, mentions, their ratios and a length histogram.

    Every figure is a sum over record batches, so memory stays at one batch whatever the size.
    """
    manifest = load_manifest(out)
    result: dict[str, Any] = {"languages": {}}
    for lang in sorted({entry.lang for entry in manifest.shards}):
        if langs and lang not in langs:
            continue
        entries = [entry for entry in manifest.shards if entry.lang == lang]
        totals: dict[str, Any] = {
            "examples": 0,
            "tokens": 0,
            "mentions": 0,
            "entity_tokens": 0,
            "unk_tokens": 0,
            "histogram": np.zeros(len(LENGTH_BINS) - 1, dtype=np.int64),
        }
        for entry in entries:
            for batch in read_shard_batches(out, entry.path):
                for key, value in _batch_sums(batch).items():
                    totals[key] = totals[key] + value
        examples, tokens = totals["examples"], totals["tokens"]
        if examples == 0:
            result["languages"][lang] = {"examples": 0, "shards": len(entries)}
            continue
        result["languages"][lang] = {
            "shards": len(entries),
            "examples": examples,
            "tokens": tokens,
            "mentions": totals["mentions"],
            "mentions_per_example": round(totals["mentions"] / examples, 3),
            "entity_token_share": round(totals["entity_tokens"] / max(tokens, 1), 4),
            "mean_length": round(tokens / examples, 1),
            # Tokens the tokenizer could not spell (<unk>), of all tokens but <s> and </s>.
            "unk_rate": round(totals["unk_tokens"] / max(tokens - 2 * examples, 1), 5),
            "length_histogram": {
                f"{lo}-{hi - 1 if hi < 1 << 30 else 'max'}": int(n)
                for lo, hi, n in zip(LENGTH_BINS[:-1], LENGTH_BINS[1:], totals["histogram"], strict=True)
            },
        }
    return result


def print_stats(stats: dict[str, Any]) -> None:
    table = Table(title="shards")
    for column in (
        "lang",
        "shards",
        "examples",
        "tokens",
        "mentions",
        "mentions/ex",
        "entity tokens",
        "mean len",
        "<unk>",
    ):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in stats["languages"].items():
        table.add_row(
            lang,
            str(row.get("shards", 0)),
            f"{row.get('examples', 0):,}",
            f"{row.get('tokens', 0):,}",
            f"{row.get('mentions', 0):,}",
            f"{row['mentions_per_example']:.2f}" if "mentions_per_example" in row else "-",
            f"{100 * row.get('entity_token_share', 0):.1f}%",
            str(row.get("mean_length", "-")),
            f"{100 * row['unk_rate']:.2f}%" if "unk_rate" in row else "-",
        )
    # At least 120 columns, so a log file or a narrow terminal does not cut the headers.
    Console(width=max(120, shutil.get_terminal_size((120, 40)).columns)).print(table)


def plot_stats(stats: dict[str, Any], path: str) -> None:
    try:
        import matplotlib
    except ImportError as error:
        raise UserError(
            "--plot needs matplotlib: run `bash scripts/setup.sh` (or `.venv/bin/pip install matplotlib`)"
        ) from error

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = list(stats["languages"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for lang in langs:
        histogram = stats["languages"][lang].get("length_histogram", {})
        left.plot(list(histogram), list(histogram.values()), marker="o", label=lang)
    left.set_title("sequence length histogram")
    left.set_xlabel("tokens")
    left.set_ylabel("examples")
    left.legend(fontsize=7, ncol=2)
    right.bar(langs, [stats["languages"][lang].get("mentions_per_example", 0) for lang in langs])
    right.set_title("entity mentions per example")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def entity_titles(out: str, lang: str) -> dict[int, str]:
    """Entity id -> title in ``lang`` (or in any language, marked with its code)."""
    path = f"{out.rstrip('/')}/{VOCAB_DIR}/{ENTITIES_PARQUET}"
    titles: dict[int, str] = {}
    for row in read_parquet_rows(path, columns=["id", "titles"]):
        names = row["titles"]
        own = [t["title"] for t in names if t["lang"] == lang]
        titles[row["id"]] = own[0] if own else (f"{names[0]['lang']}:{names[0]['title']}" if names else "?")
    return titles


def render_example(row: dict[str, Any], tokenizer: Any, titles: dict[int, str]) -> str:
    """The sequence as text with each entity span marked ``[[anchor|title]]``."""
    words = row["word_ids"]

    def decode(ids: list[int]) -> str:
        # sentencepiece drops the leading space of a decoded run; keep it where a word starts.
        text = tokenizer.decode(ids)
        return (" " + text) if ids and tokenizer.is_word_start[ids[0]] else text

    spans = sorted(zip(row["entity_starts"], row["entity_ends"], row["entity_ids"], strict=True))
    pieces: list[str] = []
    position = 1
    for start, end, entity in spans:
        pieces.append(decode(words[position:start]))
        anchor = decode(words[start:end])
        title = titles.get(entity, "[UNK]" if entity == 1 else str(entity))
        space = " " if anchor.startswith(" ") else ""
        pieces.append(f"{space}[[{anchor.strip()}|{title}]]")
        position = end
    pieces.append(decode(words[position : len(words) - 1]))
    return "".join(pieces).strip()


# ---------------------------------------------------------------------------------------------
# Commands


def shard_options(command: Any) -> Any:
    """The shard settings flags, handed to the command as ``shard_settings`` and ``sharding``."""

    defaults, plan = ShardSettings(), ShardingPlan()

    @click.option(
        "--max-seq-length", type=click.IntRange(min=8), default=defaults.max_seq_length, show_default=True
    )
    @click.option(
        "--max-entity-length",
        type=click.IntRange(min=1),
        default=defaults.max_entity_length,
        show_default=True,
    )
    @click.option(
        "--max-mention-length",
        type=click.IntRange(min=1),
        default=defaults.max_mention_length,
        show_default=True,
    )
    @click.option(
        "--min-sentence-length",
        type=click.IntRange(min=0),
        default=defaults.min_sentence_length,
        show_default=True,
    )
    @click.option("--include-unk-entities", is_flag=True, help="Keep links outside the vocabulary as [UNK].")
    @click.option(
        "--shard-rows",
        type=click.IntRange(min=1),
        default=plan.shard_rows,
        show_default=True,
        help="Examples per shard (the shard count per language follows).",
    )
    @click.option(
        "--shard-mb",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Target shard size in MB instead of --shard-rows (rows stay equal across shards).",
    )
    @click.option(
        "--num-shards",
        type=click.IntRange(min=1),
        default=None,
        help="Fixed shard count per language (e.g. ranks x loader workers).",
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any,
        max_seq_length: int,
        max_entity_length: int,
        max_mention_length: int,
        min_sentence_length: int,
        include_unk_entities: bool,
        shard_rows: int,
        shard_mb: float | None,
        num_shards: int | None,
        **kwargs: Any,
    ) -> Any:
        kwargs["shard_settings"] = ShardSettings(
            max_seq_length=max_seq_length,
            max_entity_length=max_entity_length,
            max_mention_length=max_mention_length,
            min_sentence_length=min_sentence_length,
            include_unk_entities=include_unk_entities,
        )
        shard_bytes = int(shard_mb * 1024 * 1024) if shard_mb else None
        kwargs["sharding"] = ShardingPlan(num_shards, shard_rows, shard_bytes)
        return command(*args, **kwargs)

    return wrapper


@click.group("shards", help="Build and inspect the Arrow pretraining shards.")
def shards_group() -> None:
    pass


@shards_group.command(
    "build",
    context_settings=BEAM_COMMAND_SETTINGS,
    epilog=BEAM_EPILOG,
    help="""Tokenize pages and write WORKDIR/shards/{lang}/*.arrow, _metadata/, _manifest.json, README.md.

\b
Examples:
  mluke-data shards build --out ./out
  mluke-data shards build --out ./out --tokenizer xlmr/sentencepiece.bpe.model --num-shards 64
""",
)
@click.option("--out", required=True, help="Work directory (local path or gs://...).")
@click.option("--tokenizer", default=None, help="sentencepiece .model file or a directory with one.")
@click.option("--langs", default=None, help="Comma-separated languages (default: all extracted).")
@shard_options
@click.option("--json", "as_json", is_flag=True, help="Print the stats as JSON.")
@beam_options
def build_command(
    out: str,
    tokenizer: str | None,
    langs: str | None,
    shard_settings: ShardSettings,
    sharding: ShardingPlan,
    as_json: bool,
    beam_args: list[str],
    workers: int | None,
) -> None:
    lang_list = parse_langs_option(langs)
    started = time.monotonic()
    stats = run_shards(out, tokenizer, shard_settings, sharding, lang_list, beam_args, workers)
    if as_json:
        click.echo(json.dumps(stats, indent=1))
    else:
        print_stats(stats)
        click.echo(f"shards written in {time.monotonic() - started:.1f} s")


@shards_group.command(
    "stats",
    help="""Per-language examples, tokens, mentions, <unk> rate and length histogram.

\b
Examples:
  mluke-data shards stats ./out
  mluke-data shards stats ./out --langs en,ja --json
  mluke-data shards stats ./out --plot shards.png
""",
)
@click.argument("workdir")
@click.option("--langs", default=None, help="Comma-separated languages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", "plot_path", default=None, help="Write a PNG with the distributions.")
def stats_command(workdir: str, langs: str | None, as_json: bool, plot_path: str | None) -> None:
    stats = shard_stats(workdir, parse_langs_option(langs))
    if as_json:
        click.echo(json.dumps(stats, indent=1))
    else:
        print_stats(stats)
    if plot_path:
        plot_stats(stats, plot_path)
        click.echo(f"plot written to {plot_path}", err=True)


@shards_group.command(
    "show",
    help="""Decode examples back to text with entity spans marked [[anchor|title]].

\b
Examples:
  mluke-data shards show ./out --lang ja -n 3
  mluke-data shards show ./out --lang de --json     # one JSON object per line, with the ids
""",
)
@click.argument("workdir")
@click.option("--lang", required=True, help="Language of the shards to show.")
@click.option("-n", "count", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--tokenizer", default=None, help="sentencepiece model (default: WORKDIR/tokenizer).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per example (JSON Lines).")
def show_command(workdir: str, lang: str, count: int, tokenizer: str | None, as_json: bool) -> None:
    from transforms.tokenization import load_tokenizer  # sentencepiece: loaded only when used

    manifest = load_manifest(workdir)
    entries = [entry for entry in manifest.shards if entry.lang == lang and entry.rows]
    if not entries:
        raise UserError(f"no examples for {lang!r}; languages: {sorted({e.lang for e in manifest.shards})}")
    model = load_tokenizer(resolve_tokenizer_path(workdir, tokenizer))
    titles = entity_titles(workdir, lang)
    shown = 0
    for entry in entries:
        for row in read_shard(workdir, entry.path).to_pylist():
            if as_json:
                record = {"shard": entry.path, **row, "text": render_example(row, model, titles)}
                record["entities"] = [titles.get(entity, "[UNK]") for entity in row["entity_ids"]]
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                click.echo(f"--- {entry.path} page {row['page_id']} ({len(row['word_ids'])} tokens, "
                           f"{len(row['entity_ids'])} entities)")  # fmt: skip
                click.echo(render_example(row, model, titles))
            shown += 1
            if shown == count:
                return


@click.command(
    "verify",
    help="""Check shards against shards/_manifest.json and the data contract; non-zero exit on any problem.

\b
Examples:
  mluke-data verify ./out
  mluke-data verify ./out --json
""",
)
@click.argument("workdir")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_command(workdir: str, as_json: bool) -> None:
    result = verify_workdir(workdir)
    if as_json:
        click.echo(verify_report(result))
    elif result.ok:
        click.echo(f"OK: {result.shards} shards, {result.rows:,} examples verified")
    else:
        for problem in result.problems:
            click.echo(f"FAIL {problem}", err=True)
    if not result.ok:
        raise SystemExit(1)
