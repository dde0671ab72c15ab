"""``mluke-data vocab lookup`` and ``vocab compare``: inspect a built vocabulary, and the helpers
every inspection command uses to find and read ``WORKDIR/vocab/`` (layout in
:mod:`schemas.vocab_tables`)."""

from __future__ import annotations

import io
import json
import re
import shutil
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
    UserError,
    parse_langs_option,
)
from schemas.vocab import (
    ENTITIES_PARQUET,
    ENTITY_VOCAB_JSONL,
    FIRST_ENTITY_ID,
    MENTIONS_DIR,
    SPECIAL_ENTITIES,
    VOCAB_DIR,
    VOCAB_STATS,
)
from schemas.vocab_tables import TITLES_DIR, language_table_name
from transforms.files import path_exists
from transforms.parquet_io import join_path, read_bytes
from transforms.vocab_keys import canonical_title

BUILD_FIRST = "run `mluke-data vocab build --out {workdir}` first"


# ---------------------------------------------------------------------------------------------
# Reading a built vocabulary
# ---------------------------------------------------------------------------------------------


def find_vocab_dir(workdir: str) -> str:
    """WORKDIR/vocab, or WORKDIR itself when it already is a vocab folder."""
    if path_exists(join_path(workdir, ENTITY_VOCAB_JSONL)) and not path_exists(join_path(workdir, VOCAB_DIR)):
        return workdir
    return join_path(workdir, VOCAB_DIR)


def require_file(path: str, workdir: str) -> str:
    if not path_exists(path):
        raise UserError(
            f"no entity vocabulary in {workdir} ({path} is missing): {BUILD_FIRST.format(workdir=workdir)}"
        )
    return path


def read_table(path: str, filters: Any = None, columns: Sequence[str] | None = None) -> pa.Table:
    cols = list(columns) if columns else None
    if "://" not in path:
        return pq.read_table(path, filters=filters, columns=cols)
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(io.BytesIO(handle.read()), filters=filters, columns=cols)


def load_stats(workdir: str) -> dict[str, Any]:
    vocab_dir = find_vocab_dir(workdir)
    return json.loads(read_bytes(require_file(join_path(vocab_dir, VOCAB_STATS), workdir)))


def iter_jsonl_entities(path: str) -> Iterator[dict[str, Any]]:
    """Entities of a luke-format jsonl, specials included, streamed."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for line in io.TextIOWrapper(handle, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def top_entities(workdir: str, top: int) -> list[dict[str, Any]]:
    """The first ``top`` entities (after the specials), streamed from entity_vocab.jsonl."""
    vocab_dir = find_vocab_dir(workdir)
    path = require_file(join_path(vocab_dir, ENTITY_VOCAB_JSONL), workdir)
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
        table = read_table(join_path(vocab_dir, ENTITIES_PARQUET), filters=[("id", "in", ids)])
        by_id = {row["id"]: row for row in table.to_pylist()}
        for item in out:
            row = by_id.get(item["id"])
            if row is not None:
                item["wikidata_id"] = row["wikidata_id"]
                item["titles"] = {t["lang"]: t["title"] for t in reversed(row["titles"])}
    return out


def wide_console() -> Console:
    return Console(width=max(120, shutil.get_terminal_size((120, 40)).columns), highlight=False)


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


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
    table = read_table(join_path(vocab_dir, ENTITIES_PARQUET), filters=[(column, "in", list(values))])
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def _titles_matching(vocab_dir: str, langs: Sequence[str], title: str) -> list[tuple[str, int, bool]]:
    found = []
    for lang in langs:
        path = join_path(vocab_dir, TITLES_DIR, language_table_name(lang))
        if not path_exists(path):
            continue
        table = read_table(path, filters=[("title", "=", title)], columns=["entity_id", "redirect"])
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
        table = read_table(
            path, filters=[("entity_id", "=", entity_id)], columns=["mention", "count", "commonness"]
        )
        rows = sorted(table.to_pylist(), key=lambda row: (-row["count"], row["mention"]))[:limit]
        if rows:
            out[lang] = rows
    return out


def lookup_entities(workdir: str, query: str, lang: str | None = None, mentions: int = 5) -> list[LookupHit]:
    """Entities matching a Q-id, an entity id, ``lang:title`` or a title (redirects followed)."""
    vocab_dir = find_vocab_dir(workdir)
    stats = load_stats(workdir)
    require_file(join_path(vocab_dir, ENTITIES_PARQUET), workdir)
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


@click.command("lookup")
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
    console = wide_console()
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
    vocab_dir = find_vocab_dir(path)
    table = read_table(require_file(join_path(vocab_dir, ENTITIES_PARQUET), path))
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


@click.command("compare")
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
    console = wide_console()
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
