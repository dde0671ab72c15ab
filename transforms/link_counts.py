"""Link counting of the vocab stage: the links of every page, pre-aggregated per Parquet row group
into (lang, raw target) -> (count, via-redirect count, {anchor: count}), then moved to the title
their redirect chain ends at and combined per (lang, canonical title)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from schemas.mentions import normalize_mention  # the mention key, defined once for every stage
from transforms.parquet_io import RowGroupTask, read_row_group, rows_of_languages
from transforms.vocab_keys import (
    LINKS,
    LINKS_DIRECT,
    LINKS_REDIRECT_LOOP,
    LINKS_REDIRECT_TOO_LONG,
    LINKS_VIA_REDIRECT,
    account,
    canonical_title,
)


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


class _RowGroupLinks(beam.DoFn):
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
        table = rows_of_languages(read_row_group(path, index, self.COLUMNS), self._langs)
        batch = page_batch_links(table, with_titles=self._with_page_ids)
        for key, (count, anchors) in batch.links.items():
            yield key, (count, 0, anchors)
        for lang, n in sorted(batch.pages.items()):
            self._pages.inc(n)
            yield account(lang, "pages", n)
        for lang, n in sorted(batch.link_totals.items()):
            self._links.inc(n)
            yield account(lang, LINKS, n)
        for lang, page_id, title in batch.page_titles:
            yield TaggedOutput("page_ids", ((lang, page_id), ("page", title)))


def page_links_task(page_files: Sequence[str], langs: Iterable[str], with_page_ids: bool) -> RowGroupTask:
    """The pages part of the vocab stage's read (:class:`transforms.parquet_io.ProcessRowGroups`):
    ((lang, raw target), (count, 0, anchors)) and the tagged ``account`` and ``page_ids``; each
    Parquet row group is one work item."""
    return RowGroupTask(tuple(page_files), _RowGroupLinks(langs, with_page_ids))


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


def _resolve_link_target(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, target), grouped = element
    stats = list(grouped["links"])  # one element: the links were combined per target before
    if not stats:
        return []
    count, _, anchors = stats[0]
    resolution = sorted(grouped["res"], key=repr)
    if not resolution:
        return [account(lang, LINKS_DIRECT, count), ((lang, target), (count, 0, anchors))]
    final, status, _ = resolution[0]
    if status == "ok":
        return [account(lang, LINKS_VIA_REDIRECT, count), ((lang, final), (count, count, anchors))]
    if status == "loop":
        return [account(lang, LINKS_REDIRECT_LOOP, count)]
    return [account(lang, LINKS_REDIRECT_TOO_LONG, count)]


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
