"""Reading MediaWiki XML export dumps: siteinfo, multistream byte ranges, pages.

Two input shapes:

- A pages-articles *multistream* dump with its index: the file is a chain of bz2 streams (the
  first holds ``<siteinfo>``, then up to 100 ``<page>`` elements each). The planner groups
  consecutive streams into byte-range work items, so one 20 GB file spreads over many workers, and
  a damaged stream costs only its own pages.
- Any other dump (single-stream ``.xml.bz2``, ``.xml.gz``, plain ``.xml``, UTF-8 or UTF-16 with a
  BOM): one work item for the whole file, parsed incrementally; a file cut off mid-way keeps every
  complete page and reports the truncation.

XML is parsed with entity resolution, DTD loading and network access off (no XXE, no billion
laughs). Export schema versions 0.3 to 0.11 are understood; elements are matched by local name.
"""

from __future__ import annotations

import bz2
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from lxml import etree

from transforms.titles import FIRST_LETTER, SiteInfo

_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class WorkItem:
    """A unit of extract work: a byte range of a multistream dump, or a whole file."""

    lang: str
    path: str
    # Output shard of the language this item writes, and the language's shard count.
    shard: int
    shards: int
    # For multistream items: the start offsets of the bz2 streams in this range, the end of the
    # range, and how many pages the index lists in each stream. Empty for whole-file items.
    stream_offsets: tuple[int, ...] = ()
    end: int = -1
    stream_pages: tuple[int, ...] = ()
    # Siteinfo read by the planner (multistream only; whole files carry their own).
    siteinfo: dict[str, Any] | None = None

    @property
    def is_multistream(self) -> bool:
        return bool(self.stream_offsets)

    @property
    def source(self) -> str:
        if self.is_multistream:
            return f"{self.path}@{self.stream_offsets[0]}-{self.end}"
        return self.path

    @property
    def key(self) -> str:
        return f"{self.lang}/{self.shard:05d}"


@dataclass
class RawPage:
    """A ``<page>`` as read from the dump, before any wikitext processing."""

    title: str | None
    page_id: int | None
    namespace: int | None
    revision_id: int | None
    redirect_title: str | None  # from <redirect title=...>; "" for a bare <redirect/>
    text: str | None
    source: str


@dataclass
class ReadProblem:
    """Pages that could not be read: a damaged stream, a truncated file, broken XML."""

    reason: str  # corrupt_stream, truncated_file, bad_xml
    error: str
    pages_lost: int  # pages known (from the index) to be lost; 0 when unknown
    source: str
    title: str | None = None
    page_id: int | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
    )


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def page_from_element(element: etree._Element, source: str) -> RawPage:
    """Fields of a ``<page>`` element of any export schema version (last revision wins)."""
    title_el = _child(element, "title")
    ns_el = _child(element, "ns")
    id_el = _child(element, "id")
    redirect_el = _child(element, "redirect")
    revision = None
    for child in element:
        if _local(child.tag) == "revision":
            revision = child
    text = None
    revision_id = None
    if revision is not None:
        text_el = _child(revision, "text")
        if text_el is not None and text_el.get("deleted") is None:
            text = text_el.text or ""
        revision_id = _int(_child(revision, "id").text) if _child(revision, "id") is not None else None
    return RawPage(
        title=title_el.text if title_el is not None else None,
        page_id=_int(id_el.text) if id_el is not None else None,
        namespace=_int(ns_el.text) if ns_el is not None else None,
        revision_id=revision_id,
        redirect_title=(redirect_el.get("title") or "") if redirect_el is not None else None,
        text=text,
        source=source,
    )


def siteinfo_from_element(element: etree._Element) -> dict[str, Any]:
    """A plain dict (picklable, JSON-able) of a ``<siteinfo>`` element."""
    info: dict[str, Any] = {"dbname": "", "case": FIRST_LETTER, "namespaces": {}}
    for child in element:
        name = _local(child.tag)
        if name in ("dbname", "sitename", "base", "generator"):
            info[name] = (child.text or "").strip()
        elif name == "case":
            info["case"] = (child.text or FIRST_LETTER).strip()
        elif name == "namespaces":
            for namespace in child:
                key = _int(namespace.get("key"))
                if key is not None:
                    info["namespaces"][str(key)] = (namespace.text or "").strip()
    return info


def site_from_siteinfo(lang: str, info: dict[str, Any] | None) -> SiteInfo:
    info = info or {}
    namespaces = {int(k): v for k, v in (info.get("namespaces") or {}).items()}
    return SiteInfo.build(
        lang, dbname=info.get("dbname", ""), case=info.get("case", FIRST_LETTER), namespaces=namespaces
    )


