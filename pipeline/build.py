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
from rich.console import Console
from rich.table import Table

from pipeline.extract import (
    DUMPS_DIR,
    WORK_ITEM_BYTES,
    DumpInput,
    dumps_dir,
    find_mirror_inputs,
    run_extract,
    sample_languages,
    write_sample_dumps,
)
from pipeline.fetch import DEFAULT_MIRROR, run_fetch
from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    SOURCE_SAMPLE,
    UserError,
    beam_options,
    check_min_languages,
    check_writable,
    is_dry_run,
    parse_langs_option,
    source_option,
)
from pipeline.shards import resolve_tokenizer_path, run_shards, shard_options, shard_stats
from pipeline.tokenizer import TOKENIZER_DIR, TrainSettings, train_tokenizer
from pipeline.vocab import VocabSettings, run_vocab_build
from schemas.pages import ERRORS_DIR, PAGES_DIR, REDIRECTS_DIR, REPORTS_DIR
from schemas.shards import LAYOUT_VERSION, MANIFEST, SHARDS_DIR, ShardSettings
from schemas.vocab import VOCAB_DIR
from transforms.extract import ExtractSettings
from transforms.files import match_files, write_atomically
from transforms.interwiki import PAGE_PROPS
from transforms.shards import ShardingPlan
from transforms.verify import verify_workdir

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
    status: str  # ran, skipped, dry run; fetch: sample; tokenizer: given; verify: ok, failed
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildSettings:
    """Flags of `build`; each stage's own settings are that stage's dataclass, defaults included."""

    langs: list[str] | None
    source: str  # SOURCE_DUMPS (from mirror) or SOURCE_SAMPLE
    dump_date: str | None
    interwiki: str  # page-props | wikidata-json=PATH | items-per-site=PATH
    mirror: str = DEFAULT_MIRROR
    tokenizer: str | None = None  # a given sentencepiece model; None trains one
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    vocab: VocabSettings = field(default_factory=VocabSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    shards: ShardSettings = field(default_factory=ShardSettings)
    sharding: ShardingPlan = field(default_factory=ShardingPlan)
    force: tuple[str, ...] = ()


@dataclass
class BuildContext:
    """What the stages of one build share. Fetch fills in the dumps extract reads."""

    out: str
    settings: BuildSettings
    beam_args: list[str]
    workers: int | None
    dry_run: bool
    dump_date: str | None = None  # after fetch: the date of every language, or None (each its newest)
    dumps: list[DumpInput] = field(default_factory=list)

    @property
    def langs(self) -> list[str] | None:
        return self.settings.langs

    @property
    def date_to_read(self) -> str | None:
        return self.dump_date if self.dump_date != "latest" else None

    def tokenizer_path(self) -> str:
        return resolve_tokenizer_path(self.out, self.settings.tokenizer)


@dataclass(frozen=True)
class Stage:
    """One step of `build`.

    A stage with ``settings`` is fingerprinted: it is skipped when the fingerprint of its settings,
    the files under its ``inputs`` folders and its ``input_files`` equals the one recorded in
    ``reports/{name}.stage.json`` and its ``outputs`` folders are as recorded; ``run`` returns its
    report. A stage without (fetch, a given tokenizer, verify) runs every time and returns its
    StageResult itself.
    """

    name: str
    run: Callable[[BuildContext], Any]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    settings: Callable[[BuildContext], dict[str, Any]] | None = None
    input_files: Callable[[BuildContext], list[list[str]]] = lambda ctx: []


def stage_header(stage: str, note: str = "") -> None:
    """``[3/6] vocab`` on stderr (stdout stays the summary, or JSON under --json)."""
    line = f"[{STAGES.index(stage) + 1}/{len(STAGES)}] {stage}"
    click.echo(f"{line}: {note}" if note else line, err=True)


def _digests(paths: list[str]) -> list[list[str]]:
    """[file name, digest] of each file."""
    return [[path.rsplit("/", 1)[-1], file_digest(path)] for path in paths]


# ---------------------------------------------------------------------------------------------
# The stages


def _fetch_sample(ctx: BuildContext) -> StageResult:
    """The bundled sample wiki, written into WORKDIR/dumps."""
    started = time.monotonic()
    check_min_languages(sample_languages(ctx.langs), ctx.settings.vocab.min_languages)
    if not ctx.dry_run:
        check_writable(ctx.out)
    stage_header("fetch", "writing the bundled sample wiki")
    ctx.dump_date = write_sample_dumps(ctx.out, ctx.langs)
    ctx.dumps = find_mirror_inputs(dumps_dir(ctx.out), ctx.langs, ctx.date_to_read)
    return StageResult("fetch", "sample", time.monotonic() - started)


def _fetch_dumps(ctx: BuildContext) -> StageResult:
    """Dumps from the mirror (fetch skips files already verified)."""
    started = time.monotonic()
    langs, dump_date = ctx.langs, ctx.settings.dump_date
    if not langs or not dump_date:
        raise UserError("a build from a mirror needs --langs and --dump-date (a date or 'latest')")
    check_min_languages(langs, ctx.settings.vocab.min_languages)
    if not ctx.dry_run:
        check_writable(ctx.out)
    stage_header("fetch")
    plan = run_fetch(
        langs=",".join(langs),
        dump_date=dump_date,
        out=ctx.out,
        mirror=ctx.settings.mirror,
        beam_args=ctx.beam_args,
        workers=ctx.workers,
        messages_to_stderr=True,
    )
    # Languages may end up on different dates ('latest'); extract then takes each one's newest.
    dates = set(plan.dates.values())
    ctx.dump_date = dates.pop() if len(dates) == 1 else None
    ctx.dumps = find_mirror_inputs(dumps_dir(ctx.out), langs, ctx.date_to_read)
    return StageResult("fetch", "ran", time.monotonic() - started)


def _extract(ctx: BuildContext) -> dict[str, Any]:
    extract = ctx.settings.extract
    return run_extract(ctx.out, ctx.dumps, extract, WORK_ITEM_BYTES, ctx.beam_args, ctx.workers)


def _vocab(ctx: BuildContext) -> dict[str, Any]:
    return run_vocab_build(
        ctx.out,
        langs=ctx.langs,
        interwiki=ctx.settings.interwiki,
        dump_date=ctx.date_to_read,
        settings=ctx.settings.vocab,
        beam_args=ctx.beam_args,
        workers=ctx.workers,
    )


def _page_props(ctx: BuildContext) -> list[list[str]]:
    return _digests([path for path in _files(ctx.out, DUMPS_DIR) if "page_props" in path])


def _given_tokenizer(ctx: BuildContext) -> StageResult:
    path = ctx.tokenizer_path()
    stage_header("tokenizer", f"given ({path})")
    return StageResult("tokenizer", "given", 0.0, {"path": path})


def _train_tokenizer(ctx: BuildContext) -> dict[str, Any]:
    return train_tokenizer(ctx.out, ctx.langs, ctx.settings.train)


def _shards(ctx: BuildContext) -> dict[str, Any]:
    settings = ctx.settings
    return run_shards(
        ctx.out,
        ctx.tokenizer_path(),
        settings.shards,
        settings.sharding,
        ctx.langs,
        ctx.beam_args,
        ctx.workers,
    )


def _verify(ctx: BuildContext) -> StageResult:
    if ctx.dry_run:
        return StageResult("verify", "dry run", 0.0)
    started = time.monotonic()
    stage_header("verify")
    verified = verify_workdir(ctx.out)
    report = {"problems": verified.problems, "shards": verified.shards, "rows": verified.rows}
    return StageResult("verify", "ok" if verified.ok else "failed", time.monotonic() - started, report)


def build_stages(settings: BuildSettings) -> list[Stage]:
    """The stages of a build, in order (their names are STAGES)."""
    if settings.tokenizer:
        tokenizer = Stage("tokenizer", _given_tokenizer)
    else:
        tokenizer = Stage(
            "tokenizer",
            _train_tokenizer,
            inputs=(PAGES_DIR,),
            outputs=(TOKENIZER_DIR,),
            settings=lambda ctx: {"tokenizer": asdict(ctx.settings.train), "langs": ctx.langs},
        )
    return [
        Stage("fetch", _fetch_sample if settings.source == SOURCE_SAMPLE else _fetch_dumps),
        Stage(
            "extract",
            _extract,
            outputs=(PAGES_DIR, REDIRECTS_DIR, ERRORS_DIR),
            settings=lambda ctx: {"extract": asdict(ctx.settings.extract), "langs": ctx.langs},
            input_files=lambda ctx: _digests([dump.path for dump in ctx.dumps]),
        ),
        Stage(
            "vocab",
            _vocab,
            inputs=(PAGES_DIR, REDIRECTS_DIR),
            outputs=(VOCAB_DIR,),
            settings=lambda ctx: {
                "vocab": asdict(ctx.settings.vocab),
                "interwiki": ctx.settings.interwiki,
                "langs": ctx.langs,
            },
            input_files=_page_props,
        ),
        tokenizer,
        Stage(
            "shards",
            _shards,
            inputs=(PAGES_DIR, VOCAB_DIR),
            outputs=(SHARDS_DIR,),
            settings=lambda ctx: {
                "shards": asdict(ctx.settings.shards),
                "plan": asdict(ctx.settings.sharding),
                "langs": ctx.langs,
                "layout": LAYOUT_VERSION,
            },
            input_files=lambda ctx: [["tokenizer", file_digest(ctx.tokenizer_path())]],
        ),
        Stage("verify", _verify),
    ]


def run_stage(ctx: BuildContext, stage: Stage) -> StageResult:
    """Run one stage, or skip it when it is done for the same inputs and settings."""
    if stage.settings is None:
        return stage.run(ctx)
    started = time.monotonic()
    inputs = tree_digest(ctx.out, list(stage.inputs)) + stage.input_files(ctx)
    print_ = fingerprint(stage.name, stage.settings(ctx), inputs)
    outputs = list(stage.outputs)
    if stage.name not in ctx.settings.force and is_fresh(ctx.out, stage.name, print_, outputs):
        stage_header(stage.name, "skipped (done for the same inputs and settings)")
        return StageResult(stage.name, "skipped", time.monotonic() - started)
    stage_header(stage.name)
    report = stage.run(ctx)
    if ctx.dry_run:
        return StageResult(stage.name, "dry run", time.monotonic() - started, report or {})
    write_record(ctx.out, StageRecord(stage.name, print_, tree_digest(ctx.out, outputs)))
    return StageResult(stage.name, "ran", time.monotonic() - started, report)


def run_build(
    out: str, settings: BuildSettings, beam_args: list[str], workers: int | None = None
) -> list[StageResult]:
    ctx = BuildContext(out, settings, beam_args, workers, is_dry_run(beam_args), dump_date=settings.dump_date)
    return [run_stage(ctx, stage) for stage in build_stages(settings)]


def build_summary(out: str, results: list[StageResult]) -> dict[str, Any]:
    root = out.rstrip("/")
    with FileSystems.open(f"{root}/{REPORTS_DIR}/extract.json") as handle:
        extract = json.loads(handle.read())["languages"]
    # A shards stage that ran reported these figures already; reading every shard again costs the
    # whole output's I/O once more.
    ran = [r.report for r in results if r.stage == "shards" and r.status == "ran" and "languages" in r.report]
    if ran:
        shards = ran[0]["languages"]
    else:
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
@source_option(
    help="Wikipedia dumps fetched from --mirror, or the bundled offline sample ('mirror' still works)."
)
@click.option("--dump-date", default=None, help="YYYYMMDD or 'latest' (dumps source).")
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True)
@click.option("--tokenizer", default=None, help="sentencepiece model to use instead of training one.")
@click.option(
    "--tokenizer-vocab-size",
    type=click.IntRange(min=100),
    default=TrainSettings.vocab_size,
    show_default=True,
)
@click.option(
    "--interwiki",
    default=PAGE_PROPS,
    show_default=True,
    help="page-props | wikidata-json=PATH | items-per-site=PATH",
)
@click.option(
    "--min-languages", type=click.IntRange(min=1), default=VocabSettings.min_languages, show_default=True
)
@click.option("--vocab-size", type=click.IntRange(min=1), default=VocabSettings.vocab_size, show_default=True)
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
    settings = BuildSettings(
        langs=parse_langs_option(langs),
        source=source,
        dump_date=dump_date,
        mirror=mirror,
        tokenizer=tokenizer,
        interwiki=interwiki,
        vocab=VocabSettings(min_languages=min_languages, vocab_size=vocab_size),
        train=TrainSettings(vocab_size=tokenizer_vocab_size),
        shards=shard_settings,
        sharding=sharding,
        force=force,
    )
    results = run_build(out, settings, beam_args, workers)
    summary = build_summary(out, results)
    if as_json:
        click.echo(json.dumps(summary, indent=1))
        for warning in summary["warnings"]:
            click.echo(f"warning: {warning}", err=True)
    else:
        print_summary(summary)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        for problem in failed[0].report.get("problems", [])[:20]:
            click.echo(f"FAIL {problem}", err=True)
        raise SystemExit(1)
    if strict and summary["warnings"]:
        click.echo(f"Error: --strict: {len(summary['warnings'])} language(s) ended with 0 examples", err=True)
        raise SystemExit(1)
