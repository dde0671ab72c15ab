"""The vocab stage: interwiki map, redirect resolution, link counting, merge by Wikidata item,
vocabulary selection and the mention dictionary, as composite PTransforms over pure functions.

Data flow (keys in brackets; every arrow that changes the key is a CoGroupByKey or a combine)::

    pages ──> link stats [(lang, raw target)] ──┐
    redirects ─> ResolveRedirects [(lang, redirect title)] ──> ResolveLinkTargets
                                                    └──> link stats [(lang, canonical title)]
    page_props | wikidata json | wb_items_per_site ──> interwiki [(lang, title)] ──┐
    link stats [(lang, canonical title)] ──────────────────────────> MergeByItem [qid]
    entities [qid] ──> min-languages ──> Top(vocab size) ──> ids (side input, <= vocab size)
    anchors [(lang, mention)] ──> MentionDictionary ──> rows [(lang, mention)] ──┐
    pages (scanned in place) ──> CountMentionPages [(lang, mention)] ──────────> mentions/{lang}.parquet

No step holds a language's links in one worker: links are pre-aggregated per Parquet row group
and then combined per key; redirect chains are followed by a fixed number of join rounds.
"""

from __future__ import annotations

import io
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, TaggedOutput

from schemas.mentions import normalize_mention  # the mention key, defined once for every stage
from schemas.vocab import (
    ENTITIES_PARQUET,
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
    FIRST_ENTITY_ID,
    SPECIAL_ENTITIES,
    VOCAB_STATS,
    hf_entity_key,
)
from schemas.vocab_tables import (
    ENTITIES_SCHEMA,
    MENTIONS_SCHEMA,
    TITLES_SCHEMA,
    VOCAB_REPORT,
    language_table_name,
)
from transforms.files import CountingSink, write_atomically
from transforms.mentions import DEFAULT_MAX_MATCHER_MENTIONS, CountMentionPages
from transforms.sqldump import (
    compression_of,
    iter_items_per_site,
    iter_page_props_items,
    open_decompressed,
    reading_input,
    site_map,
)
from transforms.titles import upper_first
from transforms.wikidata import WikidataReadStats, iter_lines_in_range, iter_wikidata_sitelinks

# Account keys: every link of a language ends in exactly one of the LINK_FATES.
LINKS = "links"
LINKS_DIRECT = "links_resolved_direct"
LINKS_VIA_REDIRECT = "links_resolved_via_redirect"
LINKS_REDIRECT_LOOP = "links_redirect_loop"
LINKS_REDIRECT_TOO_LONG = "links_redirect_too_long"
LINKS_NO_ITEM = "links_no_item"
LINKS_BELOW_MIN_LANGUAGES = "links_below_min_languages"
LINKS_BEYOND_VOCAB_SIZE = "links_beyond_vocab_size"
LINKS_IN_VOCAB = "links_in_vocab"
LINK_FATES = (
    LINKS_REDIRECT_LOOP,
    LINKS_REDIRECT_TOO_LONG,
    LINKS_NO_ITEM,
    LINKS_BELOW_MIN_LANGUAGES,
    LINKS_BEYOND_VOCAB_SIZE,
    LINKS_IN_VOCAB,
)
GLOBAL = ""  # the "language" of account entries that belong to no language

DEFAULT_MAX_REDIRECT_HOPS = 5
# Per-language tables are written as this many sorted parts, then concatenated in order, so no
# worker sorts a whole language's mention dictionary.
DEFAULT_PART_BUCKETS = 16
DEFAULT_JSON_SPLIT_BYTES = 64 << 20

_WHITESPACE = re.compile(r"[\s\u00a0\u200b\u200e\u200f\u202a-\u202e]+")


# ---------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------


def canonical_title(title: str) -> str:
    """The form of a title the stage keys on: ``_`` as space, whitespace collapsed, first letter
    upper-cased (every Wikipedia's case rule). Idempotent on titles the extract stage normalized,
    and it brings titles from page_props/Wikidata/wb_items_per_site to the same form."""
    text = _WHITESPACE.sub(" ", title.replace("_", " ")).strip()
    return upper_first(text)


def qid_number(qid: str) -> int:
    return int(qid[1:])


class EntityRecord(NamedTuple):
    """A Wikidata item with the links that land on it in every language."""

    qid: str
    count: int
    # (lang, title, count), sorted by (lang, title)
    titles: tuple[tuple[str, str, int], ...]

    @property
    def num_languages(self) -> int:
        return len({lang for lang, _, _ in self.titles})


def merge_entity(qid: str, parts: Iterable[tuple[str, str, int]]) -> EntityRecord:
    """Sum the per-(lang, title) link counts of one item."""
    counts: Counter[tuple[str, str]] = Counter()
    for lang, title, count in parts:
        counts[(lang, title)] += count
    titles = tuple((lang, title, count) for (lang, title), count in sorted(counts.items()) if count > 0)
    return EntityRecord(qid, sum(count for _, _, count in titles), titles)


def vocab_order_key(record: EntityRecord) -> tuple[int, int]:
    """Count descending, then Q-id number ascending: the vocabulary's total order."""
    return (-record.count, qid_number(record.qid))


def top_key(light: tuple[int, int, str]) -> tuple[int, int]:
    """Key for ``Top``: it keeps the largest, so count up and Q-number down."""
    count, number, _ = light
    return (count, -number)


def select_vocabulary(
    records: Iterable[EntityRecord], min_languages: int, vocab_size: int
) -> list[tuple[int, EntityRecord]]:
    """(entity id, record) of the vocabulary: >= min_languages distinct languages, top vocab_size."""
    kept = sorted((r for r in records if r.num_languages >= min_languages), key=vocab_order_key)
    return [(FIRST_ENTITY_ID + i, record) for i, record in enumerate(kept[:vocab_size])]


def redirect_round(
    lang: str,
    current: str,
    target: str | None,
    states: Iterable[tuple[str, tuple[str, ...]]],
    final_round: bool,
) -> Iterator[tuple[str, tuple[Any, Any]]]:
    """One hop of redirect resolution for the chains that have reached ``current``.

    ``target`` is where ``current`` redirects to (None: ``current`` is not a redirect, the chain
    ends there). A state is (source, titles visited before ``current``). Yields ``("done",
    ((lang, source), (final or None, status, hops)))`` or ``("active", ((lang, target), state))``.
    """
    for source, path in states:
        hops = len(path)
        if target is None:
            yield "done", ((lang, source), (current, "ok", hops))
        elif target == current or target in path:
            yield "done", ((lang, source), (None, "loop", hops))
        elif final_round:
            yield "done", ((lang, source), (None, "too_long", hops))
        else:
            yield "active", ((lang, target), (source, (*path, current)))


