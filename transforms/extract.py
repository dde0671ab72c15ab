"""The extract stage: dump work items -> pages, redirects and dead letters, with a report.

Pipeline shape (``ExtractPages.expand``)::

    work items ─ Reshuffle ─ ExtractWorkItems ─ stats ─ CombinePerKey(lang) ─ Gather ─ WriteReport
                             (reads its byte range, processes every page, streams its three
                              shard files: pages, redirects, errors)

Every page read ends up in exactly one place: an article row, a redirect row, a counted skip
bucket (other namespace, redirect out of the main namespace) or a dead-letter row with its reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
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
from transforms.dumpreader import read_whole_file
from transforms.errors import write_failure
from transforms.files import StreamingParquetWriter, write_atomically
from transforms.languages import REDIRECT_MAGIC_WORDS
from transforms.multistream import WorkItem, read_multistream_item
from transforms.page_parser import PageParser, ParseResult
from transforms.page_xml import RawPage, ReadProblem, site_from_siteinfo
from transforms.titles import SiteInfo, parse_link_target, split_page_title
from transforms.wikitext import ExtractedArticle, RedirectMatcher

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
        error = raw.problem or "page without title or id"
        return PageOutcome(
            "dead_letter",
            dead_letter(lang, raw.page_id, raw.title, "bad_page_xml", error, raw.source),
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


def parse_outcome(lang: str, raw: RawPage, result: ParseResult) -> PageOutcome:
    """An article, or a dead letter naming why the parser failed on the page."""
    if result[0] == "ok":
        return PageOutcome("article", article_record(lang, raw, result[1]))
    _, kind, message = result
    reason = _ISOLATION_REASONS.get(kind, "parse_error")
    return PageOutcome(
        "dead_letter",
        dead_letter(lang, raw.page_id, raw.title, reason, f"{kind}: {message}", raw.source),
        reason,
    )


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
# One work item, end to end


def _problem_outcome(lang: str, problem: ReadProblem) -> tuple[dict[str, Any], Counter[str]]:
    record = dead_letter(lang, problem.page_id, problem.title, problem.reason, problem.error, problem.source)
    stats: Counter[str] = Counter({"read_problems": 1, f"read_problem.{problem.reason}": 1})
    if problem.pages_lost:
        stats.update(
            {"pages_read": problem.pages_lost, "dead_letter": problem.pages_lost,
             f"dead_letter.{problem.reason}": problem.pages_lost}
        )  # fmt: skip
    return record, stats


def read_work_item(item: WorkItem) -> Iterator[tuple[dict[str, Any] | None, RawPage | ReadProblem]]:
    """(siteinfo, page or problem) for everything a work item holds, in dump order."""
    if item.is_multistream:
        for page in read_multistream_item(item):
            yield item.siteinfo, page
        return
    siteinfo: dict[str, Any] | None = None
    for entry in read_whole_file(item.path):
        if isinstance(entry, dict):
            siteinfo = entry
        else:
            yield siteinfo, entry


# Pages parsed in one batch: bounded by count and by characters of wikitext.
BATCH_PAGES = 64
BATCH_CHARS = 1 << 20

_OUTPUT_OF = {"article": "pages", "redirect": "redirects", "dead_letter": "errors"}


def extract_work_item(
    item: WorkItem, settings: ExtractSettings, parser: PageParser
) -> Iterator[tuple[str, dict[str, Any] | None, Counter[str]]]:
    """(output kind, record, stats) for every page of a work item, in dump order.

    Output kind is pages, redirects, errors, or "" for counted skips. Pages that need parsing are
    collected into batches; everything is emitted in dump order when a batch is flushed.
    """
    redirects = RedirectMatcher(REDIRECT_MAGIC_WORDS.get(item.lang, ()))
    queue: list[tuple[RawPage | None, PageOutcome | None, Counter[str] | None, dict[str, Any] | None]] = []
    batch: list[str] = []
    current: tuple[str, dict[str, Any] | None, SiteInfo] | None = None

    def flush() -> Iterator[tuple[str, dict[str, Any] | None, Counter[str]]]:
        results = iter(parser.parse(batch, item.lang, current[1], current[2]) if batch and current else [])
        for raw, outcome, stats, record in queue:
            if stats is not None:  # a read problem
                yield "errors", record, stats
                continue
            if outcome is None:
                assert raw is not None
                outcome = parse_outcome(item.lang, raw, next(results))
            yield _OUTPUT_OF.get(outcome.kind, ""), outcome.record, outcome_stats(item.lang, outcome)
        queue.clear()
        batch.clear()

    for siteinfo, page in read_work_item(item):
        if isinstance(page, ReadProblem):
            record, stats = _problem_outcome(item.lang, page)
            queue.append((None, None, stats, record))
            continue
        key = json.dumps(siteinfo, sort_keys=True)
        if current is None or current[0] != key:
            yield from flush()  # a batch is parsed with one siteinfo
            current = (key, siteinfo, site_from_siteinfo(item.lang, siteinfo))
        outcome = classify_page(item.lang, page, current[2], redirects, settings)
        queue.append((page, outcome, None, None))
        if outcome is None:
            batch.append(page.text or "")
            if len(batch) >= BATCH_PAGES or sum(map(len, batch)) >= BATCH_CHARS:
                yield from flush()
    yield from flush()


class ExtractWorkItemFn(beam.DoFn):
    """WorkItem -> its pages, redirects and dead-letter shards on disk; yields (lang, stats).

    The page data never leaves the worker that read it: each work item streams its three output
    files row group by row group, so memory stays flat whatever the dump's size and no shuffle
    carries the text. Rows are in dump order, which is deterministic.
    """

    OUTPUTS = (("pages", PAGES_DIR, PAGE_SCHEMA), ("redirects", REDIRECTS_DIR, REDIRECT_SCHEMA),
               ("errors", ERRORS_DIR, DEAD_LETTER_SCHEMA))  # fmt: skip

    def __init__(self, out: str, settings: ExtractSettings) -> None:
        self.out = out.rstrip("/")
        self.settings = settings
        self._parser: PageParser | None = None
        self._counters: dict[str, Any] = {}

    def setup(self) -> None:
        self._parser = PageParser(self.settings)

    def teardown(self) -> None:
        if self._parser is not None:
            self._parser.close()

    def _count(self, stats: Counter[str]) -> None:
        for name, value in stats.items():
            if "." in name and not name.startswith(("dead_letter.", "read_problem.")):
                continue
            counter = self._counters.get(name)
            if counter is None:
                counter = self._counters[name] = Metrics.counter(STAGE, name)
            counter.inc(value)

    def process(self, item: WorkItem) -> Iterator[tuple[str, Counter[str]]]:
        name = shard_name(item.lang, item.shard, item.shards)
        writers: dict[str, StreamingParquetWriter] = {}
        try:
            for kind, folder, schema in self.OUTPUTS:
                writers[kind] = StreamingParquetWriter(f"{self.out}/{folder}/{item.lang}/{name}", schema)
        except OSError as error:
            raise write_failure(f"{self.out}/.../{item.lang}/{name}", error) from error
        total: Counter[str] = Counter({"work_items": 1})
        assert self._parser is not None
        for kind, record, stats in extract_work_item(item, self.settings, self._parser):
            if kind:
                try:
                    writers[kind].write(record)
                except OSError as error:
                    raise write_failure(writers[kind].path, error) from error
            self._count(stats)
            total.update(stats)
        for kind, writer in writers.items():
            try:
                total[f"bytes_written.{kind}"] += writer.close()
            except OSError as error:
                raise write_failure(writer.path, error) from error
            total[f"rows_written.{kind}"] += writer.rows
        yield item.lang, total


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


def write_report(out: str, per_lang: list[tuple[str, dict[str, int]]]) -> str:
    report = {
        "stage": STAGE,
        "languages": {lang: stats for lang, stats in sorted(per_lang)},
    }
    path = f"{out.rstrip('/')}/{REPORTS_DIR}/{EXTRACT_REPORT}"
    try:
        write_atomically(
            path, (json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
        )
    except OSError as error:
        raise write_failure(path, error) from error
    return path


# ---------------------------------------------------------------------------------------------
# Composite transform


class ExtractPages(beam.PTransform):
    """The whole extract stage: work items in, shard files and the report out."""

    def __init__(self, out: str, settings: ExtractSettings) -> None:
        super().__init__()
        self.out = out
        self.settings = settings

    def expand(self, items: beam.PCollection) -> beam.PCollection:
        out = self.out
        return (
            items
            | "SpreadWorkItems" >> beam.Reshuffle()
            | "ExtractWorkItems" >> beam.ParDo(ExtractWorkItemFn(self.out, self.settings))
            | "SumPerLanguage" >> beam.CombinePerKey(SumStats())
            | "Gather" >> beam.combiners.ToList()
            | "WriteReport" >> beam.Map(lambda per_lang: write_report(out, per_lang))
        )
