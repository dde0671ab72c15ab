"""``mluke-data extract``: Wikipedia dumps -> paragraphs with hyperlink spans (Beam pipeline)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import apache_beam as beam
import click
from apache_beam.io.filesystems import FileSystems
from rich.console import Console
from rich.table import Table

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    SOURCE_SAMPLE,
    UserError,
    beam_options,
    create_pipeline,
    is_dry_run,
    parse_langs_option,
    pipeline_options,
    source_option,
)
from pipeline.progress import FileProgress
from pipeline.sample import SAMPLE_DATE, SAMPLE_LANGS, write_sample_mirror
from schemas.dumps import DUMPSTATUS, index_name_for, is_articles_file, lang_of_wiki, wiki_name
from schemas.pages import ERRORS_DIR, EXTRACT_REPORT, PAGES_DIR, REDIRECTS_DIR, REPORTS_DIR
from transforms.extract import ExtractPages, ExtractSettings
from transforms.files import match_files, path_exists, total_bytes
from transforms.languages import normalize_language_code, parse_language_list
from transforms.multistream import WorkItem, plan_multistream

DUMPS_DIR = "dumps"
# Target compressed size of one multistream work item (and so of one pages shard).
WORK_ITEM_BYTES = 16 << 20


@dataclass(frozen=True)
class DumpInput:
    lang: str
    path: str
    index_path: str | None  # multistream index when present


def _list_dir(path: str) -> list[str]:
    """Names of the immediate children that hold files (FileSystems matches files only)."""
    prefix = path.rstrip("/") + "/"
    names = set()
    for file_path in _list_tree(path):
        rest = file_path[len(prefix) :] if file_path.startswith(prefix) else file_path
        if "/" in rest:
            names.add(rest.split("/", 1)[0])
    return sorted(names)


def _list_tree(path: str) -> list[str]:
    return match_files(path.rstrip("/") + "/**")


def parse_input_flag(value: str) -> DumpInput:
    """``LANG=PATH`` or a bare PATH whose file name starts with ``{wiki}-``."""
    if "=" in value and not value.split("=", 1)[0].count("/"):
        lang_text, path = value.split("=", 1)
        if not lang_text or not path:
            raise UserError(f"--input expects LANG=PATH, got {value!r}")
        try:
            lang = parse_language_list(lang_text)[0]
        except ValueError as error:
            raise UserError(f"--input {value!r}: {error}") from error
    else:
        path = value
        name = path.rstrip("/").rsplit("/", 1)[-1]
        wiki = name.split("-", 1)[0]
        try:
            lang = normalize_language_code(lang_of_wiki(wiki))
            parse_language_list(lang)
        except ValueError as error:
            raise UserError(
                f"--input {value!r}: cannot tell the language from the file name; write LANG=PATH"
            ) from error
    if not path_exists(path):
        raise UserError(f"dump file not found: {path}")
    index = None
    if is_articles_file(path.rsplit("/", 1)[-1]):
        candidate = (
            path.rsplit("/", 1)[0] + "/" + index_name_for(path.rsplit("/", 1)[-1])
            if "/" in path
            else (index_name_for(path))
        )
        index = candidate if path_exists(candidate) else None
    return DumpInput(lang, path, index)


def find_mirror_inputs(dumps_root: str, langs: list[str] | None, dump_date: str | None) -> list[DumpInput]:
    """Articles dumps (all parts) under ``{dumps_root}/{wiki}/{date}/`` for each language."""
    if langs is None:
        langs = []
        for wiki in _list_dir(dumps_root):
            if wiki.endswith("wiki") and wiki != "wikidatawiki":
                langs.append(lang_of_wiki(wiki))
        if not langs:
            raise UserError(
                f"no dumps under {dumps_root}; run `mluke-data fetch` first, or pass --source sample or --input"
            )
    inputs: list[DumpInput] = []
    for lang in langs:
        wiki_dir = f"{dumps_root.rstrip('/')}/{wiki_name(lang)}"
        dates = [d for d in _list_dir(wiki_dir) if d.isdigit()]
        if dump_date:
            dates = [d for d in dates if d == dump_date]
        found = False
        # A date folder counts once its dumpstatus.json is there: fetch writes it last, after
        # every file verified, so an interrupted download is never read as a complete dump.
        complete = [d for d in dates if path_exists(f"{wiki_dir}/{d}/{DUMPSTATUS}")]
        for date in sorted(complete or dates, reverse=True):
            names = [n.rsplit("/", 1)[-1] for n in _list_tree(f"{wiki_dir}/{date}")]
            articles = sorted(n for n in names if is_articles_file(n))
            if not articles:
                continue
            for name in articles:
                index = index_name_for(name)
                inputs.append(
                    DumpInput(
                        lang,
                        f"{wiki_dir}/{date}/{name}",
                        f"{wiki_dir}/{date}/{index}" if index in names else None,
                    )
                )
            found = True
            break
        if not found:
            when = f" for date {dump_date}" if dump_date else ""
            raise UserError(
                f"no pages-articles dump for {lang} under {wiki_dir}{when}; run `mluke-data fetch --langs {lang}`"
            )
    return inputs


def dumps_dir(out: str) -> str:
    return f"{out.rstrip('/')}/{DUMPS_DIR}"


def sample_languages(langs: list[str] | None) -> list[str]:
    """The sample languages a run asks for (all of them for None); a UserError names one it lacks."""
    unknown = [lang for lang in langs or [] if lang not in SAMPLE_LANGS]
    if unknown:
        raise UserError(f"the sample has no {unknown[0]!r}; it has {','.join(SAMPLE_LANGS)}")
    return list(langs) if langs is not None else list(SAMPLE_LANGS)


def write_sample_dumps(out: str, langs: list[str] | None) -> str:
    """Write the bundled sample wiki (of ``langs``, or all) into WORKDIR/dumps; returns its dump date."""
    sample_languages(langs)
    write_sample_mirror(dumps_dir(out), langs=langs)
    return SAMPLE_DATE


def plan_work_items(inputs: list[DumpInput], work_item_bytes: int) -> list[WorkItem]:
    """Work items of all inputs, shards numbered per language across files and parts."""
    by_lang: dict[str, list[WorkItem]] = {}
    for dump in inputs:
        if dump.index_path is not None:
            try:
                items = plan_multistream(dump.lang, dump.path, dump.index_path, work_item_bytes)
            except (OSError, EOFError, ValueError) as error:
                raise UserError(
                    f"cannot read the multistream index {dump.index_path}: {error}; fetch it again "
                    "(`mluke-data fetch`) or delete it to read the dump as one file"
                ) from error
            if not items:
                # No usable index line: every page is still read, only not split over workers.
                click.echo(
                    f"warning: the multistream index {dump.index_path} lists no streams; "
                    f"reading {dump.path} as one file",
                    err=True,
                )
                items = [WorkItem(lang=dump.lang, path=dump.path, shard=0, shards=1)]
        else:
            items = [WorkItem(lang=dump.lang, path=dump.path, shard=0, shards=1)]
        by_lang.setdefault(dump.lang, []).extend(items)
    planned: list[WorkItem] = []
    for _lang, items in sorted(by_lang.items()):
        for shard, item in enumerate(items):
            planned.append(replace(item, shard=shard, shards=len(items)))
    return planned


def clear_outputs(out: str, langs: list[str]) -> None:
    """Remove a previous run's shards of these languages (the shard count may differ now)."""
    for folder in (PAGES_DIR, REDIRECTS_DIR, ERRORS_DIR):
        for lang in langs:
            stale = _list_tree(f"{out.rstrip('/')}/{folder}/{lang}")
            if stale:
                FileSystems.delete(stale)


