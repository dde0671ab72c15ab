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
import codecs
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
    # Why the page cannot be used although its XML parsed (an id outside the int64 range...).
    problem: str | None = None


@dataclass
class ReadProblem:
    """Pages that could not be read: a damaged stream, a truncated file, broken XML."""

    reason: str  # corrupt_stream, corrupt_file, truncated_file, bad_xml, bad_page_xml, ...
    error: str
    pages_lost: int  # pages known to be lost (from the index, or a page cut in half); 0 when unknown
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


_INT64 = 1 << 63
_DIGITS = re.compile(r"-?[0-9]{1,20}")


def _int(text: str | bytes | None) -> int | None:
    """An integer that fits the int64 columns of every output, else None."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _text_of(element: etree._Element) -> str:
    """All text inside ``<text>``, child elements and entity references included.

    A well-formed dump escapes every ``<`` and ``&`` of the wikitext, so ``<text>`` has no
    children; when a broken one has, the text after them is still the page's text.
    """
    parts = [element.text or ""]
    for child in element:
        if isinstance(child, etree._Entity):
            parts.append(child.text or "")
        elif isinstance(child.tag, str):
            parts.append(_text_of(child))
        parts.append(child.tail or "")
    return "".join(parts)


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
            text = _text_of(text_el) if len(text_el) else text_el.text or ""
        revision_id = _int(_child(revision, "id").text) if _child(revision, "id") is not None else None
    page_id = _int(id_el.text) if id_el is not None else None
    problem = None
    if id_el is not None and page_id is None:
        problem = f"page id {(id_el.text or '').strip()[:40]!r} is not an integer below 2^63"
    return RawPage(
        title=title_el.text if title_el is not None else None,
        page_id=page_id,
        namespace=_int(ns_el.text) if ns_el is not None else None,
        revision_id=revision_id,
        redirect_title=(redirect_el.get("title") or "") if redirect_el is not None else None,
        text=text,
        source=source,
        problem=problem,
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
    if end <= start:
        return b""  # an index offset past the end of the file: nothing to read there
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.seek(start)
        return handle.read(end - start)


# The siteinfo stream is small; a first stream larger than this is not a multistream header.
_MAX_FIRST_STREAM = 64 << 20


def _first_stream(path: str) -> tuple[bytes, int]:
    """The decompressed first bz2 stream of a file and the offset where the next one starts.

    The offset is -1 when the first stream does not end (cut off, damaged, or not bz2).
    """
    decompressor = bz2.BZ2Decompressor()
    out: list[bytes] = []
    consumed = 0
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            while consumed < _MAX_FIRST_STREAM and not decompressor.eof:
                chunk = handle.read(1 << 16)
                if not chunk:
                    break
                consumed += len(chunk)
                out.append(decompressor.decompress(chunk))
    except (OSError, EOFError, ValueError):
        return b"".join(out), -1
    if not decompressor.eof:
        return b"".join(out), -1
    return b"".join(out), consumed - len(decompressor.unused_data)


def siteinfo_from_header(data: bytes) -> dict[str, Any]:
    """Siteinfo from the bytes before the first page; {} when there is none or it is broken."""
    match = _SITEINFO.search(data)
    if match is None:
        return {}
    try:
        return siteinfo_from_element(etree.fromstring(match.group(0), _parser()))
    except etree.XMLSyntaxError:
        return {}


def read_multistream_siteinfo(path: str, first_page_offset: int) -> dict[str, Any]:
    """Siteinfo from the first bz2 stream of a multistream dump (bytes before the first page)."""
    data, _ = _first_stream(path)
    return siteinfo_from_header(data)


def plan_multistream(
    lang: str,
    path: str,
    index_path: str,
    work_item_bytes: int,
) -> list[WorkItem]:
    """Group a multistream dump's streams into work items of about ``work_item_bytes``.

    Every byte of the file after the siteinfo stream belongs to some work item, whatever the
    index lists: streams the index leaves out are read with the listed stream before them (a
    work item follows every bz2 stream in its range), and streams between the siteinfo stream
    and the first listed one get a work item of their own. An empty index plans nothing; the
    caller reads such a file as a whole.
    """
    streams = read_index_offsets(index_path)
    size = file_size(path)
    if not streams:
        return []
    header, second = _first_stream(path)
    siteinfo = siteinfo_from_header(header)
    if 0 < second < streams[0][0] and second < size:
        streams.insert(0, (second, 0))  # unlisted streams before the first listed one
    groups: list[list[tuple[int, int]]] = [[]]
    group_start = streams[0][0]
    for offset, pages in streams:
        if groups[-1] and offset - group_start >= work_item_bytes:
            groups.append([])
            group_start = offset
        groups[-1].append((offset, pages))
    items = []
    for shard, group in enumerate(groups):
        end = groups[shard + 1][0][0] if shard + 1 < len(groups) else max(size, group[-1][0])
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
_TITLE = re.compile(rb"<title>(.*?)</title>", re.DOTALL)
_PAGE_ID = re.compile(rb"<id>\s*(-?\d+)\s*</id>")


def _bad_page(block: bytes, source: str, reason: str, error: str) -> ReadProblem:
    """A page that could not be parsed, named by what a regex can still find in it."""
    title = _TITLE.search(block)
    page_id = _PAGE_ID.search(block)
    return ReadProblem(
        reason=reason,
        error=error,
        pages_lost=1,
        source=source,
        title=title.group(1).decode("utf-8", "replace")[:1000] if title else None,
        page_id=_int(page_id.group(1)) if page_id else None,
    )


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
                yield _bad_page(block, source, "bad_page_xml", f"XML error: {error}")
                continue
            yield page_from_element(element, source)
        return
    for element in root:
        if _local(element.tag) == "page":
            yield page_from_element(element, source)


def read_multistream_item(item: WorkItem) -> Iterator[RawPage | ReadProblem]:
    """Pages of a multistream work item, stream by stream; a damaged stream becomes a problem.

    The range between two listed offsets normally holds one bz2 stream; any further streams in
    it (left out of the index) are read too, each on its own.
    """
    data = _read_range(item.path, item.stream_offsets[0], item.end)
    base = item.stream_offsets[0]
    bounds = [*item.stream_offsets[1:], item.end]
    for i, (offset, stream_end) in enumerate(zip(item.stream_offsets, bounds, strict=True)):
        chunk = data[max(0, offset - base) : max(0, stream_end - base)]
        listed = item.stream_pages[i] if i < len(item.stream_pages) else 0
        position = offset
        while True:
            source = f"{item.path}@{position}"
            try:
                decompressor = bz2.BZ2Decompressor()
                text = decompressor.decompress(chunk)
                if not decompressor.eof:
                    raise EOFError("the bz2 stream ends early (file cut off?)")
            except (OSError, EOFError, ValueError) as error:
                past_end = " (the index points past the end of the file)" if position >= item.end else ""
                yield ReadProblem(
                    reason="corrupt_stream",
                    error=f"bz2 stream at byte {position}: {error}{past_end}",
                    pages_lost=listed if position == offset else 0,
                    source=source,
                )
                break
            yield from _pages_of_stream(text, source)
            rest = decompressor.unused_data
            if not rest.strip(b"\0"):
                break
            position += len(chunk) - len(rest)
            chunk = rest


# ---------------------------------------------------------------------------------------------
# Whole files


class _Truncated(Exception):
    pass


@dataclass(frozen=True)
class _Gap:
    """Compressed data that could not be decoded; reading went on at the next stream, if any."""

    error: str


# Compressed bytes fed to a decompressor per call: the output of a call that raises is lost, so
# small calls keep every complete block before a damaged one.
_FEED = 1 << 14
# The start of a bz2 stream: "BZh", the block size digit, and the first block's magic number.
_BZ2_STREAM = re.compile(rb"BZh[1-9]1AY&SY")


def _decompressor(path: str) -> Any:
    if path.endswith(".bz2"):
        return bz2.BZ2Decompressor()
    if path.endswith(".gz"):
        return zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    return None


# Decompressed bytes taken per call: a bz2 decompressor decodes the next block only once the
# output of the last one is taken, so the blocks before a damaged one all come out.
_OUT = 1 << 16


def _decompress(decompressor: Any, piece: bytes) -> Iterator[bytes]:
    if isinstance(decompressor, bz2.BZ2Decompressor):
        out = decompressor.decompress(piece, max_length=_OUT)
        while True:
            if out:
                yield out
            if decompressor.eof or decompressor.needs_input:
                return
            out = decompressor.decompress(b"", max_length=_OUT)
    out = decompressor.decompress(piece)
    if out:
        yield out


def _chunks(path: str) -> Iterator[bytes | _Gap]:
    """Decompressed bytes of a dump file (bz2, gz or plain, by extension), as far as they go.

    Decompressed here rather than by FileSystems so that the bytes before a cut-off point still
    come out; concatenated bz2/gzip streams (multistream files without index) are followed. Damaged
    bz2 data yields a :class:`_Gap` and reading goes on at the next bz2 stream in the file.
    """
    decompressor = _decompressor(path)
    fed = False
    position = 0  # offset in the compressed file of the next byte to feed
    resync = b""  # compressed bytes searched for the next bz2 stream after damage
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        while True:
            chunk = handle.read(_READ_CHUNK)
            if not chunk:
                break
            if decompressor is None:
                yield chunk
                continue
            if resync or decompressor is False:
                resync += chunk
                found = _BZ2_STREAM.search(resync)
                if found is None:
                    position += len(resync) - 16
                    resync = resync[-16:]
                    continue
                position += found.start()
                chunk = resync[found.start() :]
                resync = b""
                decompressor = _decompressor(path)
            while chunk:
                piece, chunk = chunk[:_FEED], chunk[_FEED:]
                fed = True
                try:
                    yield from _decompress(decompressor, piece)
                except (OSError, EOFError, ValueError, zlib.error) as error:
                    kind = "bz2" if path.endswith(".bz2") else "gzip"
                    where = f"bytes {position}-{position + len(piece)}"
                    yield _Gap(f"damaged {kind} data in {where} of the file: {error}")
                    rest = piece[1:] + chunk
                    if kind != "bz2":
                        return
                    found = _BZ2_STREAM.search(rest)
                    if found is None:
                        position += 1 + len(rest) - 16
                        resync, decompressor, fed = rest[-16:], False, False
                        break
                    position += 1 + found.start()
                    chunk = rest[found.start() :]
                    decompressor, fed = _decompressor(path), False
                    continue
                if decompressor.eof:
                    unused = decompressor.unused_data
                    position += len(piece) - len(unused)
                    chunk = unused + chunk
                    decompressor = _decompressor(path)
                    fed = False
                else:
                    position += len(piece)
    # A fresh decompressor after a complete stream has seen no input: that is not a truncation.
    if decompressor and fed and not decompressor.eof:
        raise _Truncated("the compressed data ends before its end-of-stream marker")


def _utf8(chunks: Iterator[bytes | _Gap]) -> Iterator[bytes | _Gap]:
    """The chunks as UTF-8: a UTF-16 file (with a BOM, or recognizable by its ``<?``) is transcoded."""
    decoder = None
    first = True
    for chunk in chunks:
        if isinstance(chunk, _Gap):
            yield chunk
            continue
        if first and chunk:
            first = False
            head = chunk[:4]
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
            elif head.startswith(b"<\0?\0"):
                decoder = codecs.getincrementaldecoder("utf-16-le")(errors="replace")
            elif head.startswith(b"\0<\0?"):
                decoder = codecs.getincrementaldecoder("utf-16-be")(errors="replace")
            elif head.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
        yield decoder.decode(chunk).encode("utf-8") if decoder is not None else chunk
    if decoder is not None:
        yield decoder.decode(b"", final=True).encode("utf-8")


_PAGE_OPEN = re.compile(rb"<page[\s>]")
_PAGE_CLOSE = b"</page>"
_SITEINFO = re.compile(rb"<siteinfo[\s>].*?</siteinfo\s*>", re.DOTALL)
_ROOT_OPEN = re.compile(rb"<mediawiki[\s>]")
_ROOT_CLOSE = re.compile(rb"</mediawiki\s*>")


class _WholeFileReader:
    """Cuts a dump's XML into ``<page>`` blocks and parses each on its own.

    Broken XML (invalid UTF-8, a NUL, an undefined entity, a missing close tag) then costs only
    the page it is in: reading goes on at the next ``<page>``. ``buf[pos:]`` is the unread data.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.buf = b""
        self.pos = 0
        self.pages = 0
        self.header_done = False
        self.saw_root = False
        self.root_closed = False
        self.bytes = 0
        self.scanned = 0  # no page boundary in buf[pos + 5 : scanned] after the current page start

    def drop_partial_page(self) -> None:
        self.buf, self.pos, self.scanned = b"", 0, 0

    def feed(self, data: bytes, final: bool = False) -> Iterator[dict[str, Any] | RawPage | ReadProblem]:
        self.bytes += len(data)
        if data:
            self.scanned = max(0, self.scanned - self.pos)
            self.buf = self.buf[self.pos :] + data
            self.pos = 0
        buf = self.buf
        if not self.header_done:
            first = _PAGE_OPEN.search(buf)
            if first is None and not final:
                return
            header = buf if first is None else buf[: first.start()]
            self.header_done = True
            self.saw_root = _ROOT_OPEN.search(header) is not None
            self.root_closed = _ROOT_CLOSE.search(header) is not None
            siteinfo = siteinfo_from_header(header)
            if siteinfo:
                yield siteinfo
            self.pos = len(buf) if first is None else first.start()
            self.scanned = 0
        while self.pos < len(buf):
            pos = self.pos
            if not buf.startswith(b"<page", pos):
                following = _PAGE_OPEN.search(buf, pos)
                if _ROOT_CLOSE.search(buf, pos, len(buf) if following is None else following.start()):
                    self.root_closed = True
                if following is None:
                    # Keep a tail that may be the start of a <page> cut by the chunk boundary.
                    keep = len(buf) - 16 if not final and b"<" in buf[-16:] else len(buf)
                    self.pos = max(pos, keep)
                    self.scanned = 0
                    return
                self.pos = following.start()
                self.scanned = 0
                continue
            search_from = max(pos + 5, self.scanned - 16)
            close = buf.find(_PAGE_CLOSE, search_from)
            following = _PAGE_OPEN.search(buf, search_from, close if close >= 0 else len(buf))
            if following is not None:
                # A page that never closes before the next one starts.
                self.pages += 1
                yield _bad_page(
                    buf[pos : following.start()],
                    f"{self.path}#page{self.pages}",
                    "bad_page_xml",
                    "XML error: the page ends before its </page>",
                )
                self.pos = following.start()
                self.scanned = 0
                continue
            if close < 0:
                self.scanned = len(buf)
                return
            block = buf[pos : close + len(_PAGE_CLOSE)]
            self.pos = close + len(_PAGE_CLOSE)
            self.scanned = 0
            self.pages += 1
            source = f"{self.path}#page{self.pages}"
            try:
                element = etree.fromstring(block, _parser())
            except etree.XMLSyntaxError as error:
                yield _bad_page(block, source, "bad_page_xml", f"XML error: {error}")
                continue
            yield page_from_element(element, source)

    def partial_page(self) -> bytes:
        """The start of a page that the data ended inside, if any."""
        return self.buf[self.pos :] if self.buf.startswith(b"<page", self.pos) else b""


