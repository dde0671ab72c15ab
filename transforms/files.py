"""Small file helpers over Beam's FileSystems (local paths and gs:// alike)."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems


def match_files(pattern: str) -> list[str]:
    """Sorted paths of the files a FileSystems glob matches (``**`` crosses folders); [] if none."""
    try:
        results = FileSystems.match([pattern])
    except (BeamIOError, OSError, ValueError):
        return []
    return sorted(metadata.path for result in results for metadata in result.metadata_list)


def total_bytes(paths: list[str] | tuple[str, ...]) -> int | None:
    """The summed size of the files (one FileSystems listing call), or None if one cannot be sized."""
    if not paths:
        return 0
    try:
        results = FileSystems.match(list(paths))
    except (BeamIOError, OSError, ValueError):
        return None
    sizes = [metadata.size_in_bytes for result in results for metadata in result.metadata_list]
    return sum(sizes) if len(sizes) >= len(paths) else None


def path_exists(path: str) -> bool:
    """FileSystems.exists, False where the path cannot even be asked about."""
    try:
        return FileSystems.exists(path)
    except (BeamIOError, OSError, ValueError):
        return False


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read a chunk at a time (an entity vocabulary can be gigabytes)."""
    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ensure_directory(path: str) -> None:
    """Create a directory; another worker creating it at the same moment is fine."""
    if FileSystems.exists(path):
        return
    try:
        FileSystems.mkdirs(path)
    except OSError:
        if not FileSystems.exists(path):
            raise


def move_into_place(temp: str, path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temp], [path])


def write_atomically(path: str, data: bytes) -> None:
    """Write through a temp name, then rename, so a reader never sees half a file."""
    ensure_directory(path.rsplit("/", 1)[0])
    temp = path + ".tmp"
    with FileSystems.create(temp, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    move_into_place(temp, path)


class CountingSink:
    """Write-only file wrapper with ``tell()``, which pyarrow needs and remote writers may lack.

    ``sha256`` is the digest of everything written so far, so a file's checksum comes without
    holding or re-reading its bytes.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._position = 0
        self._digest = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._digest.update(data)
        self._position += len(data)
        return len(data)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class StreamingParquetWriter:
    """Rows -> one Parquet file, a row group at a time, under a temp name until ``close()``.

    Memory stays at one row group whatever the file's size; a retried bundle rewrites the temp file
    and readers never see a partial file.
    """

    def __init__(self, path: str, schema: pa.Schema, rows_per_group: int = 1000) -> None:
        self.path = path
        self.schema = schema
        self.rows_per_group = rows_per_group
        self.rows = 0
        self._temp = path + ".tmp"
        ensure_directory(path.rsplit("/", 1)[0])
        self._handle = FileSystems.create(self._temp, compression_type=CompressionTypes.UNCOMPRESSED)
        self._sink = CountingSink(self._handle)
        self._writer = pq.ParquetWriter(self._sink, schema, compression="zstd")  # type: ignore[arg-type]
        self._pending: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_pylist(self._pending, schema=self.schema))
            self.rows += len(self._pending)
            self._pending = []

    def close(self) -> int:
        """Finish the file, move it into place; returns its size in bytes."""
        self._flush()
        if self.rows == 0:
            self._writer.write_table(self.schema.empty_table())
        self._writer.close()
        size = self._sink.tell()
        self._handle.close()
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        FileSystems.rename([self._temp], [self.path])
        return size