def run_extract(
    out: str,
    inputs: list[DumpInput],
    settings: ExtractSettings,
    work_item_bytes: int = WORK_ITEM_BYTES,
    beam_args: list[str] | tuple[str, ...] = (),
    workers: int | None = None,
) -> dict[str, Any]:
    """Plan, run the Beam pipeline and return the report."""
    items = plan_work_items(inputs, work_item_bytes)
    langs = sorted({item.lang for item in items})
    if not is_dry_run(beam_args):
        clear_outputs(out, langs)
    input_bytes = total_bytes([dump.path for dump in inputs])
    options = pipeline_options(beam_args, workers=workers, input_bytes=input_bytes)
    # Each work item finishes by renaming its pages shard into place.
    progress = FileProgress("extract", f"{out.rstrip('/')}/{PAGES_DIR}/*/*.parquet", len(items))
    with progress, create_pipeline(options) as pipeline:
        (
            pipeline
            | "WorkItems" >> beam.Create(items, reshuffle=False)
            | "Extract" >> ExtractPages(out, settings)
        )
    report_path = f"{out.rstrip('/')}/{REPORTS_DIR}/{EXTRACT_REPORT}"
    with FileSystems.open(report_path) as handle:
        report = json.loads(handle.read())
    report["work_items"] = len(items)
    return report