def read_whole_file(path: str) -> Iterator[dict[str, Any] | RawPage | ReadProblem]:
    """Siteinfo dict first (when present), then pages; problems where they were met.

    Every page that cannot be read is a problem with ``pages_lost`` 1; a file that is cut off or
    damaged reports where, with the page it cut in half counted.
    """
    reader = _WholeFileReader(path)
    damaged = None
    try:
        for chunk in _utf8(_chunks(path)):
            if isinstance(chunk, _Gap):
                partial = reader.partial_page()
                yield ReadProblem(
                    reason="corrupt_file",
                    error=f"{chunk.error}; pages in the damaged part are lost (reading went on at the "
                    f"next bz2 stream, if any), after {reader.pages} pages",
                    pages_lost=1 if partial else 0,
                    source=path,
                )
                damaged = chunk
                if partial:  # the page cut by the damage cannot be completed
                    reader.drop_partial_page()
                continue
            yield from reader.feed(chunk)
        yield from reader.feed(b"", final=True)
    except _Truncated as error:
        yield from reader.feed(b"", final=True)
        partial = reader.partial_page()
        yield _truncated(path, reader, f"compressed data ends early: {error}", partial)
        return
    if reader.bytes == 0 and damaged is None:
        yield ReadProblem(reason="empty_file", error="the file holds no data", pages_lost=0, source=path)
        return
    partial = reader.partial_page()
    if partial:
        yield _truncated(path, reader, "the file ends inside a <page>", partial)
    elif not reader.saw_root and reader.pages == 0 and damaged is None:
        yield ReadProblem(
            reason="bad_xml",
            error="not a MediaWiki XML export (no <mediawiki> element and no <page>)",
            pages_lost=0,
            source=path,
        )
    elif not reader.root_closed and damaged is None:
        yield _truncated(path, reader, "the file ends before </mediawiki>", b"")


def _truncated(path: str, reader: _WholeFileReader, what: str, partial: bytes) -> ReadProblem:
    problem = _bad_page(partial, path, "truncated_file", "") if partial else None
    return ReadProblem(
        reason="truncated_file",
        error=f"{what} after {reader.pages} complete pages"
        + ("; the page cut off is lost" if partial else ""),
        pages_lost=1 if partial else 0,
        source=path,
        title=problem.title if problem else None,
        page_id=problem.page_id if problem else None,
    )
