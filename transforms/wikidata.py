"""Streaming reader of the Wikidata JSON entity dump (``latest-all.json.bz2`` / ``.gz`` / plain).

The dump is one JSON array written one entity per line::

    [
    {"type":"item","id":"Q31","labels":{...},"claims":{...},"sitelinks":{"enwiki":{"site":"enwiki","title":"Belgium","badges":[]},...}},
    {"type":"property","id":"P31",...},
    ...
    ]

every entity line but the last ending with a comma. Only items (Q-ids) carry Wikipedia sitelinks
that matter here. Records can lack fields, use ``[]`` for an empty map, or be entity redirects
(``"redirects": {"from": ..., "to": ...}``); such records are counted and skipped. A line without
the name of any requested wiki is skipped before it is parsed, which is what makes the pass fast:
most Wikidata items have no Wikipedia sitelink at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from transforms.sqldump import site_map

_ITEM_ID_RE = re.compile(r"Q[1-9]\d*")


@dataclass
class WikidataReadStats:
    """What a pass over the dump saw. Every entity line lands in exactly one of: items,
    without_requested_sitelinks (skipped unparsed: names none of the requested wikis), skipped_*."""

    lines: int = 0
    items: int = 0
    without_requested_sitelinks: int = 0
    skipped_non_item: int = 0
    skipped_redirect: int = 0
    skipped_bad_record: int = 0
    sitelinks: int = 0
    per_site: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "items": self.items,
            "without_requested_sitelinks": self.without_requested_sitelinks,
            "skipped_non_item": self.skipped_non_item,
            "skipped_redirect": self.skipped_redirect,
            "skipped_bad_record": self.skipped_bad_record,
            "sitelinks": self.sitelinks,
        }


def entity_json(line: bytes) -> bytes | None:
    """The JSON object on one dump line without its trailing comma; None for ``[``, ``]``, blanks."""
    text = line.strip()
    if text.endswith(b","):
        text = text[:-1].rstrip()
    if not text or text in (b"[", b"]"):
        return None
    return text


def item_sitelinks(entity: Any, sites: dict[str, str]) -> tuple[str, list[tuple[str, str]]] | str:
    """``(qid, [(lang, title), ...])`` of an item for the requested ``sites`` (wiki -> lang).

    Returns a skip reason instead (``"non_item"``, ``"redirect"``, ``"bad_record"``).
    """
    if not isinstance(entity, dict):
        return "bad_record"
    if "redirects" in entity or "redirect" in entity:
        return "redirect"
    entity_id = entity.get("id")
    entity_type = entity.get("type")
    if entity_type is not None and entity_type != "item":
        return "non_item"
    if not isinstance(entity_id, str) or not _ITEM_ID_RE.fullmatch(entity_id):
        return "non_item" if isinstance(entity_id, str) and entity_id else "bad_record"
    # Special:EntityData output names the page it came from; a mismatch is a followed redirect.
    title = entity.get("title")
    if isinstance(title, str) and title.startswith("Q") and title != entity_id:
        return "redirect"
    links = entity.get("sitelinks")
    if not isinstance(links, dict):
        return entity_id, []  # absent, or [] (how PHP serializes an empty map)
    found: list[tuple[str, str]] = []
    for key, link in sorted(links.items()):
        if not isinstance(link, dict):
            continue
        site = link.get("site", key)
        lang = sites.get(site) if isinstance(site, str) else None
        page = link.get("title")
        if lang is None or not isinstance(page, str) or not page.strip():
            continue
        found.append((lang, page))
    return entity_id, found


def iter_wikidata_sitelinks(
    lines: Iterable[bytes], langs: Iterable[str], stats: WikidataReadStats | None = None
) -> Iterator[tuple[str, str, str]]:
    """(lang, title, qid) for every sitelink of an item to one of the ``langs``' Wikipedias."""
    sites = site_map(langs)
    needles = tuple(f'"{site}"'.encode() for site in sorted(sites))
    stats = stats if stats is not None else WikidataReadStats()
    for line in lines:
        text = entity_json(line)
        if text is None:
            continue
        stats.lines += 1
        if not any(needle in text for needle in needles):
            stats.without_requested_sitelinks += 1
            continue
        try:
            entity = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            stats.skipped_bad_record += 1
            continue
        result = item_sitelinks(entity, sites)
        if isinstance(result, str):
            setattr(stats, f"skipped_{result}", getattr(stats, f"skipped_{result}") + 1)
            continue
        qid, found = result
        stats.items += 1
        for lang, title in found:
            stats.sitelinks += 1
            stats.per_site[lang] = stats.per_site.get(lang, 0) + 1
            yield lang, title, qid


def iter_lines_in_range(stream: Any, start: int, end: int | None) -> Iterator[bytes]:
    """Lines of a seekable uncompressed file that start in ``[start, end)``.

    A split that does not start at 0 skips the line it begins inside: that line belongs to the
    split before, which reads past its own end to finish it.
    """
    stream.seek(start)
    position = start
    if start > 0:
        stream.seek(start - 1)
        position = start - 1
        partial = stream.readline()
        position += len(partial)
    while end is None or position < end:
        line = stream.readline()
        if not line:
            return
        position += len(line)
        yield line