def resolve_redirects_in_memory(
    edges: Mapping[tuple[str, str], str], max_hops: int = DEFAULT_MAX_REDIRECT_HOPS
) -> dict[tuple[str, str], tuple[str | None, str, int]]:
    """The same rules as :class:`ResolveRedirects` on a dict (for small inputs and tests)."""
    out: dict[tuple[str, str], tuple[str | None, str, int]] = {}
    for (lang, source), first in edges.items():
        if first == source:
            out[(lang, source)] = (None, "loop", 0)
            continue
        states = [(source, (source,))]
        current = first
        for round_index in range(1, max_hops + 1):
            results = list(
                redirect_round(lang, current, edges.get((lang, current)), states, round_index == max_hops)
            )
            kind, value = results[0]
            if kind == "done":
                out[(lang, source)] = value[1]
                break
            (_, current), state = value
            states = [state]
    return out


# An entity of a mention: (entity id, Q-id, title in the mention's language); id -1 gathers the
# links to targets outside the vocabulary.
OUTSIDE_VOCAB = (-1, "", "")


def mention_rows(
    lang: str, mention: str, entity_counts: Mapping[tuple[int, str, str], int], min_count: int = 1
) -> list[tuple[str, str, int, str, str, int, int, float]]:
    """Rows of the mention dictionary for one anchor text, without the page counts.

    ``entity_counts`` maps (entity id, Q-id, title) -> links with this anchor; id -1 gathers links
    to targets outside the vocabulary (they count in the denominator of commonness but get no
    row). Two titles of one entity in a language (two pages sharing an item) make one row, named
    by the smaller title. Row: (lang, mention, entity id, "lang:title", Q-id, count,
    mention_count, commonness).
    """
    total = sum(entity_counts.values())
    if total <= 0:
        return []
    per_entity: dict[int, list[Any]] = {}
    for (entity_id, qid, title), n in entity_counts.items():
        if entity_id < 0:
            continue
        entry = per_entity.get(entity_id)
        if entry is None:
            per_entity[entity_id] = [n, qid, title]
        else:
            entry[0] += n
            entry[2] = min(entry[2], title)
    kept = sorted(
        ((eid, entry) for eid, entry in per_entity.items() if entry[0] >= min_count),
        key=lambda item: (-item[1][0], item[0]),
    )
    return [
        (lang, mention, eid, hf_entity_key(lang, title), qid, n, total, n / total)
        for eid, (n, qid, title) in kept
    ]


def with_page_counts(
    rows: Sequence[Sequence[Any]], doc_count: int, link_doc_count: int
) -> list[tuple[Any, ...]]:
    """Mention rows with the mention's doc_count, link_doc_count and link_prob appended."""
    docs = max(doc_count, link_doc_count)
    link_prob = link_doc_count / docs if docs else 0.0
    return [(*row, docs, link_doc_count, link_prob) for row in rows]


@dataclass
class PageBatchLinks:
    """Links of a batch of pages, pre-aggregated: (lang, canonical target) -> [count, anchors]."""

    links: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    pages: Counter[str] = field(default_factory=Counter)
    link_totals: Counter[str] = field(default_factory=Counter)
    page_titles: list[tuple[str, int, str]] = field(default_factory=list)


def page_batch_links(table: pa.Table, with_titles: bool = False) -> PageBatchLinks:
    """Count link targets and their anchor texts in a table with PAGE_SCHEMA's columns.

    The anchor of a link is ``text[start:end]`` of its paragraph, normalized by
    :func:`normalize_mention`; empty anchors count as links but not as mentions.
    """
    out = PageBatchLinks()
    if table.num_rows == 0:
        return out
    langs: list[str] = table.column("lang").to_pylist()
    out.pages.update(langs)
    if with_titles:
        out.page_titles = [
            (lang, page_id, canonical_title(title))
            for lang, page_id, title in zip(
                langs, table.column("page_id").to_pylist(), table.column("title").to_pylist(), strict=True
            )
        ]
    paragraphs = table.column("paragraphs").combine_chunks()
    para_page = pc.list_parent_indices(paragraphs).to_pylist()
    flat = pc.list_flatten(paragraphs)
    texts: list[str] = pc.struct_field(flat, "text").to_pylist()
    links = pc.struct_field(flat, "links")
    link_para = pc.list_parent_indices(links).to_pylist()
    flat_links = pc.list_flatten(links)
    starts = pc.struct_field(flat_links, "start").to_pylist()
    ends = pc.struct_field(flat_links, "end").to_pylist()
    targets = pc.struct_field(flat_links, "target").to_pylist()

    single_lang = langs[0] if len(set(langs)) == 1 else None
    raw: dict[tuple[str, str, str], int] = {}
    if single_lang is not None:
        out.link_totals[single_lang] += len(targets)
        for p, s, e, t in zip(link_para, starts, ends, targets, strict=True):
            key = (single_lang, t, texts[p][s:e])
            raw[key] = raw.get(key, 0) + 1
    else:
        for p, s, e, t in zip(link_para, starts, ends, targets, strict=True):
            lang = langs[para_page[p]]
            out.link_totals[lang] += 1
            key = (lang, t, texts[p][s:e])
            raw[key] = raw.get(key, 0) + 1

    titles: dict[str, str] = {}
    mentions: dict[str, str] = {}
    for (lang, target, anchor), n in raw.items():
        title = titles.get(target)
        if title is None:
            title = titles[target] = canonical_title(target)
        mention = mentions.get(anchor)
        if mention is None:
            mention = mentions[anchor] = normalize_mention(anchor)
        entry = out.links.get((lang, title))
        if entry is None:
            entry = out.links[(lang, title)] = [0, {}]
        entry[0] += n
        if mention:
            entry[1][mention] = entry[1].get(mention, 0) + n
    return out


def luke_jsonl(entities: Sequence[tuple[int, EntityRecord]], langs: Sequence[str]) -> str:
    """``entity_vocab.jsonl`` in the luke repository's format.

    Special entities are listed once per language, as luke's multilingual vocab builder does, so
    luke's EntityVocab finds them whatever language it asks for.
    """
    lines = []
    for special_id, special in enumerate(SPECIAL_ENTITIES):
        names = [[special, lang] for lang in sorted(langs)] or [[special, None]]
        lines.append(json.dumps({"id": special_id, "entities": names, "count": 0}, ensure_ascii=False))
    for entity_id, record in entities:
        names = [[title, lang] for lang, title, _ in record.titles]
        lines.append(
            json.dumps({"id": entity_id, "entities": names, "count": record.count}, ensure_ascii=False)
        )
    return "\n".join(lines) + "\n"


