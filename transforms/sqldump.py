"""Streaming reader of MySQL dump files (``page_props.sql.gz``, ``wb_items_per_site.sql.gz``).

A Wikimedia table dump is mysqldump output: a few statements, then ``INSERT INTO `table` VALUES
(...),(...),...;`` lines of about a megabyte each. Strings are single-quoted with backslash escapes
(``\\'``, ``\\\\``, ``\\n``, ``\\0``, ...); ``NULL`` and numbers are bare. The reader works on bytes and
reads a bounded chunk at a time, so a line never has to fit in memory as a whole and a multi-byte
UTF-8 character split by a chunk boundary is decoded only once its row is complete.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol

from schemas.dumps import wiki_name
from transforms.errors import UnusableFileError

SqlValue = int | float | str | None

DEFAULT_CHUNK_SIZE = 1 << 20
# A single row larger than this means the file is not what we think it is.
DEFAULT_MAX_ROW_BYTES = 64 << 20

# A quoted string: possessive so a long string never backtracks. mysqldump escapes quotes with a
# backslash; the SQL-standard doubled quote ('') is accepted too.
_STRING = rb"(?:_binary\s*+)?'(?:[^'\\]++|\\.|'')*+'"
_BARE = rb"[^,()'\s][^,()']*+"
_VALUE = rb"\s*+(?:" + _STRING + rb"|" + _BARE + rb")\s*+"
_ROW_RE = re.compile(rb"\(" + _VALUE + rb"(?:," + _VALUE + rb")*+\)", re.DOTALL)
# A row with the separator after it: the unit the fast path consumes.
_ROW_UNIT_RE = re.compile(rb"\s*+(\(" + _VALUE + rb"(?:," + _VALUE + rb")*+\))\s*+[,;]", re.DOTALL)
_SEMICOLON = ord(";")
_TOKEN_RE = re.compile(rb"(?:_binary\s*+)?'((?:[^'\\]++|\\.|'')*+)'|([^,'\s][^,']*+)", re.DOTALL)
_INSERT_RE = re.compile(
    rb"INSERT\s+(?:IGNORE\s+)?INTO\s+`?([^`\s(]+)`?\s*(?:\([^)]*\)\s*)?VALUES\s*", re.IGNORECASE
)
_INSERT_WORD = b"INSERT"
_UNESCAPE_RE = re.compile(rb"\\(.)|''", re.DOTALL)
_ESCAPES = {
    b"0": b"\x00",
    b"b": b"\x08",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"Z": b"\x1a",
}
_SPACE = frozenset(b" \t\r\n")
_INT_RE = re.compile(rb"[+-]?\d+")
_QID_RE = re.compile(r"[Qq]([1-9]\d*)")


class SqlParseError(ValueError):
    """The input is not a MySQL dump the reader understands; the message names the byte offset."""


@contextmanager
def reading_input(path: str, fix: str) -> Iterator[None]:
    """Turns what a reader of ``path`` raises on a bad file into an :class:`UnusableFileError`."""
    try:
        yield
    except SqlParseError as error:
        raise UnusableFileError(f"{path}: {error}; {fix}") from error
    except (EOFError, OSError, zlib.error) as error:
        raise UnusableFileError(f"{path}: the file is cut off or damaged ({error}); {fix}") from error


# mysqldump starts its output with this line; after the last INSERT of a table it writes
# "/*!40000 ALTER TABLE `t` ENABLE KEYS */;" and at the very end "-- Dump completed on ...".
_DUMP_HEADER = b"-- MySQL dump"
_DUMP_ENDINGS = (b"ENABLE KEYS", b"-- Dump completed")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _unescape(raw: bytes) -> bytes:
    if b"\\" not in raw and b"''" not in raw:
        return raw

    def replace(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped is None:
            return b"'"
        return _ESCAPES.get(escaped, escaped)

    return _UNESCAPE_RE.sub(replace, raw)


def _integer(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError as error:  # more digits than Python converts
        raise SqlParseError(f"an integer of {len(raw)} digits in a row: {raw[:20]!r}...") from error


def _bare_value(raw: bytes) -> SqlValue:
    raw = raw.strip()
    if raw.upper() == b"NULL":
        return None
    if _INT_RE.fullmatch(raw):
        return _integer(raw)
    if raw[:2] in (b"0x", b"0X"):
        try:
            return bytes.fromhex(raw[2:].decode("ascii")).decode("utf-8", errors="replace")
        except ValueError:
            pass
    try:
        return float(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def parse_row(row: bytes) -> tuple[SqlValue, ...]:
    """Values of one ``(...)`` tuple: ``(1,'a\\'b',NULL)`` -> ``(1, "a'b", None)``."""
    inner = row[1:-1] if row.startswith(b"(") and row.endswith(b")") else row
    values: list[SqlValue] = []
    append = values.append
    for quoted, bare in _TOKEN_RE.findall(inner):
        if not bare:  # a string (findall gives b"" for the group that did not take part)
            if b"\\" in quoted or b"''" in quoted:
                quoted = _unescape(quoted)
            append(quoted.decode("utf-8", errors="replace"))
        elif bare == b"NULL":
            append(None)
        elif bare.isdigit():
            append(int(bare) if len(bare) < 100 else _integer(bare))
        else:
            append(_bare_value(bare))
    return tuple(values)


def iter_sql_rows(
    source: _Readable,
    table: str | None = None,
    needles: Sequence[bytes] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
) -> Iterator[tuple[SqlValue, ...]]:
    """Rows of every ``INSERT`` statement (into ``table`` when given) in a MySQL dump.

    ``needles`` is a cheap pre-filter: a row whose raw bytes contain none of them is skipped
    without being decoded. A file that is cut off raises :class:`SqlParseError`: one that ends
    inside a row or an ``INSERT`` statement, damaged or cut compressed data, and a mysqldump
    file (``-- MySQL dump`` first line) that ends without mysqldump's closing lines.
    """
    table_bytes = table.encode() if table is not None else None
    buf = b""
    pos = 0
    consumed = 0  # bytes dropped from the front of buf, for error messages
    eof = False
    state = "seek"  # seek -> row -> sep -> row ... -> seek
    wanted = True
    single = needles[0] if len(needles) == 1 else None
    match_unit = _ROW_UNIT_RE.match

    header: bool | None = None  # whether the file starts like mysqldump output
    tail = b""  # the last bytes read, where the trailer is

    def more() -> bool:
        nonlocal buf, pos, consumed, eof, header, tail
        if eof:
            return False
        try:
            chunk = source.read(chunk_size)
        except (EOFError, OSError, zlib.error) as error:
            raise SqlParseError(f"the compressed data is cut off or damaged ({error})") from error
        if header is None:
            header = (buf + chunk).lstrip().startswith(_DUMP_HEADER)
        if not chunk:
            eof = True
            return False
        tail = (tail + chunk)[-512:]
        consumed += pos
        buf = buf[pos:] + chunk
        pos = 0
        return True

    while True:
        if state == "seek":
            match = _INSERT_RE.search(buf, pos)
            if match is None or (match.end() == len(buf) and not eof):
                # Keep a tail that may hold the start of a statement cut by the chunk boundary.
                cut = buf.rfind(_INSERT_WORD, pos)
                keep_from = cut if cut >= 0 and len(buf) - cut < 1 << 16 else max(pos, len(buf) - 16)
                pos = keep_from
                if not more():
                    if header and not any(ending in tail for ending in _DUMP_ENDINGS):
                        raise SqlParseError(
                            f"the file ends at byte {consumed + len(buf)} without what mysqldump writes "
                            "after the last row ('ENABLE KEYS', '-- Dump completed'): it was cut off"
                        )
                    return
                continue
            wanted = table_bytes is None or match.group(1) == table_bytes
            pos = match.end()
            state = "row"
        elif state == "row":
            # Fast path: complete "(row)," units back to back, as long as the buffer has them.
            while True:
                match = match_unit(buf, pos)
                if match is None:
                    break
                if wanted:
                    raw = match.group(1)
                    if not needles or (
                        single in raw if single is not None else any(n in raw for n in needles)
                    ):
                        yield parse_row(raw)
                pos = match.end()
                if buf[pos - 1] == _SEMICOLON:
                    state = "seek"
                    break
            if state != "row":
                continue
            while pos < len(buf) and buf[pos] in _SPACE:
                pos += 1
            match = _ROW_RE.match(buf, pos)
            if match is None:
                if len(buf) - pos > max_row_bytes:
                    raise SqlParseError(f"malformed or oversized row at byte {consumed + pos}")
                if not more():
                    snippet = buf[pos : pos + 60].decode("utf-8", errors="replace")
                    raise SqlParseError(f"malformed or truncated row at byte {consumed + pos}: {snippet!r}")
                continue
            if wanted:
                raw = match.group(0)
                if not needles or any(needle in raw for needle in needles):
                    yield parse_row(raw)
            pos = match.end()
            state = "sep"
        else:  # sep
            while pos < len(buf) and buf[pos] in _SPACE:
                pos += 1
            if pos >= len(buf):
                if not more():
                    raise SqlParseError(
                        f"the file ends inside an INSERT statement at byte {consumed + pos}: it was cut off"
                    )
                continue
            byte = buf[pos : pos + 1]
            pos += 1
            if byte == b",":
                state = "row"
            elif byte == b";":
                state = "seek"
            else:
                raise SqlParseError(f"expected ',' or ';' after a row at byte {consumed + pos - 1}")


def normalize_qid(value: object) -> str | None:
    """``"Q42"``, ``"q42"``, ``42`` -> ``"Q42"``; anything else (``"P31"``, ``""``) -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"Q{value}" if value > 0 else None
    if not isinstance(value, str):
        return None
    match = _QID_RE.fullmatch(value.strip())
    return f"Q{match.group(1)}" if match else None


def iter_page_props_items(source: _Readable, **kwargs: int) -> Iterator[tuple[int, str]]:
    """(page id, Q-id) from the ``wikibase_item`` rows of a ``page_props`` dump.

    Columns are (pp_page, pp_propname, pp_value, pp_sortkey); other properties are skipped.
    """
    for row in iter_sql_rows(source, table="page_props", needles=(b"wikibase_item",), **kwargs):
        if len(row) < 3 or row[1] != "wikibase_item" or not isinstance(row[0], int):
            continue
        qid = normalize_qid(row[2])
        if qid is not None:
            yield row[0], qid


def iter_items_per_site(
    source: _Readable, sites: Iterable[str] | None = None, **kwargs: int
) -> Iterator[tuple[str, str, str]]:
    """(site, page title, Q-id) rows of ``wb_items_per_site``, restricted to ``sites`` when given.

    Columns are (ips_row_id, ips_item_id, ips_site_id, ips_site_page); the item id is numeric.
    """
    wanted = frozenset(sites) if sites is not None else None
    needles = tuple(f"'{site}'".encode() for site in sorted(wanted)) if wanted is not None else ()
    if wanted is not None and not wanted:
        return
    for row in iter_sql_rows(source, table="wb_items_per_site", needles=needles, **kwargs):
        if len(row) < 4:
            continue
        site, title = row[2], row[3]
        if not isinstance(site, str) or not isinstance(title, str) or not title:
            continue
        if wanted is not None and site not in wanted:
            continue
        qid = normalize_qid(row[1])
        if qid is not None:
            yield site, title, qid


class _Prefixed(io.RawIOBase):
    """A raw stream that serves ``head`` before the rest of ``raw`` (to sniff magic bytes)."""

    def __init__(self, head: bytes, raw: BinaryIO | _Readable) -> None:
        super().__init__()
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()
        super().close()


def compression_of(head: bytes) -> str:
    """``"gzip"``, ``"bz2"`` or ``"none"`` from a file's first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    return "none"


def open_decompressed(raw: BinaryIO | _Readable) -> BinaryIO:
    """Wrap a binary stream so reads (and line iteration) return decompressed bytes; gzip and
    bzip2 are recognized by their magic bytes, anything else is passed through."""
    head = raw.read(4)
    stream = io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 20)
    kind = compression_of(head)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if kind == "bz2":
        return bz2.BZ2File(stream, mode="rb")  # type: ignore[return-value]
    return stream


def site_map(langs: Iterable[str]) -> dict[str, str]:
    """``{"enwiki": "en", "zh_yuewiki": "zh-yue"}`` for the given language codes."""
    return {wiki_name(lang): lang for lang in langs}
