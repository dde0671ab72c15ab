"""``mluke-data vocab``: build the cross-lingual entity vocabulary and inspect it.

``vocab build`` runs the Beam pipeline of :mod:`transforms.vocab` over ``WORKDIR/pages`` and
``WORKDIR/redirects`` (the extract stage's output) and an interwiki source, and writes
``WORKDIR/vocab/`` (layout in :mod:`schemas.vocab_tables`). ``vocab stats``, ``vocab lookup`` and
``vocab compare`` read those files.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import click
import pyarrow as pa
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
    check_min_languages,
    create_pipeline,
    parse_langs_option,
    pipeline_options,
)
from pipeline.progress import StageStatus
from schemas.dumps import page_props_file_name, wiki_name
from schemas.pages import PAGES_DIR, REDIRECTS_DIR
from schemas.vocab import (
    ENTITIES_PARQUET,
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
    FIRST_ENTITY_ID,
    MENTIONS_DIR,
    SPECIAL_ENTITIES,
    VOCAB_DIR,
    VOCAB_STATS,
)
from schemas.vocab_tables import TITLES_DIR, VOCAB_REPORT, language_table_name
from transforms.files import match_files, path_exists
from transforms.mentions import DEFAULT_MAX_MATCHER_MENTIONS
from transforms.vocab import (
    LINKS,
    QUANTILES,
    BuildEntityVocabulary,
    VocabInputs,
    VocabSettings,
    canonical_title,
    join_path,
    read_bytes,
)

INTERWIKI_SOURCES = ("page-props", "wikidata-json", "items-per-site")
BUILD_FIRST = "run `mluke-data vocab build --out {workdir}` first"


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
    if source == "page-props":
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
    if source == "page-props":
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
    interwiki: str = "page-props",
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
    options = pipeline_options(beam_args, workers)
    step = f"counting links of {len(inputs.langs)} languages, merging them through Wikidata"
    with StageStatus("vocab", step), create_pipeline(options) as pipeline:
        _ = pipeline | "EntityVocabulary" >> BuildEntityVocabulary(inputs, settings, report_settings)
    _remove_tree(inputs.tmp_dir)
    return json.loads(read_bytes(join_path(inputs.vocab_dir, VOCAB_REPORT)))


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


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
            f"{row.get('links_in_vocab', 0):,} ({_percent(row.get('links_in_vocab', 0), links)})",
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
# Reading a built vocabulary
# ---------------------------------------------------------------------------------------------


def _vocab_dir(workdir: str) -> str:
    """WORKDIR/vocab, or WORKDIR itself when it already is a vocab folder."""
    if path_exists(join_path(workdir, ENTITY_VOCAB_JSONL)) and not path_exists(join_path(workdir, VOCAB_DIR)):
        return workdir
    return join_path(workdir, VOCAB_DIR)


def _require(path: str, workdir: str) -> str:
    if not path_exists(path):
        raise UserError(
            f"no entity vocabulary in {workdir} ({path} is missing): {BUILD_FIRST.format(workdir=workdir)}"
        )
    return path


def _read_table(path: str, filters: Any = None, columns: Sequence[str] | None = None) -> pa.Table:
    cols = list(columns) if columns else None
    if "://" not in path:
        return pq.read_table(path, filters=filters, columns=cols)
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(io.BytesIO(handle.read()), filters=filters, columns=cols)


def load_stats(workdir: str) -> dict[str, Any]:
    vocab_dir = _vocab_dir(workdir)
    return json.loads(read_bytes(_require(join_path(vocab_dir, VOCAB_STATS), workdir)))


def iter_jsonl_entities(path: str) -> Iterator[dict[str, Any]]:
    """Entities of a luke-format jsonl, specials included, streamed."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for line in io.TextIOWrapper(handle, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def top_entities(workdir: str, top: int) -> list[dict[str, Any]]:
    """The first ``top`` entities (after the specials), streamed from entity_vocab.jsonl."""
    vocab_dir = _vocab_dir(workdir)
    path = _require(join_path(vocab_dir, ENTITY_VOCAB_JSONL), workdir)
    out = []
    if top <= 0:
        return out
    for item in iter_jsonl_entities(path):
        if item["id"] < FIRST_ENTITY_ID:
            continue
        out.append(item)
        if len(out) >= top:
            break
    ids = [item["id"] for item in out]
    if ids:
        table = _read_table(join_path(vocab_dir, ENTITIES_PARQUET), filters=[("id", "in", ids)])
        by_id = {row["id"]: row for row in table.to_pylist()}
        for item in out:
            row = by_id.get(item["id"])
            if row is not None:
                item["wikidata_id"] = row["wikidata_id"]
                item["titles"] = {t["lang"]: t["title"] for t in reversed(row["titles"])}
    return out


