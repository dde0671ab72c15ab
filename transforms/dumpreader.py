"""Reading a whole dump file: single-stream ``.xml.bz2``, ``.xml.gz`` or plain ``.xml``.

UTF-8, or UTF-16 with a BOM. The file is one work item, decompressed and parsed incrementally
(multistream dumps with an index are split by :mod:`transforms.multistream`). Each ``<page>`` is
cut out and parsed on its own, so broken XML costs only that page; damaged bz2 data keeps every
block before the damage and goes on at the next bz2 stream; a file cut off mid-way keeps every
complete page and reports the truncation.
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

from transforms.page_xml import RawPage, ReadProblem, bad_page, page_of_block, siteinfo_from_header

_READ_CHUNK = 1 << 20


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
                yield bad_page(
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
            yield page_of_block(block, f"{self.path}#page{self.pages}")

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
    problem = bad_page(partial, path, "truncated_file", "") if partial else None
    return ReadProblem(
        reason="truncated_file",
        error=f"{what} after {reader.pages} complete pages"
        + ("; the page cut off is lost" if partial else ""),
        pages_lost=1 if partial else 0,
        source=path,
        title=problem.title if problem else None,
        page_id=problem.page_id if problem else None,
    )
