"""Multistream dumps: the index, byte-range work items, and reading the bz2 streams of one.

A pages-articles *multistream* dump is a chain of bz2 streams (the first holds ``<siteinfo>``,
then up to 100 ``<page>`` elements each), listed by an index of ``offset:page_id:title`` lines.
The planner groups consecutive streams into byte-range work items, so one 20 GB file spreads over
many workers, and a damaged stream costs only its own pages. Other dumps are one work item for the
whole file (read by :mod:`transforms.dumpreader`).
"""

from __future__ import annotations

import bz2
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.page_xml import RawPage, ReadProblem, pages_of_stream, siteinfo_from_header

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
            yield from pages_of_stream(text, source)
            rest = decompressor.unused_data
            if not rest.strip(b"\0"):
                break
            position += len(chunk) - len(rest)
            chunk = rest