def _console() -> Console:
    return Console(width=max(120, shutil.get_terminal_size((120, 40)).columns), highlight=False)


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
    default="page-props",
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
    print_build_summary(report, join_path(workdir, VOCAB_DIR), time.monotonic() - started, _console())


@vocab_group.command("stats")
@click.argument("workdir")
@click.option("--langs", help="Languages to show (default: all in the table, the 3 largest for titles).")
@click.option(
    "--top", type=click.IntRange(min=0), default=20, show_default=True, help="Top entities to list."
)
@click.option(
    "--plot", "plot_file", type=click.Path(dir_okay=False), help="Write the distributions to a PNG."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def stats_command(workdir: str, langs: str | None, top: int, plot_file: str | None, as_json: bool) -> None:
    """Entity vocabulary statistics: coverage per language, distributions, top entities.

    \b
    Examples:
      mluke-data vocab stats ./out --top 10 --plot vocab.png
      mluke-data vocab stats ./out --langs en,ja --json
    """
    stats = load_stats(workdir)
    chosen = parse_langs_option(langs)
    per_language = stats["per_language"]
    if chosen:
        unknown = [lang for lang in chosen if lang not in per_language]
        if unknown:
            raise UserError(
                f"--langs: {', '.join(unknown)} not in this vocabulary ({', '.join(sorted(per_language))})"
            )
        per_language = {lang: per_language[lang] for lang in chosen}
    title_langs = chosen or sorted(per_language, key=lambda lang: (-per_language[lang]["entities"], lang))[:3]
    top_list = top_entities(workdir, top)
    link_probs = link_prob_distribution(workdir, list(per_language))
    if plot_file:
        write_stats_plot(stats, plot_file, link_probs)
    if as_json:
        data = dict(stats)
        data["per_language"] = per_language
        data["link_prob"] = link_probs
        data["top"] = [
            {"id": e["id"], "wikidata_id": e.get("wikidata_id"), "count": e["count"],
             "languages": len({lang for _, lang in e["entities"]}),
             "titles": {lang: e.get("titles", {}).get(lang) for lang in title_langs}}
            for e in top_list
        ]  # fmt: skip
        click.echo(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False))
        return
    console = _console()
    print_stats(stats, per_language, top_list, title_langs, console)
    print_link_probs(link_probs, console)
    if plot_file:
        console.print(f"Wrote {plot_file}")


