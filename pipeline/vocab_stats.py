"""``mluke-data vocab stats``: coverage per language, distributions and top entities of a built
vocabulary, as tables, JSON or a PNG."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import click
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from rich.console import Console
from rich.table import Table

from pipeline.options import (
    UserError,
    parse_langs_option,
)
from pipeline.vocab_inspect import find_vocab_dir, load_stats, percent, read_table, top_entities, wide_console
from schemas.vocab import (
    FIRST_ENTITY_ID,
    MENTIONS_DIR,
    SPECIAL_ENTITIES,
)
from schemas.vocab_tables import language_table_name
from transforms.files import path_exists
from transforms.parquet_io import join_path
from transforms.vocab_writers import QUANTILES


@click.command("stats")
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
    console = wide_console()
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

    vocab_dir = find_vocab_dir(workdir)
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        path = join_path(vocab_dir, MENTIONS_DIR, language_table_name(lang))
        if not path_exists(path):
            continue
        try:
            table = read_table(path, columns=["mention", "link_prob"])
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
            f"{row['below_0.01']:,} ({percent(row['below_0.01'], row['mentions'])})",
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
