"""``mluke-data build``: fetch -> extract -> vocab -> tokenizer -> shards -> verify, skipping done stages.

Each stage records ``reports/{stage}.stage.json``: a fingerprint of its inputs and settings and the
list of files it wrote. A stage is skipped when the fingerprint it would have now equals the
recorded one and every recorded output is still there with its recorded size and hash. The input
fingerprint of a stage covers the *outputs* of the stages it reads, so a stage whose upstream
output changed runs again, and one whose upstream re-ran into byte-identical files does not.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import click
from apache_beam.io.filesystems import FileSystems

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    UserError,
    beam_options,
    check_min_languages,
    check_writable,
    is_dry_run,
    parse_langs_option,
)
from pipeline.shards import shard_options
from schemas.pages import ERRORS_DIR, PAGES_DIR, REDIRECTS_DIR, REPORTS_DIR
from schemas.shards import LAYOUT_VERSION, MANIFEST, SHARDS_DIR, ShardSettings
from schemas.vocab import VOCAB_DIR
from transforms.files import match_files, write_atomically
from transforms.shards import ShardingPlan

STAGES = ("fetch", "extract", "vocab", "tokenizer", "shards", "verify")
# Files at most this big are hashed whole for fingerprints; bigger ones by size plus head and tail
# (hashing 100 GB of pages in the launcher would take longer than a stage).
_FULL_HASH_LIMIT = 256 << 20
_EDGE = 1 << 20


def _files(root: str, folder: str) -> list[str]:
    paths = match_files(f"{root.rstrip('/')}/{folder}/**")
    return [path for path in paths if not path.endswith((".tmp", ".stage.json"))]


def file_digest(path: str) -> str:
    """sha256 of a file's content (head, tail and size for files over 256 MB)."""
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    digest = hashlib.sha256(str(size).encode())
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        if size <= _FULL_HASH_LIMIT:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        else:
            digest.update(handle.read(_EDGE))
            handle.seek(size - _EDGE)
            digest.update(handle.read(_EDGE))
    return digest.hexdigest()


def tree_digest(root: str, folders: list[str]) -> list[list[str]]:
    """[relative path, digest] of every file under the folders."""
    prefix = root.rstrip("/") + "/"
    return [[path[len(prefix) :], file_digest(path)] for folder in folders for path in _files(root, folder)]


