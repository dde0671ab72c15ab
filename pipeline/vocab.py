"""``mluke-data vocab``: build the cross-lingual entity vocabulary, and the ``vocab`` group.

``vocab build`` runs the Beam pipeline of :mod:`transforms.vocab` over ``WORKDIR/pages`` and
``WORKDIR/redirects`` (the extract stage's output) and an interwiki source, and writes
``WORKDIR/vocab/`` (layout in :mod:`schemas.vocab_tables`). ``vocab stats``
(:mod:`pipeline.vocab_stats`), ``vocab lookup`` and ``vocab compare``
(:mod:`pipeline.vocab_inspect`) read those files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Sequence
from typing import Any

import click
from apache_beam.io.filesystems import FileSystems
from rich.console import Console
from rich.table import Table

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    UserError,
    beam_options,
    check_min_languages,
    create_pipeline,
    parse_langs_option,
    pipeline_options,
)
from pipeline.progress import StageStatus
from pipeline.vocab_inspect import compare_command, lookup_command, percent, wide_console
from pipeline.vocab_stats import stats_command
from schemas.dumps import page_props_file_name, wiki_name
from schemas.pages import PAGES_DIR, REDIRECTS_DIR
from schemas.vocab import (
    ENTITIES_PARQUET,
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
    MENTIONS_DIR,
    VOCAB_DIR,
    VOCAB_STATS,
)
from schemas.vocab_tables import TITLES_DIR, VOCAB_REPORT, language_table_name
from transforms.files import match_files, path_exists, total_bytes
from transforms.interwiki import INTERWIKI_SOURCES, PAGE_PROPS
from transforms.mentions import DEFAULT_MAX_MATCHER_MENTIONS
from transforms.parquet_io import join_path, read_bytes
from transforms.vocab import BuildEntityVocabulary, VocabInputs, VocabSettings
from transforms.vocab_keys import LINKS

# ---------------------------------------------------------------------------------------------
# Planning and running the build
# ---------------------------------------------------------------------------------------------


def parse_interwiki(value: str) -> tuple[str, str | None]:
    """``page-props`` | ``wikidata-json=PATH`` | ``items-per-site=PATH`` -> (source, path)."""
    source, sep, path = value.partition("=")
    source = source.strip()
    if source not in INTERWIKI_SOURCES:
        raise UserError(
            f"--interwiki must be one of page-props, wikidata-json=PATH, items-per-site=PATH; got {value!r}"
        )
    if source == PAGE_PROPS:
        if sep:
            raise UserError("--interwiki page-props takes no path: it reads WORKDIR/dumps/{wiki}/{date}/")
        return source, None
    if not path.strip():
        raise UserError(f"--interwiki {source} needs a file: --interwiki {source}=PATH")
    return source, path.strip()


def _language_of_file(path: str, base: str) -> str:
    relative = path[len(base) :].lstrip("/\\")
    return re.split(r"[/\\]", relative, maxsplit=1)[0]


def _files_by_language(workdir: str, folder: str) -> dict[str, list[str]]:
    base = join_path(workdir, folder)
    out: dict[str, list[str]] = {}
    for path in match_files(join_path(base, "*", "*.parquet")):
        out.setdefault(_language_of_file(path, base), []).append(path)
    return out


def _page_props_file(workdir: str, lang: str, dump_date: str | None) -> str:
    wiki = wiki_name(lang)
    if dump_date:
        path = join_path(workdir, "dumps", wiki, dump_date, page_props_file_name(lang, dump_date))
        if not path_exists(path):
            raise UserError(
                f"missing {path}: fetch the page_props dump of {wiki} for {dump_date}, or use "
                "--interwiki wikidata-json=PATH / items-per-site=PATH"
            )
        return path
    found = match_files(join_path(workdir, "dumps", wiki, "*", f"{wiki}-*-page_props.sql.gz"))
    dates = sorted({os.path.basename(os.path.dirname(path)) for path in found})
    if not found:
        raise UserError(
            f"no page_props dump for {wiki} under {join_path(workdir, 'dumps', wiki)}: fetch it, or use "
            "--interwiki wikidata-json=PATH / items-per-site=PATH"
        )
    if len(dates) > 1:
        raise UserError(
            f"{wiki} has page_props dumps of several dates ({', '.join(dates)}): pass --dump-date"
        )
    return found[0]


def plan_vocab_inputs(
    workdir: str, langs: Sequence[str] | None, interwiki: str, dump_date: str | None = None
) -> VocabInputs:
    """Find and check every input of the stage; raises UserError with the fix."""
    source, path = parse_interwiki(interwiki)
    pages = _files_by_language(workdir, PAGES_DIR)
    if not pages:
        raise UserError(
            f"no extracted pages under {join_path(workdir, PAGES_DIR)}: run `mluke-data extract --out {workdir}` first"
        )
    if langs:
        missing = [lang for lang in langs if lang not in pages]
        if missing:
            raise UserError(
                f"no extracted pages for {', '.join(missing)} under {join_path(workdir, PAGES_DIR)} "
                f"(found: {', '.join(sorted(pages))})"
            )
        chosen = sorted(langs)
    else:
        chosen = sorted(pages)
    redirects = _files_by_language(workdir, REDIRECTS_DIR)
    page_files = tuple(p for lang in chosen for p in pages[lang])
    redirect_files = tuple(p for lang in chosen for p in redirects.get(lang, []))
    props: dict[str, str] = {}
    if source == PAGE_PROPS:
        props = {lang: _page_props_file(workdir, lang, dump_date) for lang in chosen}
    elif path is not None and not path_exists(path):
        raise UserError(f"--interwiki {source}: no such file {path}")
    vocab_dir = join_path(workdir, VOCAB_DIR)
    return VocabInputs(
        langs=tuple(chosen),
        page_files=page_files,
        redirect_files=redirect_files,
        vocab_dir=vocab_dir,
        tmp_dir=join_path(vocab_dir, ".tmp"),
        interwiki=source,
        page_props_files=props,
        interwiki_path=path,
    )


def _remove_tree(path: str) -> None:
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        return
    stale = match_files(join_path(path, "**"))
    if stale:
        FileSystems.delete(stale)


def _remove_stale_tables(inputs: VocabInputs) -> None:
    """Tables of languages not in this run would mix with the new vocabulary: remove them."""
    for folder in (MENTIONS_DIR, TITLES_DIR):
        keep = {language_table_name(lang) for lang in inputs.langs}
        stale = [
            p
            for p in match_files(join_path(inputs.vocab_dir, folder, "*.parquet"))
            if os.path.basename(p) not in keep
        ]
        if stale:
            FileSystems.delete(stale)


def run_vocab_build(
    workdir: str,
    *,
    langs: Sequence[str] | None = None,
    interwiki: str = PAGE_PROPS,
    dump_date: str | None = None,
    settings: VocabSettings | None = None,
    beam_args: Sequence[str] = (),
    workers: int | None = None,
) -> dict[str, Any]:
    """Run the vocab stage and return its report (also in ``WORKDIR/vocab/report.json``)."""
    settings = settings or VocabSettings()
    inputs = plan_vocab_inputs(workdir, langs, interwiki, dump_date)
    check_min_languages(list(inputs.langs), settings.min_languages)
    report_settings = {
        "interwiki": inputs.interwiki,
        "interwiki_file": os.path.basename(inputs.interwiki_path) if inputs.interwiki_path else None,
        "page_props_files": {
            lang: os.path.basename(p) for lang, p in sorted(inputs.page_props_files.items())
        },
        "langs": list(inputs.langs),
        "min_languages": settings.min_languages,
        "vocab_size": settings.vocab_size,
        "max_redirect_hops": settings.max_redirect_hops,
        "min_mention_count": settings.min_mention_count,
        "max_matcher_mentions": settings.max_matcher_mentions,
    }
    _remove_tree(inputs.tmp_dir)
    _remove_stale_tables(inputs)
    input_bytes = total_bytes(inputs.page_files + inputs.redirect_files)
    options = pipeline_options(beam_args, workers, input_bytes=input_bytes)
    step = f"counting links of {len(inputs.langs)} languages, merging them through Wikidata"
    with StageStatus("vocab", step), create_pipeline(options) as pipeline:
        _ = pipeline | "EntityVocabulary" >> BuildEntityVocabulary(inputs, settings, report_settings)
    _remove_tree(inputs.tmp_dir)
    return json.loads(read_bytes(join_path(inputs.vocab_dir, VOCAB_REPORT)))


def print_build_summary(report: dict[str, Any], vocab_dir: str, seconds: float, console: Console) -> None:
    table = Table(title=f"Entity vocabulary: {report['entities']:,} entities in {seconds:.1f} s")
    for column in ("lang", "pages", "links", "in vocab", "via redirect", "loop/long", "no item",
                   "< min langs", "> vocab size"):  # fmt: skip
        table.add_column(column, justify="left" if column == "lang" else "right")
    rows = sorted(report["languages"].items())
    rows.append(("total", report["totals"]))
    for lang, row in rows:
        links = row.get(LINKS, 0)
        table.add_row(
            lang,
            f"{row.get('pages', 0):,}",
            f"{links:,}",
            f"{row.get('links_in_vocab', 0):,} ({percent(row.get('links_in_vocab', 0), links)})",
            f"{row.get('links_resolved_via_redirect', 0):,}",
            f"{row.get('links_redirect_loop', 0) + row.get('links_redirect_too_long', 0):,}",
            f"{row.get('links_no_item', 0):,}",
            f"{row.get('links_below_min_languages', 0):,}",
            f"{row.get('links_beyond_vocab_size', 0):,}",
        )
    console.print(table)
    console.print(f"Wrote {vocab_dir}/ ({ENTITY_VOCAB_JSONL}, {ENTITY_VOCAB_HF_JSON}, {ENTITIES_PARQUET}, "
                  f"{MENTIONS_DIR}/, {TITLES_DIR}/, {VOCAB_STATS}, {VOCAB_REPORT})")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The click group
# ---------------------------------------------------------------------------------------------


@click.group(name="vocab")
def vocab_group() -> None:
    """Build and inspect the cross-lingual entity vocabulary (WORKDIR/vocab)."""


@vocab_group.command("build", context_settings=BEAM_COMMAND_SETTINGS, epilog=BEAM_EPILOG)
@click.option(
    "--out", "workdir", required=True, help="Work directory: reads pages/, redirects/, dumps/; writes vocab/."
)
@click.option(
    "--interwiki",
    default=PAGE_PROPS,
    show_default=True,
    help="Where Wikidata items come from: page-props (WORKDIR/dumps/{wiki}/{date}/*-page_props.sql.gz), "
    "wikidata-json=PATH (latest-all.json.bz2/.gz/plain) or items-per-site=PATH (wb_items_per_site.sql.gz).",
)
@click.option("--dump-date", help="Date folder of the page_props dumps (default: the only one present).")
@click.option("--langs", help="Comma-separated languages (default: every language under WORKDIR/pages).")
@click.option("--min-languages", type=click.IntRange(min=1), default=VocabSettings.min_languages, show_default=True,
              help="Keep entities linked in at least this many distinct languages.")  # fmt: skip
@click.option("--vocab-size", type=click.IntRange(min=1), default=VocabSettings.vocab_size, show_default=True,
              help="Keep this many entities (special entities not counted).")  # fmt: skip
@click.option("--max-redirect-hops", type=click.IntRange(min=1, max=20), default=5, show_default=True,
              help="Follow redirect chains up to this many hops; longer ones are reported.")  # fmt: skip
@click.option("--min-mention-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Drop mention-dictionary rows seen fewer times.")  # fmt: skip
@click.option("--max-matcher-mentions", type=click.IntRange(min=1), default=DEFAULT_MAX_MATCHER_MENTIONS,
              show_default=True, help="Mentions per matcher of the page scan (about 0.8 KB each); a "
              "language with more is scanned in several passes.")  # fmt: skip
@beam_options
def build_command(
    workdir: str,
    interwiki: str,
    dump_date: str | None,
    langs: str | None,
    min_languages: int,
    vocab_size: int,
    max_redirect_hops: int,
    min_mention_count: int,
    max_matcher_mentions: int,
    beam_args: list[str],
    workers: int | None,
) -> None:
    """Build WORKDIR/vocab from the extracted pages and an interwiki source (a Beam pipeline).

    \b
    Examples:
      mluke-data vocab build --out ./out
      mluke-data vocab build --out ./out --langs en,ja,de --min-languages 2
      mluke-data vocab build --out ./work --interwiki items-per-site=wikidatawiki-20261101-wb_items_per_site.sql.gz
      mluke-data vocab build --out ./work --interwiki wikidata-json=latest-all.json.bz2 --vocab-size 500000
    """
    settings = VocabSettings(
        min_languages=min_languages,
        vocab_size=vocab_size,
        max_redirect_hops=max_redirect_hops,
        min_mention_count=min_mention_count,
        max_matcher_mentions=max_matcher_mentions,
    )
    started = time.monotonic()
    report = run_vocab_build(
        workdir,
        langs=parse_langs_option(langs),
        interwiki=interwiki,
        dump_date=dump_date,
        settings=settings,
        beam_args=beam_args,
        workers=workers,
    )
    print_build_summary(report, join_path(workdir, VOCAB_DIR), time.monotonic() - started, wide_console())


vocab_group.add_command(stats_command)
vocab_group.add_command(lookup_command)
vocab_group.add_command(compare_command)
