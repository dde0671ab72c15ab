"""Parsing pages of wikitext, in-process or in a guarded child process (no Beam here).

The child is forked from a server that imports this module only (``transforms.isolation``), so
keeping Apache Beam out of these imports keeps a child's (re)start at milliseconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from transforms.isolation import IsolatedCallError, IsolatedFunction
from transforms.page_xml import site_from_siteinfo
from transforms.titles import SiteInfo
from transforms.wikitext import extract_article

if TYPE_CHECKING:
    from transforms.extract import ExtractSettings

ParseResult = tuple  # ("ok", ExtractedArticle) or ("error", kind, message)


def parse_pages(texts: list[str], site: SiteInfo) -> list[ParseResult]:
    """Parse each text; a failure is reported for its page only (never raised)."""
    results: list[ParseResult] = []
    for text in texts:
        try:
            results.append(("ok", extract_article(text, site)))
        except RecursionError:
            results.append(("error", "RecursionError", "maximum recursion depth exceeded"))
        except MemoryError:
            raise  # the isolated caller retries page by page to find the culprit
        except Exception as error:  # any parser bug becomes a dead letter, never a failed job
            results.append(("error", type(error).__name__, str(error)))
    return results


_SITES: dict[str, SiteInfo] = {}


def parse_in_child(texts: list[str], lang: str, siteinfo: dict[str, Any] | None = None) -> list[ParseResult]:
    key = lang + json.dumps(siteinfo, sort_keys=True)
    site = _SITES.get(key)
    if site is None:
        site = _SITES[key] = site_from_siteinfo(lang, siteinfo)
    return parse_pages(texts, site)


class PageParser:
    """Parses batches of pages in-process or in the guarded child process.

    Batching pays the round trip to the child (pickling, two context switches) once per batch
    instead of once per page. A batch that times out or kills the child is parsed again page by
    page, each page with the full timeout, so only the page at fault is dead-lettered.
    """

    def __init__(self, settings: ExtractSettings) -> None:
        self.settings = settings
        self._isolated: IsolatedFunction | None = None
        if settings.isolation == "process":
            self._isolated = IsolatedFunction(
                parse_in_child,
                timeout_s=settings.parse_timeout_s,
                memory_bytes=settings.parse_memory_mb * 1024 * 1024,
            )

    def parse(
        self, texts: list[str], lang: str, siteinfo: dict[str, Any] | None, site: SiteInfo
    ) -> list[ParseResult]:
        if self._isolated is None:
            return parse_pages(texts, site)
        try:
            return self._isolated(texts, lang, siteinfo)
        except IsolatedCallError as error:
            if len(texts) == 1:
                return [("error", error.kind, error.message)]
        return [self.parse([text], lang, siteinfo, site)[0] for text in texts]

    def close(self) -> None:
        if self._isolated is not None:
            self._isolated.close()