@dataclass
class StageRecord:
    stage: str
    fingerprint: str
    outputs: list[list[str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def _record_path(out: str, stage: str) -> str:
    return f"{out.rstrip('/')}/{REPORTS_DIR}/{stage}.stage.json"


def read_record(out: str, stage: str) -> StageRecord | None:
    path = _record_path(out, stage)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        try:
            return StageRecord(**json.loads(handle.read()))
        except (ValueError, TypeError):
            return None


def write_record(out: str, record: StageRecord) -> None:
    write_atomically(_record_path(out, record.stage), record.to_json().encode())


def fingerprint(stage: str, settings: dict[str, Any], inputs: list[list[str]]) -> str:
    payload = json.dumps(
        {"stage": stage, "settings": settings, "inputs": inputs}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def is_fresh(out: str, stage: str, print_: str, output_folders: list[str]) -> bool:
    record = read_record(out, stage)
    if record is None or record.fingerprint != print_ or not record.outputs:
        return False
    return record.outputs == tree_digest(out, output_folders)


@dataclass
class StageResult:
    stage: str
    status: str  # ran, skipped
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildSettings:
    langs: list[str] | None
    source: str
    dump_date: str | None
    mirror: str
    tokenizer: str | None
    tokenizer_vocab_size: int
    interwiki: str
    min_languages: int
    vocab_size: int
    shard_settings: ShardSettings
    sharding: ShardingPlan
    force: tuple[str, ...]


def stage_header(stage: str, note: str = "") -> None:
    """``[3/6] vocab`` on stderr (stdout stays the summary, or JSON under --json)."""
    line = f"[{STAGES.index(stage) + 1}/{len(STAGES)}] {stage}"
    click.echo(f"{line}: {note}" if note else line, err=True)


def run_stage(
    out: str,
    stage: str,
    settings: dict[str, Any],
    input_folders: list[str],
    output_folders: list[str],
    force: bool,
    run: Callable[[], dict[str, Any]],
    extra_inputs: list[list[str]] | None = None,
    dry_run: bool = False,
) -> StageResult:
    started = time.monotonic()
    print_ = fingerprint(stage, settings, tree_digest(out, input_folders) + (extra_inputs or []))
    if not force and is_fresh(out, stage, print_, output_folders):
        stage_header(stage, "skipped (done for the same inputs and settings)")
        return StageResult(stage, "skipped", time.monotonic() - started)
    stage_header(stage)
    report = run()
    if dry_run:
        return StageResult(stage, "dry run", time.monotonic() - started, report or {})
    write_record(out, StageRecord(stage, print_, tree_digest(out, output_folders)))
    return StageResult(stage, "ran", time.monotonic() - started, report)


def run_build(
    out: str, settings: BuildSettings, beam_args: list[str], workers: int | None
) -> list[StageResult]:
    from pipeline.extract import DUMPS_DIR, find_mirror_inputs, run_extract
    from pipeline.shards import resolve_tokenizer_path, run_shards
    from pipeline.tokenizer import TrainSettings, train_tokenizer
    from pipeline.vocab import VocabSettings, run_vocab_build
    from transforms.extract import ExtractSettings

    results: list[StageResult] = []
    langs = settings.langs
    dry_run = is_dry_run(beam_args)
    dumps = f"{out.rstrip('/')}/{DUMPS_DIR}"
    dump_date = settings.dump_date

    # fetch: the sample is written, a mirror downloaded (fetch skips files already verified).
    started = time.monotonic()
    if settings.source == "sample":
        from pipeline.sample import SAMPLE_DATE, SAMPLE_LANGS, write_sample_mirror

        unknown = [lang for lang in langs or [] if lang not in SAMPLE_LANGS]
        if unknown:
            raise UserError(f"the sample has no {unknown[0]!r}; it has {','.join(SAMPLE_LANGS)}")
        check_min_languages(langs or list(SAMPLE_LANGS), settings.min_languages)
        if not dry_run:
            check_writable(out)
        stage_header("fetch", "writing the bundled sample wiki")
        write_sample_mirror(dumps, langs=langs)
        dump_date = SAMPLE_DATE
        results.append(StageResult("fetch", "sample", time.monotonic() - started))
    else:
        from pipeline.fetch import run_fetch

        if not langs or not dump_date:
            raise UserError("a build from a mirror needs --langs and --dump-date (a date or 'latest')")
        check_min_languages(langs, settings.min_languages)
        if not dry_run:
            check_writable(out)
        stage_header("fetch")
        plan = run_fetch(langs=",".join(langs), dump_date=dump_date, out=out, mirror=settings.mirror,
                         beam_args=beam_args, workers=workers, messages_to_stderr=True)  # fmt: skip
        # Languages may end up on different dates ('latest'); extract then takes each one's newest.
        dates = set(plan.dates.values())
        dump_date = dates.pop() if len(dates) == 1 else None
        results.append(StageResult("fetch", "ran", time.monotonic() - started))

    extract_settings = ExtractSettings()
    inputs = find_mirror_inputs(dumps, langs, dump_date if dump_date != "latest" else None)
    dump_digests = [[dump.path.rsplit("/", 1)[-1], file_digest(dump.path)] for dump in inputs]
    results.append(
        run_stage(
            out, "extract", {"extract": asdict(extract_settings), "langs": langs}, [],
            [PAGES_DIR, REDIRECTS_DIR, ERRORS_DIR], "extract" in settings.force,
            lambda: run_extract(out, inputs, extract_settings, 16 << 20, beam_args, workers),
            extra_inputs=dump_digests, dry_run=dry_run,
        )
    )  # fmt: skip

    vocab_settings = VocabSettings(min_languages=settings.min_languages, vocab_size=settings.vocab_size)
    props = [[p.rsplit("/", 1)[-1], file_digest(p)] for p in _files(out, DUMPS_DIR) if "page_props" in p]
    results.append(
        run_stage(
            out, "vocab", {"vocab": asdict(vocab_settings), "interwiki": settings.interwiki, "langs": langs},
            [PAGES_DIR, REDIRECTS_DIR], [VOCAB_DIR], "vocab" in settings.force,
            lambda: run_vocab_build(out, langs=langs, interwiki=settings.interwiki,
                                    dump_date=dump_date if dump_date != "latest" else None,
                                    settings=vocab_settings, beam_args=beam_args, workers=workers),
            extra_inputs=props, dry_run=dry_run,
        )
    )  # fmt: skip

    if settings.tokenizer:
        tokenizer_path = resolve_tokenizer_path(out, settings.tokenizer)
        stage_header("tokenizer", f"given ({tokenizer_path})")
        results.append(StageResult("tokenizer", "given", 0.0, {"path": tokenizer_path}))
    else:
        train = TrainSettings(vocab_size=settings.tokenizer_vocab_size)
        results.append(
            run_stage(
                out, "tokenizer", {"tokenizer": asdict(train), "langs": langs}, [PAGES_DIR], ["tokenizer"],
                "tokenizer" in settings.force, lambda: train_tokenizer(out, langs, train), dry_run=dry_run,
            )
        )  # fmt: skip
        tokenizer_path = resolve_tokenizer_path(out, None)

    plan = settings.sharding
    results.append(
        run_stage(
            out, "shards",
            {"shards": asdict(settings.shard_settings), "plan": asdict(plan), "langs": langs,
             "layout": LAYOUT_VERSION},
            [PAGES_DIR, f"{VOCAB_DIR}"], [SHARDS_DIR], "shards" in settings.force,
            lambda: run_shards(out, tokenizer_path, settings.shard_settings, plan, langs, beam_args, workers),
            extra_inputs=[["tokenizer", file_digest(tokenizer_path)]], dry_run=dry_run,
        )
    )  # fmt: skip

    from transforms.verify import verify_workdir

    if dry_run:
        results.append(StageResult("verify", "dry run", 0.0))
        return results
    started = time.monotonic()
    stage_header("verify")
    verified = verify_workdir(out)
    results.append(
        StageResult("verify", "ok" if verified.ok else "failed", time.monotonic() - started,
                    {"problems": verified.problems, "shards": verified.shards, "rows": verified.rows})
    )  # fmt: skip
    return results


def build_summary(out: str, results: list[StageResult]) -> dict[str, Any]:
    from pipeline.shards import shard_stats

    root = out.rstrip("/")
    with FileSystems.open(f"{root}/{REPORTS_DIR}/extract.json") as handle:
        extract = json.loads(handle.read())["languages"]
    shards = shard_stats(root)["languages"] if FileSystems.exists(f"{root}/{MANIFEST}") else {}
    vocab_report_path = f"{root}/{VOCAB_DIR}/stats.json"
    vocab_size = None
    if FileSystems.exists(vocab_report_path):
        with FileSystems.open(vocab_report_path) as handle:
            vocab = json.loads(handle.read())
        vocab_size = vocab.get("entities")
    languages = {}
    for lang in sorted(set(extract) | set(shards)):
        languages[lang] = {
            "pages": extract.get(lang, {}).get("article", 0),
            "examples": shards.get(lang, {}).get("examples", 0),
            "tokens": shards.get(lang, {}).get("tokens", 0),
            "mentions": shards.get(lang, {}).get("mentions", 0),
        }
    warnings = [
        f"{lang}: 0 examples (no sentence of its pages links an entity of the vocabulary); "
        "see `mluke-data vocab stats` and reports/shards.json"
        for lang, row in languages.items()
        if row["examples"] == 0
    ]
    return {
        "languages": languages,
        "vocab_size": vocab_size,
        "stages": [{"stage": r.stage, "status": r.status, "seconds": round(r.seconds, 2)} for r in results],
        "warnings": warnings,
    }


def print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=100)
    title = f"mluke-data build (entity vocabulary: {summary['vocab_size']} entities + 4 special)"
    # min_width: a narrow table would wrap its title.
    table = Table(title=title, min_width=len(title) + 2)
    for column in ("lang", "pages", "examples", "tokens", "entity mentions"):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in summary["languages"].items():
        table.add_row(lang, *(f"{row[key]:,}" for key in ("pages", "examples", "tokens", "mentions")))
    console.print(table)
    stages = Table(title="stages")
    for column in ("stage", "status", "seconds"):
        stages.add_column(column, justify="right" if column == "seconds" else "left")
    for row in summary["stages"]:
        stages.add_row(row["stage"], row["status"], f"{row['seconds']:.1f}")
    console.print(stages)
    for warning in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@click.command(
    "build",
    context_settings=BEAM_COMMAND_SETTINGS,
    epilog=BEAM_EPILOG,
    help="""Run every stage: fetch, extract, vocab, tokenizer, shards, verify.

A stage whose outputs exist for the same inputs and settings is skipped (reports/{stage}.stage.json
records the fingerprint); --force STAGE runs it again.

\b
Examples:
  mluke-data build --source sample --out ./out
  mluke-data build --source sample --langs en --min-languages 1 --out ./out-en
  mluke-data build --langs en,ja,de --dump-date latest --out ./work --strict
  mluke-data build --langs ar,bn,de,el,en,es,fi,fr,hi,id,it,ja,ko,nl,pl,pt,ru,sv,sw,te,th,tr,vi,zh \\
      --dump-date 20261101 --out gs://BUCKET/mluke --tokenizer gs://BUCKET/xlmr/sentencepiece.bpe.model \\
      --runner DataflowRunner --project P --region R --temp_location gs://BUCKET/tmp \\
      --sdk_container_image REGION-docker.pkg.dev/P/REPO/mluke-data:0.1.0
""",
)
@click.option("--out", required=True, help="Work directory (local path or gs://...).")
@click.option("--langs", default=None, help="Comma-separated languages (sample: default all ten).")
@click.option(
    "--source",
    type=click.Choice(["mirror", "sample"]),
    default="mirror",
    show_default=True,
    help="Wikimedia dumps from --mirror, or the bundled offline sample.",
)
@click.option("--dump-date", default=None, help="YYYYMMDD or 'latest' (mirror source).")
@click.option("--mirror", default="https://dumps.wikimedia.org", show_default=True)
@click.option("--tokenizer", default=None, help="sentencepiece model to use instead of training one.")
@click.option("--tokenizer-vocab-size", type=click.IntRange(min=100), default=32000, show_default=True)
@click.option(
    "--interwiki",
    default="page-props",
    show_default=True,
    help="page-props | wikidata-json=PATH | items-per-site=PATH",
)
@click.option("--min-languages", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--vocab-size", type=click.IntRange(min=1), default=1_200_000, show_default=True)
@shard_options
@click.option(
    "--force", type=click.Choice(STAGES[1:5]), multiple=True, help="Run this stage even if it is done."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--strict", is_flag=True, help="Exit non-zero when a language ends with 0 examples (a warning otherwise)."
)
@beam_options
def build_command(
    out: str,
    langs: str | None,
    source: str,
    dump_date: str | None,
    mirror: str,
    tokenizer: str | None,
    tokenizer_vocab_size: int,
    interwiki: str,
    min_languages: int,
    vocab_size: int,
    shard_settings: ShardSettings,
    sharding: ShardingPlan,
    force: tuple[str, ...],
    as_json: bool,
    strict: bool,
    beam_args: list[str],
    workers: int | None,
) -> None:
    lang_list = parse_langs_option(langs)
    settings = BuildSettings(
        langs=lang_list,
        source=source,
        dump_date=dump_date,
        mirror=mirror,
        tokenizer=tokenizer,
        tokenizer_vocab_size=tokenizer_vocab_size,
        interwiki=interwiki,
        min_languages=min_languages,
        vocab_size=vocab_size,
        shard_settings=shard_settings,
        sharding=sharding,
        force=force,
    )
    results = run_build(out, settings, beam_args, workers)
    summary = build_summary(out, results)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        print_summary(summary)
    if as_json:
        for warning in summary["warnings"]:
            click.echo(f"warning: {warning}", err=True)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        for problem in failed[0].report.get("problems", [])[:20]:
            click.echo(f"FAIL {problem}", err=True)
        raise SystemExit(1)
    if strict and summary["warnings"]:
        click.echo(f"Error: --strict: {len(summary['warnings'])} language(s) ended with 0 examples", err=True)
        raise SystemExit(1)