# ---------------------------------------------------------------------------------------------
# Multistream dumps


def read_index_offsets(index_path: str) -> list[tuple[int, int]]:
    """(stream offset, pages in the stream) for every stream listed in a multistream index.

    Index lines are ``offset:page_id:title``; titles may contain ':'. Read as a stream, so the
    index of a large wiki never sits in memory as text.
    """
    counts: dict[int, int] = {}
    with FileSystems.open(index_path, compression_type=CompressionTypes.BZIP2) as handle:
        remainder = b""
        while True:
            chunk = handle.read(_READ_CHUNK)
            if not chunk:
                break
            lines = (remainder + chunk).split(b"\n")
            remainder = lines.pop()
            for line in lines:
                _count_index_line(line, counts)
        _count_index_line(remainder, counts)
    return sorted(counts.items())


def _count_index_line(line: bytes, counts: dict[int, int]) -> None:
    head = line.split(b":", 1)[0].strip()
    if head.isdigit():
        offset = int(head)
        counts[offset] = counts.get(offset, 0) + 1


def file_size(path: str) -> int:
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


def _read_range(path: str, start: int, end: int) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.seek(start)
        return handle.read(end - start)


def read_multistream_siteinfo(path: str, first_page_offset: int) -> dict[str, Any]:
    """Siteinfo from the first bz2 stream of a multistream dump (bytes before the first page)."""
    data = bz2.decompress(_read_range(path, 0, first_page_offset))
    text = re.sub(rb"<mediawiki\b[^>]*>", b"<mediawiki>", data, count=1)
    if b"</mediawiki>" not in text:
        text += b"</mediawiki>"
    root = etree.fromstring(text, _parser())
    siteinfo = _child(root, "siteinfo")
    return siteinfo_from_element(siteinfo) if siteinfo is not None else {}


def plan_multistream(
    lang: str,
    path: str,
    index_path: str,
    work_item_bytes: int,
) -> list[WorkItem]:
    """Group a multistream dump's streams into work items of about ``work_item_bytes``."""
    streams = read_index_offsets(index_path)
    size = file_size(path)
    if not streams:
        return []
    siteinfo = read_multistream_siteinfo(path, streams[0][0])
    groups: list[list[tuple[int, int]]] = [[]]
    group_start = streams[0][0]
    for offset, pages in streams:
        if groups[-1] and offset - group_start >= work_item_bytes:
            groups.append([])
            group_start = offset
        groups[-1].append((offset, pages))
    items = []
    for shard, group in enumerate(groups):
        end = groups[shard + 1][0][0] if shard + 1 < len(groups) else size
        items.append(
            WorkItem(
                lang=lang,
                path=path,
                shard=shard,
                shards=len(groups),
                stream_offsets=tuple(offset for offset, _ in group),
                end=end,
                stream_pages=tuple(pages for _, pages in group),
                siteinfo=siteinfo,
            )
        )
    return items


_PAGE_BLOCK = re.compile(rb"<page>.*?(?:</page>|\Z)", re.DOTALL)
_TAIL = re.compile(rb"</mediawiki>\s*$")


def _pages_of_stream(data: bytes, source: str) -> Iterator[RawPage | ReadProblem]:
    data = _TAIL.sub(b"", data)
    try:
        root = etree.fromstring(b"<mediawiki>" + data + b"</mediawiki>", _parser())
    except etree.XMLSyntaxError:
        # One broken page must not take its 99 neighbours with it: parse page by page.
        for block in _PAGE_BLOCK.findall(data):
            try:
                element = etree.fromstring(block, _parser())
            except etree.XMLSyntaxError as error:
                title = re.search(rb"<title>(.*?)</title>", block)
                page_id = re.search(rb"<id>(\d+)</id>", block)
                yield ReadProblem(
                    reason="bad_page_xml",
                    error=f"XML error: {error}",
                    pages_lost=1,
                    source=source,
                    title=title.group(1).decode("utf-8", "replace") if title else None,
                    page_id=int(page_id.group(1)) if page_id else None,
                )
                continue
            yield page_from_element(element, source)
        return
    for element in root:
        if _local(element.tag) == "page":
            yield page_from_element(element, source)


