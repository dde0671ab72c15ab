"""Small file helpers over Beam's FileSystems (local paths and gs:// alike)."""

from __future__ import annotations

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


def ensure_directory(path: str) -> None:
    """Create a directory; another worker creating it at the same moment is fine."""
    if FileSystems.exists(path):
        return
    try:
        FileSystems.mkdirs(path)
    except OSError:
        if not FileSystems.exists(path):
            raise


def write_atomically(path: str, data: bytes) -> None:
    """Write through a temp name, then rename, so a reader never sees half a file."""
    ensure_directory(path.rsplit("/", 1)[0])
    temp = path + ".tmp"
    with FileSystems.create(temp, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temp], [path])