def hf_entity_vocab(entities: Sequence[tuple[int, EntityRecord]]) -> str:
    """``entity_vocab.json`` for MLukeTokenizer: ``{"[PAD]": 0, ..., "en:Berlin": 17, ...}``."""
    items = [(special, special_id) for special_id, special in enumerate(SPECIAL_ENTITIES)]
    for entity_id, record in entities:
        items.extend((hf_entity_key(lang, title), entity_id) for lang, title, _ in record.titles)
    body = ",\n".join(f" {json.dumps(key, ensure_ascii=False)}: {value}" for key, value in items)
    return "{\n" + body + "\n}\n"


def entities_table(entities: Sequence[tuple[int, EntityRecord]]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "id": [entity_id for entity_id, _ in entities],
            "wikidata_id": [record.qid for _, record in entities],
            "count": [record.count for _, record in entities],
            "num_languages": [record.num_languages for _, record in entities],
            "titles": [
                [{"lang": lang, "title": title, "count": count} for lang, title, count in record.titles]
                for _, record in entities
            ],
        },
        schema=ENTITIES_SCHEMA,
    )


def account_by_language(account: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (lang, key), value in sorted(account.items()):
        out.setdefault(lang or "*", {})[key] = value
    return out


def _quantile(sorted_values: Sequence[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def count_by_rank(descending: Sequence[int]) -> list[list[int]]:
    """[rank, count] at 1, 2, 5, 10, 20, 50, ... and the last rank: the rank-frequency curve."""
    ranks: list[int] = []
    scale = 1
    while scale <= len(descending):
        ranks.extend(r for r in (scale, 2 * scale, 5 * scale) if r <= len(descending))
        scale *= 10
    if descending and (not ranks or ranks[-1] != len(descending)):
        ranks.append(len(descending))
    return [[rank, descending[rank - 1]] for rank in ranks]


QUANTILES = (("min", 0.0), ("p10", 0.1), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9),
             ("p99", 0.99), ("max", 1.0))  # fmt: skip


def vocabulary_stats(
    entities: Sequence[tuple[int, EntityRecord]],
    account: Mapping[tuple[str, str], int],
    langs: Sequence[str],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The content of ``stats.json``: what ``vocab stats`` shows."""
    per_lang_entities: Counter[str] = Counter()
    per_lang_in_vocab: Counter[str] = Counter()
    languages_hist: Counter[int] = Counter()
    for _, record in entities:
        record_langs = {lang for lang, _, _ in record.titles}
        per_lang_entities.update(record_langs)
        languages_hist[len(record_langs)] += 1
        for lang, _, count in record.titles:
            per_lang_in_vocab[lang] += count
    counts = sorted(record.count for _, record in entities)
    per_language = {}
    for lang in sorted(langs):
        links = account.get((lang, LINKS), 0)
        in_vocab = account.get((lang, LINKS_IN_VOCAB), 0)
        per_language[lang] = {
            "entities": per_lang_entities[lang],
            "pages": account.get((lang, "pages"), 0),
            "links": links,
            "links_in_vocab": in_vocab,
            "coverage": round(in_vocab / links, 6) if links else 0.0,
            "link_targets": account.get((lang, "link_targets"), 0),
        }
    return {
        "entities": len(entities),
        "special_entities": list(SPECIAL_ENTITIES),
        "first_entity_id": FIRST_ENTITY_ID,
        "languages": sorted(langs),
        "links_in_vocab": sum(per_lang_in_vocab.values()),
        "per_language": per_language,
        "languages_per_entity": {str(k): languages_hist[k] for k in sorted(languages_hist)},
        "count_quantiles": {name: _quantile(counts, q) for name, q in QUANTILES},
        "count_by_rank": count_by_rank(counts[::-1]),
        "settings": dict(settings),
    }


def vocab_report(
    account: Mapping[tuple[str, str], int], settings: Mapping[str, Any], entities: int
) -> dict[str, Any]:
    """The run report: settings, and per language where every link went (the fates add up)."""
    by_lang = account_by_language(account)
    languages: dict[str, dict[str, int]] = {}
    always = ("pages", LINKS, LINKS_DIRECT, LINKS_VIA_REDIRECT, *LINK_FATES)
    for lang in sorted(set(settings.get("langs", ())) | (by_lang.keys() - {"*"})):
        row = {key: 0 for key in always}
        row.update(by_lang.get(lang, {}))
        row["links_uncovered"] = sum(row.get(key, 0) for key in LINK_FATES if key != LINKS_IN_VOCAB)
        languages[lang] = row
    totals: Counter[str] = Counter()
    for row in languages.values():
        totals.update(row)
    return {
        "settings": dict(settings),
        "entities": entities,
        "totals": dict(sorted(totals.items())),
        "languages": languages,
        "global": by_lang.get("*", {}),
    }


# ---------------------------------------------------------------------------------------------
# File helpers (all I/O through Beam's FileSystems: local paths and gs:// alike)
# ---------------------------------------------------------------------------------------------


def join_path(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts) if parts else base


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


def write_bytes(path: str, data: bytes) -> None:
    write_atomically(path, data)


def write_parquet(path: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_bytes(path, sink.getvalue().to_pybytes())


def read_parquet(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(io.BytesIO(handle.read()), columns=list(columns) if columns else None)


def rows_to_table(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


# ---------------------------------------------------------------------------------------------
# DoFns
# ---------------------------------------------------------------------------------------------


def _account(lang: str, key: str, value: int = 1) -> TaggedOutput:
    return TaggedOutput("account", ((lang, key), value))


class ListRowGroups(beam.DoFn):
    """Parquet file -> (path, row group index) work items."""

    def process(self, path: str) -> Iterator[tuple[str, int]]:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            count = pq.ParquetFile(handle).num_row_groups
        for index in range(count):
            yield path, index


def _read_row_group(path: str, index: int, columns: Sequence[str]) -> pa.Table:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.ParquetFile(handle).read_row_group(index, columns=list(columns))


def _keep_rows(table: pa.Table, langs: frozenset[str]) -> pa.Table:
    """Rows of the requested languages (and of namespace 0, for page tables)."""
    if "namespace" in table.column_names and pc.any(pc.not_equal(table.column("namespace"), 0)).as_py():
        table = table.filter(pc.equal(table.column("namespace"), 0))
    present = set(pc.unique(table.column("lang")).to_pylist())
    if present <= langs:
        return table
    return table.filter(pc.is_in(table.column("lang"), value_set=pa.array(sorted(langs), pa.string())))


class ReadPageLinks(beam.DoFn):
    """A row group of pages -> ((lang, target), (count, 0, anchors)) pre-aggregated.

    Tagged outputs: ``account`` (pages, links per language), ``page_ids`` (((lang, page id),
    ("page", title)) for the page_props join, only when asked).
    """

    COLUMNS = ("lang", "page_id", "title", "namespace", "paragraphs")

    def __init__(self, langs: Iterable[str], with_page_ids: bool) -> None:
        self._langs = frozenset(langs)
        self._with_page_ids = with_page_ids
        self._links = Metrics.counter("vocab", "links_read")
        self._pages = Metrics.counter("vocab", "pages_read")

    def process(self, item: tuple[str, int]) -> Iterator[Any]:
        path, index = item
        table = _keep_rows(_read_row_group(path, index, self.COLUMNS), self._langs)
        batch = page_batch_links(table, with_titles=self._with_page_ids)
        for key, (count, anchors) in batch.links.items():
            yield key, (count, 0, anchors)
        for lang, n in sorted(batch.pages.items()):
            self._pages.inc(n)
            yield _account(lang, "pages", n)
        for lang, n in sorted(batch.link_totals.items()):
            self._links.inc(n)
            yield _account(lang, LINKS, n)
        for lang, page_id, title in batch.page_titles:
            yield TaggedOutput("page_ids", ((lang, page_id), ("page", title)))


class ReadRedirects(beam.DoFn):
    """A row group of redirects -> ((lang, title), target); ``page_ids`` like ReadPageLinks."""

    COLUMNS = ("lang", "page_id", "title", "target")

    def __init__(self, langs: Iterable[str], with_page_ids: bool) -> None:
        self._langs = frozenset(langs)
        self._with_page_ids = with_page_ids

    def process(self, item: tuple[str, int]) -> Iterator[Any]:
        path, index = item
        table = _keep_rows(_read_row_group(path, index, self.COLUMNS), self._langs)
        columns = [table.column(name).to_pylist() for name in self.COLUMNS]
        for lang, page_id, title, target in zip(*columns, strict=True):
            source = canonical_title(title)
            yield (lang, source), canonical_title(target)
            if self._with_page_ids:
                yield TaggedOutput("page_ids", ((lang, page_id), ("redirect", source)))


class MergeLinkStats(beam.CombineFn):
    """Sums (count, via-redirect count, {anchor: count}) link statistics."""

    def create_accumulator(self) -> list[Any]:
        return [0, 0, {}]

    def add_input(self, acc: list[Any], value: tuple[int, int, dict[str, int]]) -> list[Any]:
        acc[0] += value[0]
        acc[1] += value[1]
        anchors = acc[2]
        for anchor, n in value[2].items():
            anchors[anchor] = anchors.get(anchor, 0) + n
        return acc

    def merge_accumulators(self, accumulators: Iterable[list[Any]]) -> list[Any]:
        merged = self.create_accumulator()
        for acc in accumulators:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, acc: list[Any]) -> tuple[int, int, dict[str, int]]:
        return acc[0], acc[1], acc[2]


class MergeCounts(beam.CombineFn):
    """Sums {key: count} dictionaries."""

    def create_accumulator(self) -> dict[Any, int]:
        return {}

    def add_input(self, acc: dict[Any, int], value: Mapping[Any, int]) -> dict[Any, int]:
        for key, n in value.items():
            acc[key] = acc.get(key, 0) + n
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict[Any, int]]) -> dict[Any, int]:
        merged: dict[Any, int] = {}
        for acc in accumulators:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, acc: dict[Any, int]) -> dict[Any, int]:
        return acc


class ReadPageProps(beam.DoFn):
    """(lang, page_props.sql.gz path) -> ((lang, page id), qid)."""

    def process(self, item: tuple[str, str]) -> Iterator[Any]:
        lang, path = item
        rows = 0
        fix = f"fetch it again: mluke-data fetch --langs {lang} --what pageprops"
        with (
            FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw,
            reading_input(path, fix),
        ):
            for page_id, qid in iter_page_props_items(open_decompressed(raw)):
                rows += 1
                yield (lang, page_id), qid
        yield _account(lang, "page_props_items", rows)


class ReadItemsPerSite(beam.DoFn):
    """wb_items_per_site.sql.gz path -> ((lang, title), qid) for the requested languages."""

    def __init__(self, langs: Iterable[str]) -> None:
        self._sites = site_map(langs)

    def process(self, path: str) -> Iterator[Any]:
        counts: Counter[str] = Counter()
        fix = "fetch it again: mluke-data fetch --what itemspersite"
        with (
            FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw,
            reading_input(path, fix),
        ):
            for site, title, qid in iter_items_per_site(open_decompressed(raw), self._sites):
                lang = self._sites[site]
                counts[lang] += 1
                yield (lang, canonical_title(title)), qid
        for lang, n in sorted(counts.items()):
            yield _account(lang, "items_per_site_rows", n)


class SplitJsonDump(beam.DoFn):
    """Wikidata dump path -> (path, start, end) work items; compressed files are one item."""

    def __init__(self, split_bytes: int) -> None:
        self._split_bytes = split_bytes

    def process(self, path: str) -> Iterator[tuple[str, int, int | None]]:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
            kind = compression_of(raw.read(4))
        if kind != "none":
            yield path, 0, None
        else:
            size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
            for start in range(0, max(size, 1), self._split_bytes):
                yield path, start, min(size, start + self._split_bytes)


class ReadWikidataJson(beam.DoFn):
    """(path, start, end) of the Wikidata JSON dump -> ((lang, title), qid)."""

    def __init__(self, langs: Iterable[str]) -> None:
        self._langs = sorted(langs)

    def process(self, item: tuple[str, int, int | None]) -> Iterator[Any]:
        path, start, end = item
        stats = WikidataReadStats()
        fix = "fetch it again: mluke-data fetch --what wikidata-json"
        with (
            FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw,
            reading_input(path, fix),
        ):
            if end is None:
                lines: Iterable[bytes] = open_decompressed(raw)  # type: ignore[assignment]
            else:
                lines = iter_lines_in_range(raw, start, end)
            for lang, title, qid in iter_wikidata_sitelinks(lines, self._langs, stats):
                yield (lang, canonical_title(title)), qid
        for key, value in stats.as_dict().items():
            yield _account(GLOBAL, f"wikidata_{key}", value)


def _join_page_props(element: tuple[tuple[str, int], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, _), grouped = element
    qids = sorted(set(grouped["item"]), key=qid_number)
    if not qids:
        return []
    pages = sorted(set(grouped["page"]))
    articles = [title for kind, title in pages if kind == "page"]
    if articles:
        return [((lang, title), qids[0]) for title in articles]
    if pages:
        # Redirect titles take their target's item through resolution, not their own.
        return [_account(lang, "page_props_on_redirects")]
    return [_account(lang, "page_props_without_page")]


def _dedupe_interwiki(element: tuple[tuple[str, str], Iterable[str]]) -> Iterator[Any]:
    key, qids = element
    distinct = sorted(set(qids), key=qid_number)
    yield key, distinct[0]
    yield _account(key[0], "interwiki_titles")
    if len(distinct) > 1:
        yield _account(key[0], "interwiki_conflicts")


def _start_redirect(element: tuple[tuple[str, str], str]) -> Iterator[Any]:
    (lang, source), target = element
    if target == source:
        yield TaggedOutput("done", ((lang, source), (None, "loop", 0)))
    else:
        yield (lang, target), (source, (source,))


class _RedirectRound(beam.DoFn):
    def __init__(self, final_round: bool) -> None:
        self._final_round = final_round

    def process(self, element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> Iterator[Any]:
        (lang, current), grouped = element
        states = sorted(grouped["state"])
        targets = sorted(grouped["edge"])
        target = targets[0] if targets else None
        for kind, value in redirect_round(lang, current, target, states, self._final_round):
            yield TaggedOutput("done", value) if kind == "done" else value


def _redirect_account(element: tuple[tuple[str, str], tuple[str | None, str, int]]) -> Iterator[Any]:
    (lang, _), (_, status, hops) = element
    yield (lang, "redirects"), 1
    if status == "ok" and hops > 1:
        yield (lang, "redirects_multi_hop"), 1
    elif status == "loop":
        yield (lang, "redirects_in_loop"), 1
    elif status == "too_long":
        yield (lang, "redirects_too_long"), 1


def _resolve_link_target(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, target), grouped = element
    stats = list(grouped["links"])  # one element: the links were combined per target before
    if not stats:
        return []
    count, _, anchors = stats[0]
    resolution = sorted(grouped["res"], key=repr)
    if not resolution:
        return [_account(lang, LINKS_DIRECT, count), ((lang, target), (count, 0, anchors))]
    final, status, _ = resolution[0]
    if status == "ok":
        return [_account(lang, LINKS_VIA_REDIRECT, count), ((lang, final), (count, count, anchors))]
    if status == "loop":
        return [_account(lang, LINKS_REDIRECT_LOOP, count)]
    return [_account(lang, LINKS_REDIRECT_TOO_LONG, count)]


def _merge_with_item(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, title), grouped = element
    stats = list(grouped["links"])
    if not stats:
        return []  # a title with an item that no link reaches
    count, _, anchors = stats[0]
    items = sorted(grouped["item"], key=qid_number)
    if not items:
        return [
            _account(lang, "link_targets"),
            _account(lang, LINKS_NO_ITEM, count),
            TaggedOutput("mentions", (lang, None, title, anchors)),
        ]
    return [
        _account(lang, "link_targets"),
        (items[0], (lang, title, count)),
        TaggedOutput("mentions", (lang, items[0], title, anchors)),
    ]


def _check_languages(record: EntityRecord, min_languages: int) -> Iterator[Any]:
    if record.num_languages >= min_languages:
        yield record
    else:
        for lang, _, count in record.titles:
            yield _account(lang, LINKS_BELOW_MIN_LANGUAGES, count)


def _light(record: EntityRecord) -> tuple[int, int, str]:
    return record.count, qid_number(record.qid), record.qid


def _assign_ids(top: Sequence[tuple[int, int, str]]) -> Iterator[tuple[str, int]]:
    # Top returns its elements largest key first: count descending, Q-number ascending.
    for offset, (_, _, qid) in enumerate(top):
        yield qid, FIRST_ENTITY_ID + offset


def _split_by_vocab(record: EntityRecord, vocab: Mapping[str, int]) -> Iterator[Any]:
    entity_id = vocab.get(record.qid)
    fate = LINKS_BEYOND_VOCAB_SIZE if entity_id is None else LINKS_IN_VOCAB
    for lang, _, count in record.titles:
        yield _account(lang, fate, count)
    if entity_id is not None:
        yield entity_id, record


def _mention_counts(
    element: tuple[str, str | None, str, Mapping[str, int]], vocab: Mapping[str, int]
) -> Iterator[tuple[tuple[str, str], dict[tuple[int, str, str], int]]]:
    lang, qid, title, anchors = element
    entity_id = vocab.get(qid, -1) if qid is not None else -1
    entity = (entity_id, qid or "", title) if entity_id >= 0 else OUTSIDE_VOCAB
    for anchor, n in anchors.items():
        yield (lang, anchor), {entity: n}


def _mention_rows(
    element: tuple[tuple[str, str], Mapping[tuple[int, str, str], int]], min_count: int
) -> Iterator[Any]:
    (lang, mention), counts = element
    rows = mention_rows(lang, mention, counts, min_count)
    if rows:
        yield (lang, mention), rows


def _with_page_counts(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    _, grouped = element
    rows = [row for part in grouped["rows"] for row in part]
    docs = sorted(grouped["docs"])
    doc_count, link_doc_count = docs[0] if docs else (0, 0)
    return with_page_counts(rows, doc_count, link_doc_count)


def _article_titles(
    element: tuple[tuple[str, str], dict[str, Iterable[Any]]], vocab: Mapping[str, int]
) -> list[Any]:
    (lang, title), grouped = element
    if list(grouped["res"]):
        return []  # a redirect title: it gets its entity from its target
    items = sorted(grouped["item"], key=qid_number)
    return [((lang, title), vocab[items[0]])] if items and items[0] in vocab else []


def _redirect_by_final(element: tuple[tuple[str, str], tuple[str | None, str, int]]) -> Iterator[Any]:
    (lang, source), (final, status, _) = element
    if status == "ok" and final is not None:
        yield (lang, final), source


def _title_rows(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, title), grouped = element
    ids = sorted(grouped["article"])
    if not ids:
        return []
    return [(lang, title, ids[0], False)] + [
        (lang, source, ids[0], True) for source in sorted(set(grouped["redirect"]))
    ]


def mention_sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    return row[1], -row[5], row[2]


def title_sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    return row[1], row[2]


def bucket_of(text: str, buckets: int) -> int:
    return zlib.crc32(text.encode("utf-8")) % buckets


class _WritePart(beam.DoFn):
    def __init__(self, tmp_dir: str, schema: pa.Schema, sort_key: Callable[[Sequence[Any]], Any]) -> None:
        self._tmp_dir = tmp_dir
        self._schema = schema
        self._sort_key = sort_key

    def process(self, element: tuple[tuple[str, int], Iterable[Sequence[Any]]]) -> Iterator[Any]:
        (lang, bucket), rows = element
        ordered = sorted(rows, key=self._sort_key)
        path = join_path(self._tmp_dir, lang, f"part-{bucket:05d}.parquet")
        write_parquet(path, rows_to_table(ordered, self._schema))
        yield lang, (bucket, path, len(ordered))


class _ConcatParts(beam.DoFn):
    def __init__(self, out_dir: str, schema: pa.Schema, label: str) -> None:
        self._out_dir = out_dir
        self._schema = schema
        self._label = label

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[Any]:
        lang, parts = element
        ordered = sorted(part for part in parts if part is not None)
        path = join_path(self._out_dir, language_table_name(lang))
        rows = 0
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            sink = CountingSink(handle)
            with pq.ParquetWriter(sink, self._schema, compression="zstd") as writer:  # type: ignore[arg-type]
                for _, part_path, _ in ordered:
                    table = read_parquet(part_path)
                    rows += table.num_rows
                    writer.write_table(table.cast(self._schema))
                if not ordered:
                    writer.write_table(self._schema.empty_table())
        # Parts stay until the run ends (the pipeline module removes the folder): a retried
        # bundle must find them again.
        yield (lang, f"{self._label}_rows"), rows


class WritePerLanguageParquet(beam.PTransform):
    """Rows (lang first) -> ``out_dir/{lang}.parquet``, deterministic, in bounded memory.

    Rows are hashed into buckets, each bucket is sorted and written as a part, and the parts of a
    language are concatenated in bucket order. Every language in ``langs`` gets a file, empty or
    not. Outputs ((lang, "{label}_rows"), rows) account entries.
    """

    def __init__(
        self,
        out_dir: str,
        tmp_dir: str,
        schema: pa.Schema,
        langs: Sequence[str],
        sort_key: Callable[[Sequence[Any]], Any],
        label: str,
        buckets: int = DEFAULT_PART_BUCKETS,
    ) -> None:
        super().__init__()
        self._out_dir = out_dir
        self._tmp_dir = tmp_dir
        self._schema = schema
        self._langs = sorted(langs)
        self._sort_key = sort_key
        self._label = label
        self._buckets = buckets

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        buckets = self._buckets
        parts = (
            rows
            | "Bucket" >> beam.Map(lambda row: ((row[0], bucket_of(row[1], buckets)), row))
            | "GroupBucket" >> beam.GroupByKey()
            | "WritePart" >> beam.ParDo(_WritePart(self._tmp_dir, self._schema, self._sort_key))
        )
        seeds = rows.pipeline | "Languages" >> beam.Create([(lang, None) for lang in self._langs])
        return (
            (parts, seeds)
            | "FlattenParts" >> beam.Flatten()
            | "GroupLanguage" >> beam.GroupByKey()
            | "Concat" >> beam.ParDo(_ConcatParts(self._out_dir, self._schema, self._label))
        )


class WriteVocabulary(beam.DoFn):
    """The gathered vocabulary (<= vocab size entities) -> jsonl, json, entities.parquet,
    stats.json and report.json, written last (the account side input is complete by then)."""

    def __init__(self, vocab_dir: str, langs: Sequence[str], settings: Mapping[str, Any]) -> None:
        self._vocab_dir = vocab_dir
        self._langs = sorted(langs)
        self._settings = dict(settings)

    def process(self, gathered: list[tuple[int, EntityRecord]], account: Mapping[Any, int]) -> Iterator[Any]:
        entities = sorted(gathered, key=lambda item: item[0])
        account = {tuple(key): value for key, value in account.items()}
        write_bytes(
            join_path(self._vocab_dir, ENTITY_VOCAB_JSONL), luke_jsonl(entities, self._langs).encode()
        )
        write_bytes(join_path(self._vocab_dir, ENTITY_VOCAB_HF_JSON), hf_entity_vocab(entities).encode())
        write_parquet(join_path(self._vocab_dir, ENTITIES_PARQUET), entities_table(entities))
        stats = vocabulary_stats(entities, account, self._langs, self._settings)
        write_bytes(join_path(self._vocab_dir, VOCAB_STATS), _to_json(stats))
        report = vocab_report(account, self._settings, len(entities))
        write_bytes(join_path(self._vocab_dir, VOCAB_REPORT), _to_json(report))
        yield len(entities)


def _to_json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# Composite PTransforms
# ---------------------------------------------------------------------------------------------


class ReadParquetRowGroups(beam.PTransform):
    """Parquet paths -> (path, row group) work items, reshuffled so row groups spread out."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__()
        self._paths = sorted(paths)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "Paths" >> beam.Create(self._paths)
            | "RowGroups" >> beam.ParDo(ListRowGroups())
            | "Spread" >> beam.Reshuffle()
        )


class ResolveRedirects(beam.PTransform):
    """((lang, redirect title), target) -> ((lang, redirect title), (final, status, hops)).

    Follows chains with ``max_hops`` rounds of CoGroupByKey (state keyed by the title reached,
    joined with the redirect table keyed by source); a chain that comes back to a title it passed
    is a ``loop``, one still going after ``max_hops`` is ``too_long`` (both: final None).
    """

    def __init__(self, max_hops: int = DEFAULT_MAX_REDIRECT_HOPS) -> None:
        super().__init__()
        self._max_hops = max(1, max_hops)

    def expand(self, edges: beam.PCollection) -> beam.PCollection:
        edges = edges | "OneTargetPerTitle" >> beam.CombinePerKey(min)
        start = edges | "Start" >> beam.FlatMap(_start_redirect).with_outputs("done", main="active")
        done = [start["done"]]
        active = start["active"]
        for round_index in range(1, self._max_hops + 1):
            step = (
                {"edge": edges, "state": active}
                | f"Join{round_index}" >> beam.CoGroupByKey()
                | f"Hop{round_index}"
                >> beam.ParDo(_RedirectRound(round_index == self._max_hops)).with_outputs(
                    "done", main="active"
                )
            )
            done.append(step["done"])
            active = step["active"]
        return done | "Resolved" >> beam.Flatten()


class ResolveLinkTargets(beam.PTransform):
    """Link stats keyed by raw target + redirect resolution -> stats keyed by canonical title.

    Outputs a dict: ``links`` ((lang, title), (count, via redirect, anchors)) and ``account``.
    """

    def __init__(self, resolution: beam.PCollection) -> None:
        super().__init__()
        self._resolution = resolution

    def expand(self, links: beam.PCollection) -> dict[str, beam.PCollection]:
        per_target = links | "PerTarget" >> beam.CombinePerKey(MergeLinkStats())
        joined = (
            {"links": per_target, "res": self._resolution}
            | "JoinRedirects" >> beam.CoGroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve_link_target).with_outputs("account", main="links")
        )
        canonical = joined["links"] | "PerTitle" >> beam.CombinePerKey(MergeLinkStats())
        return {"links": canonical, "account": joined["account"]}


class PageProps(beam.PTransform):
    """page_props.sql.gz per language + page ids -> interwiki ((lang, title), qid)."""

    def __init__(self, files: Mapping[str, str], page_ids: beam.PCollection) -> None:
        super().__init__()
        self._files = sorted(files.items())
        self._page_ids = page_ids

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        props = (
            pbegin
            | "Files" >> beam.Create(self._files)
            | "Spread" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(ReadPageProps()).with_outputs("account", main="items")
        )
        joined = (
            {"page": self._page_ids, "item": props["items"]}
            | "JoinPageIds" >> beam.CoGroupByKey()
            | "Titles" >> beam.FlatMap(_join_page_props).with_outputs("account", main="items")
        )
        account = (props["account"], joined["account"]) | "Account" >> beam.Flatten()
        return {"items": joined["items"], "account": account}


class WikidataJson(beam.PTransform):
    """The Wikidata JSON dump -> interwiki ((lang, title), qid) for the requested languages."""

    def __init__(self, path: str, langs: Sequence[str], split_bytes: int = DEFAULT_JSON_SPLIT_BYTES) -> None:
        super().__init__()
        self._path = path
        self._langs = sorted(langs)
        self._split_bytes = split_bytes

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        read = (
            pbegin
            | "Path" >> beam.Create([self._path])
            | "Split" >> beam.ParDo(SplitJsonDump(self._split_bytes))
            | "Spread" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(ReadWikidataJson(self._langs)).with_outputs("account", main="items")
        )
        return {"items": read["items"], "account": read["account"]}


class ItemsPerSite(beam.PTransform):
    """wikidatawiki's wb_items_per_site.sql.gz -> interwiki ((lang, title), qid)."""

    def __init__(self, path: str, langs: Sequence[str]) -> None:
        super().__init__()
        self._path = path
        self._langs = sorted(langs)

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        read = (
            pbegin
            | "Path" >> beam.Create([self._path])
            | "Parse" >> beam.ParDo(ReadItemsPerSite(self._langs)).with_outputs("account", main="items")
        )
        return {"items": read["items"], "account": read["account"]}


class DedupeInterwiki(beam.PTransform):
    """One item per (lang, title): the lowest Q-number wins, conflicts are counted."""

    def expand(self, items: beam.PCollection) -> dict[str, beam.PCollection]:
        out = (
            items
            | "Group" >> beam.GroupByKey()
            | "Pick" >> beam.FlatMap(_dedupe_interwiki).with_outputs("account", main="items")
        )
        return {"items": out["items"], "account": out["account"]}


class MergeByItem(beam.PTransform):
    """Canonical link stats + interwiki -> entity records keyed by qid.

    Outputs a dict: ``entities`` (EntityRecord), ``mentions`` ((lang, qid or None, anchors)) and
    ``account`` (link targets, links without an item).
    """

    def __init__(self, interwiki: beam.PCollection) -> None:
        super().__init__()
        self._interwiki = interwiki

    def expand(self, links: beam.PCollection) -> dict[str, beam.PCollection]:
        joined = (
            {"links": links, "item": self._interwiki}
            | "JoinItems" >> beam.CoGroupByKey()
            | "ToItems" >> beam.FlatMap(_merge_with_item).with_outputs("account", "mentions", main="parts")
        )
        entities = (
            joined["parts"] | "GroupByItem" >> beam.GroupByKey() | "Entity" >> beam.MapTuple(merge_entity)
        )
        return {"entities": entities, "mentions": joined["mentions"], "account": joined["account"]}


class SelectVocabulary(beam.PTransform):
    """Entities -> min-languages filter -> top ``vocab_size`` by (count desc, Q-number asc).

    Outputs a dict: ``ids`` ((qid, entity id), at most vocab_size, used as a side input),
    ``vocab`` ((entity id, EntityRecord)) and ``account``.
    """

    def __init__(self, min_languages: int, vocab_size: int) -> None:
        super().__init__()
        self._min_languages = min_languages
        self._vocab_size = vocab_size

    def expand(self, entities: beam.PCollection) -> dict[str, beam.PCollection]:
        checked = entities | "MinLanguages" >> beam.FlatMap(
            _check_languages, self._min_languages
        ).with_outputs("account", main="candidates")
        candidates = checked["candidates"]
        ids = (
            candidates
            | "Light" >> beam.Map(_light)
            | "Top" >> beam.combiners.Top.Of(self._vocab_size, key=top_key)
            | "AssignIds" >> beam.FlatMap(_assign_ids)
        )
        split = candidates | "InVocab" >> beam.FlatMap(_split_by_vocab, AsDict(ids)).with_outputs(
            "account", main="vocab"
        )
        account = (checked["account"], split["account"]) | "Account" >> beam.Flatten()
        return {"ids": ids, "vocab": split["vocab"], "account": account}


class MentionDictionary(beam.PTransform):
    """(lang, qid or None, title, anchors) -> ``rows`` of MENTIONS_SCHEMA, and ``account``.

    Anchors are counted per entity (commonness); then every mention that has a row is looked for
    in the page text of its language (:class:`transforms.mentions.CountMentionPages`) for
    doc_count, link_doc_count and link_prob.
    """

    def __init__(
        self, ids: beam.PCollection, min_count: int, page_files: Sequence[str], max_matcher_mentions: int
    ) -> None:
        super().__init__()
        self._ids = ids
        self._min_count = min_count
        self._page_files = page_files
        self._max_matcher_mentions = max_matcher_mentions

    def expand(self, sources: beam.PCollection) -> dict[str, beam.PCollection]:
        per_mention = (
            sources
            | "ToEntities" >> beam.FlatMap(_mention_counts, AsDict(self._ids))
            | "PerMention" >> beam.CombinePerKey(MergeCounts())
            | "Rows" >> beam.FlatMap(_mention_rows, self._min_count)
        )
        pages = (
            per_mention
            | "Keys" >> beam.Keys()
            | "CountPages" >> CountMentionPages(self._page_files, self._max_matcher_mentions)
        )
        rows = (
            {"rows": per_mention, "docs": pages["counts"]}
            | "JoinPageCounts" >> beam.CoGroupByKey()
            | "WithPageCounts" >> beam.FlatMap(_with_page_counts)
        )
        return {"rows": rows, "account": pages["account"]}


class TitleMap(beam.PTransform):
    """Every title that leads to a vocabulary entity: articles with an item in the vocabulary
    and redirects resolving to them -> rows (lang, title, entity id, redirect)."""

    def __init__(self, resolution: beam.PCollection, ids: beam.PCollection) -> None:
        super().__init__()
        self._resolution = resolution
        self._ids = ids

    def expand(self, interwiki: beam.PCollection) -> beam.PCollection:
        articles = (
            {"item": interwiki, "res": self._resolution}
            | "SkipRedirects" >> beam.CoGroupByKey()
            | "Articles" >> beam.FlatMap(_article_titles, AsDict(self._ids))
        )
        redirects = self._resolution | "ByFinal" >> beam.FlatMap(_redirect_by_final)
        return (
            {"article": articles, "redirect": redirects}
            | "JoinRedirects" >> beam.CoGroupByKey()
            | "Rows" >> beam.FlatMap(_title_rows)
        )


@dataclass(frozen=True)
class VocabInputs:
    """Where the stage reads and writes; resolved and checked by the pipeline module."""

    langs: tuple[str, ...]
    page_files: tuple[str, ...]
    redirect_files: tuple[str, ...]
    vocab_dir: str
    tmp_dir: str
    interwiki: str  # page-props | wikidata-json | items-per-site
    page_props_files: Mapping[str, str] = field(default_factory=dict)
    interwiki_path: str | None = None


@dataclass(frozen=True)
class VocabSettings:
    min_languages: int = 3
    vocab_size: int = 1_200_000
    max_redirect_hops: int = DEFAULT_MAX_REDIRECT_HOPS
    min_mention_count: int = 1
    part_buckets: int = DEFAULT_PART_BUCKETS
    json_split_bytes: int = DEFAULT_JSON_SPLIT_BYTES
    max_matcher_mentions: int = DEFAULT_MAX_MATCHER_MENTIONS


class BuildEntityVocabulary(beam.PTransform):
    """The whole vocab stage, applied to a pipeline's begin."""

    def __init__(
        self, inputs: VocabInputs, settings: VocabSettings, report_settings: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self._in = inputs
        self._settings = settings
        self._report_settings = dict(report_settings)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        inp, cfg = self._in, self._settings
        langs = list(inp.langs)
        with_page_ids = inp.interwiki == "page-props"
        accounts: list[beam.PCollection] = []

        pages = (
            pbegin
            | "PageRowGroups" >> ReadParquetRowGroups(inp.page_files)
            | "ReadPages"
            >> beam.ParDo(ReadPageLinks(langs, with_page_ids)).with_outputs(
                "account", "page_ids", main="links"
            )
        )
        accounts.append(pages["account"])
        redirects = (
            pbegin
            | "RedirectRowGroups" >> ReadParquetRowGroups(inp.redirect_files)
            | "ReadRedirects"
            >> beam.ParDo(ReadRedirects(langs, with_page_ids)).with_outputs("page_ids", main="edges")
        )

        resolution = redirects["edges"] | "ResolveRedirects" >> ResolveRedirects(cfg.max_redirect_hops)
        accounts.append(resolution | "RedirectAccount" >> beam.FlatMap(_redirect_account))
        resolved = pages["links"] | "ResolveLinkTargets" >> ResolveLinkTargets(resolution)
        accounts.append(resolved["account"])

        if inp.interwiki == "page-props":
            page_ids = (pages["page_ids"], redirects["page_ids"]) | "PageIds" >> beam.Flatten()
            raw_items = pbegin | "PageProps" >> PageProps(inp.page_props_files, page_ids)
        elif inp.interwiki == "wikidata-json":
            assert inp.interwiki_path is not None
            raw_items = pbegin | "WikidataJson" >> WikidataJson(
                inp.interwiki_path, langs, cfg.json_split_bytes
            )
        elif inp.interwiki == "items-per-site":
            assert inp.interwiki_path is not None
            raw_items = pbegin | "ItemsPerSite" >> ItemsPerSite(inp.interwiki_path, langs)
        else:
            raise ValueError(f"unknown interwiki source {inp.interwiki!r}")
        accounts.append(raw_items["account"])
        interwiki = raw_items["items"] | "DedupeInterwiki" >> DedupeInterwiki()
        accounts.append(interwiki["account"])

        merged = resolved["links"] | "MergeByItem" >> MergeByItem(interwiki["items"])
        accounts.append(merged["account"])
        selected = merged["entities"] | "SelectVocabulary" >> SelectVocabulary(
            cfg.min_languages, cfg.vocab_size
        )
        accounts.append(selected["account"])

        mentions = merged["mentions"] | "MentionDictionary" >> MentionDictionary(
            selected["ids"], cfg.min_mention_count, inp.page_files, cfg.max_matcher_mentions
        )
        accounts.append(mentions["account"])
        accounts.append(
            mentions["rows"]
            | "WriteMentions"
            >> WritePerLanguageParquet(
                join_path(inp.vocab_dir, "mentions"),
                join_path(inp.tmp_dir, "mentions"),
                MENTIONS_SCHEMA,
                langs,
                mention_sort_key,
                "mention",
                cfg.part_buckets,
            )
        )
        titles = interwiki["items"] | "TitleMap" >> TitleMap(resolution, selected["ids"])
        accounts.append(
            titles
            | "WriteTitles"
            >> WritePerLanguageParquet(
                join_path(inp.vocab_dir, "titles"),
                join_path(inp.tmp_dir, "titles"),
                TITLES_SCHEMA,
                langs,
                title_sort_key,
                "title",
                cfg.part_buckets,
            )
        )

        account = accounts | "FlattenAccount" >> beam.Flatten() | "SumAccount" >> beam.CombinePerKey(sum)
        gathered = selected["vocab"] | "Gather" >> beam.combiners.ToList()
        return gathered | "WriteVocabulary" >> beam.ParDo(
            WriteVocabulary(inp.vocab_dir, langs, self._report_settings), AsDict(account)
        )
