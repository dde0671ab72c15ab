"""The interwiki map of the vocab stage: which Wikidata item each (lang, title) is, read from one
of three sources and reduced to one item per title.

- ``page-props``: every wiki's page_props.sql.gz (page id -> item), joined with the page ids of
  the extract stage's pages and redirects;
- ``wikidata-json``: the Wikidata JSON dump (sitelinks), split into byte ranges when plain;
- ``items-per-site``: wikidatawiki's wb_items_per_site.sql.gz.

The dumps are parsed by :mod:`transforms.sqldump` and :mod:`transforms.wikidata`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.sqldump import (
    compression_of,
    iter_items_per_site,
    iter_page_props_items,
    open_decompressed,
    reading_input,
    site_map,
)
from transforms.vocab_keys import GLOBAL, account, canonical_title, qid_number
from transforms.wikidata import WikidataReadStats, iter_lines_in_range, iter_wikidata_sitelinks

PAGE_PROPS = "page-props"
WIKIDATA_JSON = "wikidata-json"
ITEMS_PER_SITE = "items-per-site"
INTERWIKI_SOURCES = (PAGE_PROPS, WIKIDATA_JSON, ITEMS_PER_SITE)
DEFAULT_JSON_SPLIT_BYTES = 64 << 20


class InterwikiInputs(Protocol):
    """What :class:`ReadInterwiki` reads (the stage's ``VocabInputs`` has these fields)."""

    langs: Sequence[str]
    interwiki: str  # page-props | wikidata-json | items-per-site
    page_props_files: Mapping[str, str]
    interwiki_path: str | None


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
        yield account(lang, "page_props_items", rows)


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
            yield account(lang, "items_per_site_rows", n)


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
            yield account(GLOBAL, f"wikidata_{key}", value)


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
        return [account(lang, "page_props_on_redirects")]
    return [account(lang, "page_props_without_page")]


def _dedupe_interwiki(element: tuple[tuple[str, str], Iterable[str]]) -> Iterator[Any]:
    key, qids = element
    distinct = sorted(set(qids), key=qid_number)
    yield key, distinct[0]
    yield account(key[0], "interwiki_titles")
    if len(distinct) > 1:
        yield account(key[0], "interwiki_conflicts")


class PageProps(beam.PTransform):
    """page_props.sql.gz per language + page ids -> interwiki ((lang, title), qid)."""

    def __init__(self, files: Mapping[str, str], page_ids: beam.PCollection) -> None:
        super().__init__()
        self._files = sorted(files.items())
        self._page_ids = page_ids

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        props = (
            pbegin
            | "Files" >> beam.Create(self._files, reshuffle=False)
            | "Spread" >> beam.Reshuffle()
            | "Parse" >> beam.ParDo(ReadPageProps()).with_outputs("account", main="items")
        )
        joined = (
            {"page": self._page_ids, "item": props["items"]}
            | "JoinPageIds" >> beam.CoGroupByKey()
            | "Titles" >> beam.FlatMap(_join_page_props).with_outputs("account", main="items")
        )
        return {"items": joined["items"], "account": (props["account"], joined["account"])}


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


class ReadInterwiki(beam.PTransform):
    """The interwiki source of ``inputs`` -> ``items`` ((lang, title), qid), one per title, and
    ``account``. ``page_ids`` (((lang, page id), (kind, title)) of pages and redirects) is read
    only by ``page-props``."""

    def __init__(
        self,
        inputs: InterwikiInputs,
        page_ids: beam.PCollection,
        json_split_bytes: int = DEFAULT_JSON_SPLIT_BYTES,
    ) -> None:
        super().__init__()
        if inputs.interwiki not in INTERWIKI_SOURCES:
            raise ValueError(f"unknown interwiki source {inputs.interwiki!r}")
        self._in = inputs
        self._page_ids = page_ids
        self._json_split_bytes = json_split_bytes

    def _source(self) -> beam.PTransform:
        inp = self._in
        if inp.interwiki == PAGE_PROPS:
            return "PageProps" >> PageProps(inp.page_props_files, self._page_ids)
        assert inp.interwiki_path is not None
        if inp.interwiki == WIKIDATA_JSON:
            return "WikidataJson" >> WikidataJson(inp.interwiki_path, inp.langs, self._json_split_bytes)
        return "ItemsPerSite" >> ItemsPerSite(inp.interwiki_path, inp.langs)

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        raw = pbegin | self._source()
        deduped = raw["items"] | "Dedupe" >> DedupeInterwiki()
        return {"items": deduped["items"], "account": (raw["account"], deduped["account"])}