def read_multistream_item(item: WorkItem) -> Iterator[RawPage | ReadProblem]:
    """Pages of a multistream work item, stream by stream; a damaged stream becomes a problem."""
    data = _read_range(item.path, item.stream_offsets[0], item.end)
    base = item.stream_offsets[0]
    bounds = [*item.stream_offsets[1:], item.end]
    for i, (offset, stream_end) in enumerate(zip(item.stream_offsets, bounds, strict=True)):
        chunk = data[offset - base : stream_end - base]
        source = f"{item.path}@{offset}"
        try:
            decompressor = bz2.BZ2Decompressor()
            text = decompressor.decompress(chunk)
            if not decompressor.eof:
                raise EOFError("the bz2 stream ends early (file cut off?)")
        except (OSError, EOFError, ValueError) as error:
            yield ReadProblem(
                reason="corrupt_stream",
                error=f"bz2 stream at byte {offset}: {error}",
                pages_lost=item.stream_pages[i] if i < len(item.stream_pages) else 0,
                source=source,
            )
            continue
        yield from _pages_of_stream(text, source)


# ---------------------------------------------------------------------------------------------
# Whole files


class _Truncated(Exception):
    pass


def _decompressor(path: str) -> Any:
    if path.endswith(".bz2"):
        return bz2.BZ2Decompressor()
    if path.endswith(".gz"):
        return zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    return None


def _chunks(path: str) -> Iterator[bytes]:
    """Decompressed bytes of a dump file (bz2, gz or plain, by extension), as far as they go.

    Decompressed here rather than by FileSystems so that the bytes before a cut-off point still
    come out; concatenated bz2/gzip streams (multistream files without index) are followed.
    """
    decompressor = _decompressor(path)
    fed = False
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        while True:
            chunk = handle.read(_READ_CHUNK)
            if not chunk:
                break
            if decompressor is None:
                yield chunk
                continue
            while chunk:
                fed = True
                try:
                    out = decompressor.decompress(chunk)
                except (OSError, EOFError, ValueError, zlib.error) as error:
                    raise _Truncated(f"corrupt compressed data: {error}") from error
                if out:
                    yield out
                if decompressor.eof:
                    chunk = decompressor.unused_data
                    decompressor = _decompressor(path)
                    fed = False
                else:
                    chunk = b""
    # A fresh decompressor after a complete stream has seen no input: that is not a truncation.
    if decompressor is not None and fed and not decompressor.eof:
        raise _Truncated("the compressed data ends before its end-of-stream marker")


def read_whole_file(path: str) -> Iterator[dict[str, Any] | RawPage | ReadProblem]:
    """Siteinfo dict first (when present), then pages; problems at the point reading stops."""
    parser = etree.XMLPullParser(
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        remove_comments=True,
    )
    state = {"pages": 0, "root_closed": False, "bytes": 0}

    def drain() -> Iterator[dict[str, Any] | RawPage]:
        for _, element in parser.read_events():
            name = _local(element.tag)
            if name == "siteinfo":
                yield siteinfo_from_element(element)
                element.clear()
            elif name == "page":
                state["pages"] += 1
                yield page_from_element(element, f"{path}#page{state['pages']}")
                element.clear()
                parent = element.getparent()
                if parent is not None:
                    # Drop finished pages so memory stays flat on a large file.
                    while element.getprevious() is not None:
                        del parent[0]
            elif name == "mediawiki":
                state["root_closed"] = True

    try:
        for chunk in _chunks(path):
            state["bytes"] += len(chunk)
            for start in range(0, len(chunk), 1 << 16):
                try:
                    parser.feed(chunk[start : start + (1 << 16)])
                finally:
                    yield from drain()
        try:
            parser.close()
        finally:
            yield from drain()
    except _Truncated as error:
        yield ReadProblem(
            reason="truncated_file",
            error=f"compressed data ends early after {state['pages']} complete pages: {error}",
            pages_lost=0,
            source=path,
        )
    except etree.XMLSyntaxError as error:
        if state["bytes"] == 0:
            yield ReadProblem(reason="empty_file", error="the file holds no data", pages_lost=0, source=path)
            return
        reason = "truncated_file" if not state["root_closed"] and _looks_truncated(error) else "bad_xml"
        yield ReadProblem(
            reason=reason,
            error=f"XML error after {state['pages']} complete pages: {error}",
            pages_lost=0,
            source=path,
        )


def _looks_truncated(error: etree.XMLSyntaxError) -> bool:
    message = str(error).lower()
    return (
        any(
            hint in message
            for hint in (
                "premature end",
                "end of data",
                "extra content",
                "not properly terminated",
                "no element",
            )
        )
        or "eof" in message
        or "couldn't find end" in message
    )
