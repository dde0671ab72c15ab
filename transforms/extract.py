"""The extract stage: dump work items -> pages, redirects and dead letters, with a report.

Pipeline shape (``ExtractPages.expand``)::

    work items ─ Reshuffle ─ ReadPages ─ ProcessPages ─┬─ pages ───────┐
                                                       ├─ redirects ───┼─ CoGroupByKey(shard) ─ WriteShards
                                                       ├─ dead letters ┘
                                                       └─ stats ─ CombinePerKey(lang) ─ WriteReport

Every page read ends up in exactly one place: an article row, a redirect row, a counted skip
bucket (other namespace, redirect out of the main namespace) or a dead-letter row with its reason.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics

from schemas.pages import (
    DEAD_LETTER_SCHEMA,
    ERRORS_DIR,
    EXTRACT_REPORT,
    PAGE_SCHEMA,
    PAGES_DIR,
    REDIRECT_SCHEMA,
    REDIRECTS_DIR,
    REPORTS_DIR,
    shard_name,
)
from transforms.dumpreader import (
    RawPage,
    ReadProblem,
    WorkItem,
    read_multistream_item,
    read_whole_file,
    site_from_siteinfo,
)
from transforms.files import write_atomically
from transforms.isolation import IsolatedCallError, IsolatedFunction
from transforms.languages import REDIRECT_MAGIC_WORDS
from transforms.titles import SiteInfo, parse_link_target, split_page_title
from transforms.wikitext import ExtractedArticle, RedirectMatcher, extract_article

STAGE = "extract"


@dataclass(frozen=True)
class ExtractSettings:
    max_page_chars: int = 5_000_000
    parse_timeout_s: float = 60.0
    parse_memory_mb: int = 4096
    # "process": parse in a child process guarded by timeout and memory cap; "none": in-process.
    isolation: str = "process"


# ---------------------------------------------------------------------------------------------
# Pure page processing


@dataclass
class PageOutcome:
    kind: str  # article, redirect, skipped_namespace, skipped_redirect_target, dead_letter
    record: dict[str, Any] | None = None
    reason: str | None = None


def dead_letter(
    lang: str, page_id: int | None, title: str | None, reason: str, error: str, source: str
) -> dict[str, Any]:
    return {
        "lang": lang,
        "page_id": page_id,
        "title": title,
        "stage": STAGE,
        "reason": reason,
        "error": error[:2000],
        "source": source,
    }


def article_record(lang: str, raw: RawPage, article: ExtractedArticle) -> dict[str, Any]:
    return {
        "lang": lang,
        "page_id": raw.page_id,
        "revision_id": raw.revision_id,
        "title": raw.title,
        "namespace": 0,
        "is_disambiguation": article.is_disambiguation,
        "categories": list(article.categories),
        "paragraphs": [
            {
                "text": paragraph.text,
                "is_lead": paragraph.is_lead,
                "links": [
                    {"start": link.start, "end": link.end, "target": link.target} for link in paragraph.links
                ],
            }
            for paragraph in article.paragraphs
        ],
    }


_ISOLATION_REASONS = {
    "timeout": "timeout",
    "crash": "parser_crash",
    "MemoryError": "parser_crash",
    "RecursionError": "recursion",
}


def classify_page(
    lang: str,
    raw: RawPage,
    site: SiteInfo,
    redirects: RedirectMatcher,
    settings: ExtractSettings,
) -> PageOutcome | None:
    """Everything but the wikitext parse: returns the outcome, or None when the page must be parsed."""
    if raw.title is None or raw.page_id is None:
        return PageOutcome(
            "dead_letter",
            dead_letter(lang, raw.page_id, raw.title, "bad_page_xml", "page without title or id", raw.source),
            "bad_page_xml",
        )
    namespace = raw.namespace if raw.namespace is not None else split_page_title(raw.title, site)[0]
    if namespace != 0:
        return PageOutcome("skipped_namespace")
    if raw.text is None:
        return PageOutcome(
            "dead_letter",
            dead_letter(lang, raw.page_id, raw.title, "missing_text", "revision has no text", raw.source),
            "missing_text",
        )
    target_raw = raw.redirect_title or redirects.target(raw.text)
    if raw.redirect_title is not None or target_raw:
        target = parse_link_target(target_raw or "", site)
        if target.kind != "article":
            return PageOutcome("skipped_redirect_target")
        return PageOutcome(
            "redirect",
            {"lang": lang, "page_id": raw.page_id, "title": raw.title, "target": target.title},
        )
    if len(raw.text) > settings.max_page_chars:
        return PageOutcome(
            "dead_letter",
            dead_letter(
                lang,
                raw.page_id,
                raw.title,
                "too_large",
                f"{len(raw.text)} characters of wikitext (limit --max-page-chars {settings.max_page_chars})",
                raw.source,
            ),
            "too_large",
        )
    return None


def parse_outcome(lang: str, raw: RawPage, parse: Any) -> PageOutcome:
    """Run the (possibly isolated) parser and turn failures into dead letters."""
    try:
        article = parse(raw.text, lang)
    except IsolatedCallError as error:
        reason = _ISOLATION_REASONS.get(error.kind, "parse_error")
        message = f"{error.kind}: {error.message}"
    except RecursionError:
        reason, message = "recursion", "RecursionError: maximum recursion depth exceeded"
    except Exception as error:  # any parser bug becomes a dead letter, never a failed job
        reason, message = "parse_error", f"{type(error).__name__}: {error}"
    else:
        return PageOutcome("article", article_record(lang, raw, article))
    return PageOutcome(
        "dead_letter", dead_letter(lang, raw.page_id, raw.title, reason, message, raw.source), reason
    )


_SITES: dict[str, SiteInfo] = {}


def _parse_in_child(text: str, lang: str, siteinfo: dict[str, Any] | None = None) -> ExtractedArticle:
    key = lang + json.dumps(siteinfo, sort_keys=True)
    site = _SITES.get(key)
    if site is None:
        site = _SITES[key] = site_from_siteinfo(lang, siteinfo)
    return extract_article(text, site)


def outcome_stats(lang: str, outcome: PageOutcome) -> Counter[str]:
    stats: Counter[str] = Counter({"pages_read": 1, outcome.kind: 1})
    if outcome.kind == "dead_letter":
        stats[f"dead_letter.{outcome.reason}"] += 1
    elif outcome.kind == "article" and outcome.record is not None:
        paragraphs = outcome.record["paragraphs"]
        stats["paragraphs"] += len(paragraphs)
        stats["links"] += sum(len(p["links"]) for p in paragraphs)
        stats["disambiguation_pages"] += int(outcome.record["is_disambiguation"])
    return stats


# ---------------------------------------------------------------------------------------------
# DoFns


@dataclass
class SitePage:
    """A raw page with the key of its work item and the site it belongs to."""

    key: str
    lang: str
    siteinfo: dict[str, Any] | None
    page: RawPage | ReadProblem


class ReadPagesFn(beam.DoFn):
    """WorkItem -> SitePage for every page (and every read problem) in it."""

    def __init__(self) -> None:
        self.bytes_read = Metrics.counter(STAGE, "work_items_read")

    def process(self, item: WorkItem) -> Iterator[SitePage]:
        self.bytes_read.inc()
        if item.is_multistream:
            for page in read_multistream_item(item):
                yield SitePage(item.key, item.lang, item.siteinfo, page)
            return
        siteinfo: dict[str, Any] | None = None
        for entry in read_whole_file(item.path):
            if isinstance(entry, dict):
                siteinfo = entry
            else:
                yield SitePage(item.key, item.lang, siteinfo, entry)


class ProcessPagesFn(beam.DoFn):
    """SitePage -> tagged outputs: pages, redirects, errors (dead letters) and stats."""

    PAGES = "pages"
    REDIRECTS = "redirects"
    ERRORS = "errors"
    STATS = "stats"

    def __init__(self, settings: ExtractSettings) -> None:
        self.settings = settings
        self._isolated: IsolatedFunction | None = None
        self._sites: dict[tuple[str, str], SiteInfo] = {}
        self._counters: dict[str, Any] = {}

    def setup(self) -> None:
        if self.settings.isolation == "process":
            self._isolated = IsolatedFunction(
                _parse_in_child,
                timeout_s=self.settings.parse_timeout_s,
                memory_bytes=self.settings.parse_memory_mb * 1024 * 1024,
            )

    def teardown(self) -> None:
        if self._isolated is not None:
            self._isolated.close()

    def _site(self, lang: str, siteinfo: dict[str, Any] | None) -> SiteInfo:
        key = (lang, json.dumps(siteinfo, sort_keys=True))
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = site_from_siteinfo(lang, siteinfo)
        return site

    def _count(self, name: str, value: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(STAGE, name)
        counter.inc(value)

    def process(self, element: SitePage) -> Iterator[Any]:
        lang, key, page = element.lang, element.key, element.page
        if isinstance(page, ReadProblem):
            record = dead_letter(lang, page.page_id, page.title, page.reason, page.error, page.source)
            yield beam.pvalue.TaggedOutput(self.ERRORS, (key, record))
            stats: Counter[str] = Counter({"read_problems": 1, f"read_problem.{page.reason}": 1})
            if page.pages_lost:
                stats.update(
                    {"pages_read": page.pages_lost, "dead_letter": page.pages_lost,
                     f"dead_letter.{page.reason}": page.pages_lost}
                )  # fmt: skip
            self._count("dead_letters", max(page.pages_lost, 1))
            yield beam.pvalue.TaggedOutput(self.STATS, (lang, stats))
            return
        site = self._site(lang, element.siteinfo)
        redirects = RedirectMatcher(REDIRECT_MAGIC_WORDS.get(lang, ()))
        outcome = classify_page(lang, page, site, redirects, self.settings)
        if outcome is None:
            outcome = parse_outcome(lang, page, self._parser(site, element.siteinfo))
        self._count(outcome.kind)
        if outcome.kind == "article":
            yield beam.pvalue.TaggedOutput(self.PAGES, (key, outcome.record))
        elif outcome.kind == "redirect":
            yield beam.pvalue.TaggedOutput(self.REDIRECTS, (key, outcome.record))
        elif outcome.kind == "dead_letter":
            yield beam.pvalue.TaggedOutput(self.ERRORS, (key, outcome.record))
        yield beam.pvalue.TaggedOutput(self.STATS, (lang, outcome_stats(lang, outcome)))

    def _parser(self, site: SiteInfo, siteinfo: dict[str, Any] | None) -> Any:
        if self._isolated is None:
            return lambda text, _lang: extract_article(text, site)
        isolated = self._isolated
        return lambda text, lang: isolated(text, lang, siteinfo)


class SumStats(beam.CombineFn):
    """Adds up stats counters (a Counter per element)."""

    def create_accumulator(self) -> Counter[str]:
        return Counter()

    def add_input(self, accumulator: Counter[str], element: Counter[str]) -> Counter[str]:
        accumulator.update(element)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[Counter[str]]) -> Counter[str]:
        merged: Counter[str] = Counter()
        for accumulator in accumulators:
            merged.update(accumulator)
        return merged

    def extract_output(self, accumulator: Counter[str]) -> dict[str, int]:
        return dict(sorted(accumulator.items()))


def _write_parquet(path: str, records: list[dict[str, Any]], schema: pa.Schema) -> int:
    table = pa.Table.from_pylist(records, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    data = buffer.getvalue()
    write_atomically(path, data)
    return len(data)


def _sort_key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        record.get("page_id") if record.get("page_id") is not None else -1,
        record.get("source") or "",
        record.get("reason") or "",
        record.get("title") or "",
    )


class WriteShardFn(beam.DoFn):
    """(shard key, {item, pages, redirects, errors}) -> three Parquet files, rows sorted by page id."""

    def __init__(self, out: str) -> None:
        self.out = out.rstrip("/")

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, Counter[str]]]:
        _, grouped = element
        item: WorkItem = grouped["item"][0]
        name = shard_name(item.lang, item.shard, item.shards)
        stats: Counter[str] = Counter()
        for folder, schema, tag in (
            (PAGES_DIR, PAGE_SCHEMA, "pages"),
            (REDIRECTS_DIR, REDIRECT_SCHEMA, "redirects"),
            (ERRORS_DIR, DEAD_LETTER_SCHEMA, "errors"),
        ):
            records = sorted(grouped[tag], key=_sort_key)
            directory = f"{self.out}/{folder}/{item.lang}"
            stats[f"bytes_written.{tag}"] += _write_parquet(f"{directory}/{name}", records, schema)
            stats[f"rows_written.{tag}"] += len(records)
        yield item.lang, stats


def write_report(out: str, per_lang: list[tuple[str, dict[str, int]]]) -> str:
    report = {
        "stage": STAGE,
        "languages": {lang: stats for lang, stats in sorted(per_lang)},
    }
    path = f"{out.rstrip('/')}/{REPORTS_DIR}/{EXTRACT_REPORT}"
    write_atomically(path, (json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())
    return path


# ---------------------------------------------------------------------------------------------
# Composite transforms


class ReadAndProcessPages(beam.PTransform):
    """Work items -> tagged pages / redirects / errors / stats."""

    def __init__(self, settings: ExtractSettings) -> None:
        super().__init__()
        self.settings = settings

    def expand(self, items: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            items
            | "SpreadWorkItems" >> beam.Reshuffle()
            | "ReadPages" >> beam.ParDo(ReadPagesFn())
            | "ProcessPages"
            >> beam.ParDo(ProcessPagesFn(self.settings)).with_outputs(
                ProcessPagesFn.PAGES, ProcessPagesFn.REDIRECTS, ProcessPagesFn.ERRORS, ProcessPagesFn.STATS
            )
        )


class WriteShards(beam.PTransform):
    """Group outputs by work item and write one file per work item and output kind."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def expand(self, tagged: dict[str, beam.PCollection]) -> beam.PCollection:
        return (
            tagged
            | "GroupByShard" >> beam.CoGroupByKey()
            | "WriteParquet" >> beam.ParDo(WriteShardFn(self.out))
        )


class ExtractPages(beam.PTransform):
    """The whole extract stage: work items in, files and report out; returns per-language stats."""

    def __init__(self, out: str, settings: ExtractSettings) -> None:
        super().__init__()
        self.out = out
        self.settings = settings

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        outputs = items | "ReadAndProcess" >> ReadAndProcessPages(self.settings)
        written = {
            "item": items | "KeyItems" >> beam.Map(lambda item: (item.key, item)),
            "pages": outputs[ProcessPagesFn.PAGES],
            "redirects": outputs[ProcessPagesFn.REDIRECTS],
            "errors": outputs[ProcessPagesFn.ERRORS],
        } | "WriteShards" >> WriteShards(self.out)
        out = self.out
        return (
            (outputs[ProcessPagesFn.STATS], written)
            | "AllStats" >> beam.Flatten()
            | "SumPerLanguage" >> beam.CombinePerKey(SumStats())
            | "Gather" >> beam.combiners.ToList()
            | "WriteReport" >> beam.Map(lambda per_lang: write_report(out, per_lang))
        )