def print_stats(
    stats: dict[str, Any],
    per_language: dict[str, Any],
    top_list: list[dict[str, Any]],
    title_langs: Sequence[str],
    console: Console,
) -> None:
    settings = stats.get("settings", {})
    last_id = FIRST_ENTITY_ID + stats["entities"] - 1
    console.print(
        f"[bold]{stats['entities']:,} entities[/bold] (ids {FIRST_ENTITY_ID}..{last_id}; "
        f"{', '.join(f'{s}={i}' for i, s in enumerate(SPECIAL_ENTITIES))}) over {len(stats['languages'])} "
        f"languages; min languages {settings.get('min_languages')}, vocab size limit "
        f"{settings.get('vocab_size', 0):,}, interwiki {settings.get('interwiki')}"
    )
    table = Table(title="Per language")
    for column in ("lang", "pages", "links", "entities", "links in vocab", "coverage"):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in per_language.items():
        table.add_row(
            lang,
            f"{row['pages']:,}",
            f"{row['links']:,}",
            f"{row['entities']:,}",
            f"{row['links_in_vocab']:,}",
            f"{100 * row['coverage']:.1f}%",
        )
    console.print(table)

    hist = Table(title="Languages per entity")
    hist.add_column("languages", justify="right")
    hist.add_column("entities", justify="right")
    hist.add_column("")
    values = stats["languages_per_entity"]
    biggest = max(values.values(), default=0)
    for key in sorted(values, key=int):
        bar = "█" * max(1, round(30 * values[key] / biggest)) if biggest else ""
        hist.add_row(key, f"{values[key]:,}", bar)
    quantiles = stats["count_quantiles"]
    names = [name for name, _ in QUANTILES if name in quantiles]
    quant = Table(title="Links per entity (quantiles)")
    for name in names:
        quant.add_column(name, justify="right")
    quant.add_row(*[f"{quantiles[name]:,}" for name in names])
    console.print(hist)
    console.print(quant)

    if top_list:
        tops = Table(title=f"Top {len(top_list)} entities")
        for column in ("id", "wikidata", "count", "langs", *title_langs):
            tops.add_column(column, justify="right" if column in ("id", "count", "langs") else "left")
        for entity in top_list:
            titles = entity.get("titles", {})
            tops.add_row(
                str(entity["id"]),
                entity.get("wikidata_id") or "",
                f"{entity['count']:,}",
                str(len({lang for _, lang in entity["entities"]})),
                *[titles.get(lang, "") for lang in title_langs],
            )
        console.print(tops)


# Upper edges of the link-probability bins of `vocab stats` (a mention lands in the first bin
# whose edge is >= its link_prob).
LINK_PROB_EDGES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999999, 1.0)


def link_prob_distribution(workdir: str, langs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per language: mentions by link-probability bin, and link_prob quantiles (one per mention)."""
    import numpy as np

    vocab_dir = _vocab_dir(workdir)
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        path = join_path(vocab_dir, MENTIONS_DIR, language_table_name(lang))
        if not path_exists(path):
            continue
        try:
            table = _read_table(path, columns=["mention", "link_prob"])
        except (KeyError, pa.ArrowInvalid):
            continue  # a dictionary built before link probabilities
        per_mention = (
            table.select(["mention", "link_prob"]).group_by("mention").aggregate([("link_prob", "max")])
        )
        values = np.sort(per_mention.column("link_prob_max").to_numpy(zero_copy_only=False))
        bins = np.searchsorted(np.array(LINK_PROB_EDGES), values, side="left")
        counts = np.bincount(bins, minlength=len(LINK_PROB_EDGES))[: len(LINK_PROB_EDGES)]
        quantiles = {name: float(values[min(len(values) - 1, max(0, int(np.ceil(q * len(values))) - 1))])
                     for name, q in QUANTILES} if len(values) else {}  # fmt: skip
        out[lang] = {
            "mentions": len(values),
            "below_0.01": int(np.sum(values < 0.01)),
            "bins": [[edge, int(n)] for edge, n in zip(LINK_PROB_EDGES, counts, strict=True)],
            "quantiles": quantiles,
        }
    return out


def print_link_probs(link_probs: dict[str, dict[str, Any]], console: Console) -> None:
    if not link_probs:
        return
    table = Table(title="Mentions by link probability, p(link | mention)")
    table.add_column("lang")
    table.add_column("mentions", justify="right")
    table.add_column("< 0.01", justify="right")
    for name, _ in QUANTILES:
        if name in ("p10", "p50", "p90"):
            table.add_column(name, justify="right")
    for lang, row in link_probs.items():
        quantiles = row["quantiles"]
        table.add_row(
            lang,
            f"{row['mentions']:,}",
            f"{row['below_0.01']:,} ({_percent(row['below_0.01'], row['mentions'])})",
            *[f"{quantiles.get(name, 0.0):.3f}" for name in ("p10", "p50", "p90")],
        )
    console.print(table)


def _plot_link_probs(axis: Any, link_probs: dict[str, dict[str, Any]]) -> None:
    labels = [f"<={edge:g}" if edge < 0.999 else ("<1" if edge < 1 else "1") for edge in LINK_PROB_EDGES]
    for lang, row in sorted(link_probs.items()):
        total = max(1, row["mentions"])
        axis.plot(range(len(labels)), [100 * n / total for _, n in row["bins"]], marker="o", label=lang)
    axis.set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
    axis.set_title("Mentions by link probability (% of a language's mentions)")
    axis.set_xlabel("link_prob, upper edge of the bin")
    if link_probs:
        axis.legend(fontsize=7, ncol=2)


def write_stats_plot(
    stats: dict[str, Any], path: str, link_probs: dict[str, dict[str, Any]] | None = None
) -> None:
    """A 2x3 PNG: languages per entity, coverage and entities per language, count quantiles, and
    the link-probability distribution of the mention dictionaries."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise UserError(
            "--plot needs matplotlib: run `bash scripts/setup.sh` (or `.venv/bin/pip install matplotlib`)"
        ) from error
    per_language = stats["per_language"]
    langs = sorted(per_language)
    figure, axes = plt.subplots(2, 3, figsize=(18, 8))
    hist = stats["languages_per_entity"]
    keys = sorted(hist, key=int)
    axes[0][0].bar([int(k) for k in keys], [hist[k] for k in keys], color="#4c72b0")
    axes[0][0].set_title("Languages per entity")
    axes[0][0].set_xlabel("distinct languages")
    axes[0][0].set_xticks([int(k) for k in keys])
    axes[0][0].set_ylabel("entities")
    axes[0][1].bar(langs, [100 * per_language[lang]["coverage"] for lang in langs], color="#55a868")
    axes[0][1].set_title("Link coverage (% of links landing on a vocabulary entity)")
    axes[0][1].set_ylim(0, 100)
    axes[1][0].bar(langs, [per_language[lang]["entities"] for lang in langs], color="#c44e52")
    axes[1][0].set_title("Entities with a title in the language")
    curve = stats.get("count_by_rank") or []
    axes[1][1].plot([r for r, _ in curve], [max(1, c) for _, c in curve], marker="o", color="#8172b2")
    axes[1][1].set_xscale("log")
    axes[1][1].set_yscale("log")
    axes[1][1].set_title("Links per entity by rank")
    axes[1][1].set_xlabel("entity rank")
    link_probs = link_probs or {}
    _plot_link_probs(axes[0][2], link_probs)
    low = sorted(link_probs)
    axes[1][2].bar(low, [100 * link_probs[lang]["below_0.01"] / max(1, link_probs[lang]["mentions"])
                         for lang in low], color="#dd8452")  # fmt: skip
    axes[1][2].set_title("Mentions with link_prob < 0.01 (%), dropped by --min-link-prob")
    axes[1][2].set_ylim(0, 100)
    figure.suptitle(f"Entity vocabulary: {stats['entities']:,} entities")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# lookup