def print_summary(report: dict[str, Any], seconds: float, out: str = "WORKDIR") -> None:
    table = Table(title=f"extract: {report.get('work_items', '?')} work items in {seconds:.1f} s")
    columns = [
        ("lang", "lang"),
        ("read", "pages_read"),
        ("articles", "article"),
        ("redirects", "redirect"),
        ("other ns", "skipped_namespace"),
        ("redir out", "skipped_redirect_target"),
        ("dead", "dead_letter"),
        ("paragraphs", "paragraphs"),
        ("links", "links"),
    ]
    for title, _ in columns:
        table.add_column(title, justify="left" if title == "lang" else "right")
    for lang, stats in report["languages"].items():
        table.add_row(lang, *[f"{stats.get(key, 0):,}" for _, key in columns[1:]])
    Console(width=max(100, Console().width)).print(table)
    totals: Counter[str] = Counter()
    for stats in report["languages"].values():
        totals.update({k: v for k, v in stats.items() if k.startswith(("dead_letter.", "read_problem."))})
    for prefix, title in (("dead_letter.", "dead letters by reason"), ("read_problem.", "read problems")):
        found = sorted((k.split(".", 1)[1], v) for k, v in totals.items() if k.startswith(prefix))
        if found:
            click.echo(f"{title}: " + ", ".join(f"{reason}={count:,}" for reason, count in found))
    if totals:
        click.echo(f"details: {out.rstrip('/')}/{ERRORS_DIR}/ (one row each, with the error)")


@click.command(
    "extract",
    context_settings=BEAM_COMMAND_SETTINGS,
    epilog=BEAM_EPILOG,
    help="""Extract articles, paragraphs and hyperlink spans from Wikipedia dumps.

Reads WORKDIR/dumps/{wiki}/{date}/ (the mirror layout `mluke-data fetch` writes) or the
--input files, and writes WORKDIR/pages, WORKDIR/redirects, WORKDIR/errors (dead letters) and
WORKDIR/reports/extract.json.

\b
Examples:
  mluke-data extract --source sample --out ./out
  mluke-data extract --out ./out --langs en,ja
  mluke-data extract --out ./out --input de=dewiki-20261101-pages-articles.xml.bz2
""",
)
@click.option("--out", "out", required=True, help="Work directory (local path or gs://...).")
@click.option("--langs", default=None, help="Comma-separated language codes (default: every dump found).")
@click.option(
    "--input",
    "input_specs",
    multiple=True,
    help="A dump file as LANG=PATH (or PATH named {wiki}-...); repeatable. Replaces WORKDIR/dumps.",
)
@source_option(help="The dumps in WORKDIR/dumps, or the bundled offline sample wiki (written there first).")
@click.option("--dump-date", default=None, help="Dump date folder to use (default: the newest present).")
@click.option(
    "--work-item-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=WORK_ITEM_BYTES / (1 << 20),
    show_default=True,
    help="Target compressed size of one multistream work item (and output shard).",
)
@click.option(
    "--max-page-chars",
    type=click.IntRange(min=1),
    default=ExtractSettings.max_page_chars,
    show_default=True,
    help="Pages with more wikitext go to dead letters (too_large).",
)
@click.option(
    "--parse-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=ExtractSettings.parse_timeout_s,
    show_default=True,
    help="Seconds one page may take to parse before it is dead-lettered (timeout).",
)
@click.option(
    "--parse-memory-mb",
    type=click.IntRange(min=256),
    default=ExtractSettings.parse_memory_mb,
    show_default=True,
    help="Memory cap of the isolated parser process.",
)
@click.option(
    "--parse-isolation",
    type=click.Choice(["process", "none"]),
    default=ExtractSettings.isolation,
    show_default=True,
    help="'process' parses in a guarded child process; 'none' in-process (no timeout guard).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@beam_options
def extract_command(
    out: str,
    langs: str | None,
    input_specs: tuple[str, ...],
    source: str,
    dump_date: str | None,
    work_item_mb: float,
    max_page_chars: int,
    parse_timeout: float,
    parse_memory_mb: int,
    parse_isolation: str,
    as_json: bool,
    beam_args: list[str],
    workers: int | None,
) -> None:
    lang_list = parse_langs_option(langs)
    if source == SOURCE_SAMPLE:
        sample_date = write_sample_dumps(out, lang_list)
        dump_date = dump_date or sample_date
    if input_specs:
        inputs = [parse_input_flag(spec) for spec in input_specs]
        if lang_list is not None:
            inputs = [dump for dump in inputs if dump.lang in lang_list]
    else:
        inputs = find_mirror_inputs(dumps_dir(out), lang_list, dump_date)
    settings = ExtractSettings(
        max_page_chars=max_page_chars,
        parse_timeout_s=parse_timeout,
        parse_memory_mb=parse_memory_mb,
        isolation=parse_isolation,
    )
    started = time.monotonic()
    report = run_extract(out, inputs, settings, int(work_item_mb * 1024 * 1024), beam_args, workers)
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False))
    else:
        print_summary(report, time.monotonic() - started, out)