# ---------------------------------------------------------------------------------------------

_QID_QUERY = re.compile(r"[Qq][1-9]\d*")


@dataclass
class LookupHit:
    id: int
    wikidata_id: str
    count: int
    titles: list[dict[str, Any]]
    matched: str
    mentions: dict[str, list[dict[str, Any]]]


def _entities_where(vocab_dir: str, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    table = _read_table(join_path(vocab_dir, ENTITIES_PARQUET), filters=[(column, "in", list(values))])
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def _titles_matching(vocab_dir: str, langs: Sequence[str], title: str) -> list[tuple[str, int, bool]]:
    found = []
    for lang in langs:
        path = join_path(vocab_dir, TITLES_DIR, language_table_name(lang))
        if not path_exists(path):
            continue
        table = _read_table(path, filters=[("title", "=", title)], columns=["entity_id", "redirect"])
        for row in table.to_pylist():
            found.append((lang, row["entity_id"], row["redirect"]))
    return found


def top_mentions(
    vocab_dir: str, entity_id: int, langs: Sequence[str], limit: int
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for lang in langs:
        path = join_path(vocab_dir, MENTIONS_DIR, language_table_name(lang))
        if not path_exists(path) or limit <= 0:
            continue
        table = _read_table(
            path, filters=[("entity_id", "=", entity_id)], columns=["mention", "count", "commonness"]
        )
        rows = sorted(table.to_pylist(), key=lambda row: (-row["count"], row["mention"]))[:limit]
        if rows:
            out[lang] = rows
    return out


def lookup_entities(workdir: str, query: str, lang: str | None = None, mentions: int = 5) -> list[LookupHit]:
    """Entities matching a Q-id, an entity id, ``lang:title`` or a title (redirects followed)."""
    vocab_dir = _vocab_dir(workdir)
    stats = load_stats(workdir)
    _require(join_path(vocab_dir, ENTITIES_PARQUET), workdir)
    langs = stats["languages"]
    query = query.strip()
    matched: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    if _QID_QUERY.fullmatch(query):
        rows = _entities_where(vocab_dir, "wikidata_id", [query.upper()])
        matched = {row["id"]: f"Wikidata id {query.upper()}" for row in rows}
    elif query.isdigit() and lang is None:
        entity_id = int(query)
        if entity_id < FIRST_ENTITY_ID:
            name = SPECIAL_ENTITIES[entity_id] if entity_id < len(SPECIAL_ENTITIES) else "?"
            raise UserError(f"entity id {entity_id} is the special entity {name}")
        rows = _entities_where(vocab_dir, "id", [entity_id])
        matched = {row["id"]: f"entity id {entity_id}" for row in rows}
    if not rows:
        search_langs = [lang] if lang else langs
        title = query
        prefix, sep, rest = query.partition(":")
        if sep and lang is None and prefix in langs and rest.strip():
            search_langs, title = [prefix], rest
        title = canonical_title(title)
        hits: dict[int, list[tuple[str, str]]] = {}
        for hit_lang, entity_id, redirect in _titles_matching(vocab_dir, search_langs, title):
            hits.setdefault(entity_id, []).append((hit_lang, "redirect" if redirect else "title"))
        if hits:
            rows = _entities_where(vocab_dir, "id", sorted(hits))
            # Name the match in the language that links the entity most (a title like "Paris" is
            # the same in many languages), and list the most linked entity first.
            links = {row["id"]: {t["lang"]: t["count"] for t in row["titles"]} for row in rows}
            best: dict[int, tuple[int, str, str]] = {}
            for entity_id, found in hits.items():
                counts = links.get(entity_id, {})
                best[entity_id] = min((-counts.get(hit_lang, 0), hit_lang, how) for hit_lang, how in found)
            matched = {eid: f"{hit_lang} {how} {title!r}" for eid, (_, hit_lang, how) in best.items()}
            rows.sort(key=lambda row: (best[row["id"]][0], -row["count"], row["id"]))
    if not rows:
        where = f" in {lang}" if lang else ""
        raise UserError(f"no vocabulary entity matches {query!r}{where} (try a Q-id, an entity id or --lang)")
    return [
        LookupHit(
            id=row["id"],
            wikidata_id=row["wikidata_id"],
            count=row["count"],
            titles=row["titles"],
            matched=matched.get(row["id"], ""),
            mentions=top_mentions(vocab_dir, row["id"], [t["lang"] for t in row["titles"]], mentions),
        )
        for row in rows
    ]


@vocab_group.command("lookup")
@click.argument("workdir")
@click.argument("query")
@click.option("--lang", help="Language of a title query (default: search every language).")
@click.option(
    "--mentions", type=click.IntRange(min=0), default=5, show_default=True, help="Top mentions per language."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def lookup_command(workdir: str, query: str, lang: str | None, mentions: int, as_json: bool) -> None:
    """Show an entity by title (``Berlin``, ``de:Berlin``), Q-id (``Q64``) or entity id.

    A title found in several languages is reported as matched in the language that links the
    entity most.

    \b
    Examples:
      mluke-data vocab lookup ./out Berlin --lang de
      mluke-data vocab lookup ./out Paris
      mluke-data vocab lookup ./out peking --lang en      # a redirect, lower-case first letter
      mluke-data vocab lookup ./out Q64 --json
    """
    if lang is not None:
        lang = parse_langs_option(lang)[0]  # type: ignore[index]
    hits = lookup_entities(workdir, query, lang, mentions)
    if as_json:
        click.echo(json.dumps([asdict(hit) for hit in hits], indent=1, ensure_ascii=False))
        return
    console = _console()
    for hit in hits:
        console.print(
            f"[bold]entity {hit.id}[/bold]  {hit.wikidata_id}  count {hit.count:,}  "
            f"{len({t['lang'] for t in hit.titles})} languages  (matched {hit.matched})"
        )
        table = Table(show_header=True)
        table.add_column("lang")
        table.add_column("title")
        table.add_column("links", justify="right")
        table.add_column("top mentions (count, commonness)")
        for title in hit.titles:
            rows = hit.mentions.get(title["lang"], [])
            shown = ", ".join(f"{m['mention']} ({m['count']}, {m['commonness']:.2f})" for m in rows)
            table.add_row(title["lang"], title["title"], f"{title['count']:,}", shown)
        console.print(table)


# ---------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadedVocab:
    """A vocabulary in any supported format: entities as (rank key, qid or None, {(lang, title)})."""

    kind: str  # ours | luke-jsonl | hf-json
    path: str
    entities: dict[int, tuple[int, str | None, frozenset[tuple[str, str]]]]

    def pairs(self) -> dict[tuple[str, str], int]:
        return {pair: entity_id for entity_id, (_, _, pairs) in self.entities.items() for pair in pairs}

    def qids(self) -> dict[str, int]:
        return {qid: entity_id for entity_id, (_, qid, _) in self.entities.items() if qid}


def load_any_vocab(path: str) -> LoadedVocab:
    """Our WORKDIR or vocab folder, a luke ``entity_vocab.jsonl`` or a Hugging Face ``entity_vocab.json``."""
    specials = set(SPECIAL_ENTITIES)
    if path.endswith(".jsonl"):
        if not path_exists(path):
            raise UserError(f"no such file {path}")
        luke: dict[int, tuple[int, str | None, frozenset[tuple[str, str]]]] = {}
        for item in iter_jsonl_entities(path):
            pairs = frozenset(
                (lang or "", canonical_title(title))
                for title, lang in item["entities"]
                if title not in specials
            )
            if pairs:
                luke[item["id"]] = (-int(item.get("count") or 0), None, pairs)
        return LoadedVocab("luke-jsonl", path, luke)
    if path.endswith(".json"):
        if not path_exists(path):
            raise UserError(f"no such file {path}")
        data = json.loads(read_bytes(path))
        if not isinstance(data, dict):
            raise UserError(f"{path} is not a Hugging Face entity_vocab.json (a JSON object title -> id)")
        grouped: dict[int, set[tuple[str, str]]] = {}
        for key, entity_id in data.items():
            if key in specials or not isinstance(entity_id, int):
                continue
            lang, sep, title = key.partition(":")
            pair = (lang, canonical_title(title)) if sep else ("", canonical_title(key))
            grouped.setdefault(entity_id, set()).add(pair)
        return LoadedVocab("hf-json", path, {i: (i, None, frozenset(p)) for i, p in grouped.items()})
    vocab_dir = _vocab_dir(path)
    table = _read_table(_require(join_path(vocab_dir, ENTITIES_PARQUET), path))
    ours = {
        row["id"]: (
            -row["count"],
            row["wikidata_id"],
            frozenset((t["lang"], t["title"]) for t in row["titles"]),
        )
        for row in table.to_pylist()
    }
    return LoadedVocab("ours", vocab_dir, ours)


def compare_vocabs(mine: LoadedVocab, other: LoadedVocab, top: int = 10) -> dict[str, Any]:
    """Overlap by Wikidata id (when both have them) and by (lang, title); top entities in one only."""
    my_pairs, other_pairs = mine.pairs(), other.pairs()
    shared_pairs = my_pairs.keys() & other_pairs.keys()
    result: dict[str, Any] = {
        "ours": {
            "path": mine.path,
            "kind": mine.kind,
            "entities": len(mine.entities),
            "titles": len(my_pairs),
        },
        "other": {
            "path": other.path,
            "kind": other.kind,
            "entities": len(other.entities),
            "titles": len(other_pairs),
        },
        "titles_in_both": len(shared_pairs),
    }
    langs = sorted({lang for lang, _ in my_pairs} | {lang for lang, _ in other_pairs})
    per_lang = {}
    for lang in langs:
        mine_lang = {p for p in my_pairs if p[0] == lang}
        other_lang = {p for p in other_pairs if p[0] == lang}
        per_lang[lang] = {
            "ours": len(mine_lang),
            "other": len(other_lang),
            "both": len(mine_lang & other_lang),
        }
    result["per_language"] = per_lang

    my_qids, other_qids = mine.qids(), other.qids()
    if my_qids and other_qids:
        result["wikidata_ids_in_both"] = len(my_qids.keys() & other_qids.keys())
        mine_only = [my_qids[q] for q in my_qids.keys() - other_qids.keys()]
        other_only = [other_qids[q] for q in other_qids.keys() - my_qids.keys()]
    else:
        matched_mine = {my_pairs[p] for p in shared_pairs}
        matched_other = {other_pairs[p] for p in shared_pairs}
        result["entities_matched_by_title"] = {"ours": len(matched_mine), "other": len(matched_other)}
        mine_only = [i for i in mine.entities if i not in matched_mine]
        other_only = [i for i in other.entities if i not in matched_other]

    def describe(vocab: LoadedVocab, ids: list[int]) -> list[dict[str, Any]]:
        ranked = sorted(ids, key=lambda i: (vocab.entities[i][0], i))[:top]
        out = []
        for entity_id in ranked:
            rank_key, qid, pairs = vocab.entities[entity_id]
            titles = dict(sorted(pairs))
            name = titles.get("en") or next(iter(titles.values()), "")
            out.append({"id": entity_id, "wikidata_id": qid, "title": name, "languages": len(titles),
                        "count": -rank_key if vocab.kind != "hf-json" else None})  # fmt: skip
        return out

    result["only_ours"] = {"entities": len(mine_only), "top": describe(mine, mine_only)}
    result["only_other"] = {"entities": len(other_only), "top": describe(other, other_only)}
    return result


@vocab_group.command("compare")
@click.argument("workdir")
@click.argument("other")
@click.option(
    "--top", type=click.IntRange(min=0), default=10, show_default=True, help="Entities listed per side."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def compare_command(workdir: str, other: str, top: int, as_json: bool) -> None:
    """Compare with another vocabulary: ours (WORKDIR), luke's entity_vocab.jsonl, or a Hugging Face
    entity_vocab.json (such as the one of studio-ousia/mluke-base).

    \b
    Examples:
      mluke-data vocab compare ./out other/entity_vocab.json
      mluke-data vocab compare ./out ./other-workdir --top 20 --json
    """
    mine = load_any_vocab(workdir)
    theirs = load_any_vocab(other)
    result = compare_vocabs(mine, theirs, top)
    if as_json:
        click.echo(json.dumps(result, indent=1, ensure_ascii=False))
        return
    console = _console()
    console.print(
        f"ours: {result['ours']['entities']:,} entities, {result['ours']['titles']:,} titles ({mine.path})\n"
        f"other ({theirs.kind}): {result['other']['entities']:,} entities, {result['other']['titles']:,} titles "
        f"({theirs.path})\n(lang, title) in both: {result['titles_in_both']:,}"
    )
    if "wikidata_ids_in_both" in result:
        console.print(f"Wikidata ids in both: {result['wikidata_ids_in_both']:,}")
    else:
        matched = result["entities_matched_by_title"]
        console.print(f"entities sharing a title: ours {matched['ours']:,}, other {matched['other']:,}")
    table = Table(title="Titles per language")
    for column in ("lang", "ours", "other", "both"):
        table.add_column(column, justify="left" if column == "lang" else "right")
    for lang, row in result["per_language"].items():
        table.add_row(lang or "?", f"{row['ours']:,}", f"{row['other']:,}", f"{row['both']:,}")
    console.print(table)
    for side, label in (("only_ours", "Only in ours"), ("only_other", "Only in the other")):
        block = result[side]
        listing = Table(title=f"{label}: {block['entities']:,} entities (top {len(block['top'])})")
        for column in ("id", "wikidata", "title", "langs", "count"):
            listing.add_column(column)
        for row in block["top"]:
            listing.add_row(
                str(row["id"]),
                row["wikidata_id"] or "",
                row["title"],
                str(row["languages"]),
                "" if row["count"] is None else f"{row['count']:,}",
            )
        console.print(listing)
