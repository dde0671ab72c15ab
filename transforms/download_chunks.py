"""The files of a download: numbered chunks, what is already on disk, and verification.

A download never writes to its final name before the bytes are verified: data goes to numbered
chunk files ``NAME.part-0000``, ``NAME.part-0001``... next to the destination (one per HTTP
response, so an interrupted download resumes with a Range request from the sum of their sizes,
on any FileSystems backend, none of which can append). When all bytes are in,
:func:`place_verified` hashes the chunks (joining them if there is more than one), compares the
sha1 or md5 and size from dumpstatus.json, and only then renames the file into place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.fetch_plan import FileTask

CHUNK_SUFFIX = ".part-"
JOINING_SUFFIX = ".joining"
_CHUNK_RE = re.compile(r"\.part-(\d{4,})$")

# ----------------------------------------------------------------------------------------------
# Chunk files


def _size(path: str) -> int | None:
    found = FileSystems.match([path])[0].metadata_list
    return found[0].size_in_bytes if found else None


def delete_files(paths: Iterable[str]) -> None:
    paths = [p for p in paths if FileSystems.exists(p)]
    if paths:
        FileSystems.delete(paths)


def list_chunks(dest: str) -> list[tuple[str, int]]:
    """The partial-download chunks of ``dest``, in order, with their sizes."""
    found = FileSystems.match([dest + CHUNK_SUFFIX + "*"])[0].metadata_list
    chunks = []
    for meta in found:
        match = _CHUNK_RE.search(meta.path)
        if match and meta.path[: match.start()] == dest:
            chunks.append((int(match[1]), meta.path, meta.size_in_bytes))
    return [(path, size) for _, path, size in sorted(chunks)]


def chunk_path(dest: str, index: int) -> str:
    return f"{dest}{CHUNK_SUFFIX}{index:04d}"


def chunk_index(path: str) -> int:
    """The number of a chunk file: 3 for ``NAME.part-0003``."""
    match = _CHUNK_RE.search(path)
    if match is None:
        raise ValueError(f"{path} is not a chunk file")
    return int(match[1])


# ----------------------------------------------------------------------------------------------
# Verification


def new_hashers(task: FileTask) -> dict[str, Any]:
    """The hash ``task`` is checked with (sha1, else md5), fresh; none for a size-only check."""
    hashers: dict[str, Any] = {}
    if task.sha1:
        hashers["sha1"] = hashlib.sha1(usedforsecurity=False)
    elif task.md5:
        hashers["md5"] = hashlib.md5(usedforsecurity=False)
    return hashers


def _copy_hashing(sources: Sequence[str], target: str | None, task: FileTask, block: int) -> tuple[str, int]:
    """Reads ``sources`` in order (writing them to ``target`` if given); returns (digest, size)."""
    hashers = new_hashers(task)
    size = 0
    writer = FileSystems.create(target, compression_type=CompressionTypes.UNCOMPRESSED) if target else None
    try:
        for source in sources:
            with FileSystems.open(source, compression_type=CompressionTypes.UNCOMPRESSED) as reader:
                while data := reader.read(block):
                    size += len(data)
                    for h in hashers.values():
                        h.update(data)
                    if writer is not None:
                        writer.write(data)
    finally:
        if writer is not None:
            writer.close()
    digest = next(iter(hashers.values())).hexdigest() if hashers else ""
    return digest, size


def _digest_problem(task: FileTask, digest: str, size: int) -> str | None:
    """None when (digest, size) verifies ``task``, else what is wrong."""
    if task.size is not None and size != task.size:
        return f"size {size} bytes, expected {task.size}"
    expected = task.sha1 or task.md5
    if expected and digest != expected:
        return f"{task.check} {digest}, expected {expected}"
    return None


_MAGIC = {".bz2": (b"BZh", "bz2"), ".gz": (b"\x1f\x8b", "gzip")}


def content_problem(name: str, head: bytes) -> str | None:
    """What is wrong with a file's first bytes for its kind (by name), or None.

    The check used when the mirror lists no checksum: an error page served with status 200 must
    not be taken for a dump.
    """
    lowered = head.lstrip()[:64].lower()
    looks_html = lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
    for suffix, (magic, kind) in _MAGIC.items():
        if name.endswith(suffix):
            if head.startswith(magic):
                return None
            what = "an HTML page" if looks_html else f"{head[:8]!r}"
            return f"content is not {kind} data (starts with {what})"
    if looks_html:
        return "content is an HTML page, not a dump file"
    if name.endswith(".xml") and not head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
        return f"content is not XML (starts with {head[:8]!r})"
    if name.endswith(".json") and not head.lstrip().startswith((b"{", b"[")):
        return f"content is not JSON (starts with {head[:8]!r})"
    return None


def _head(path: str, n: int = 512) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as reader:
        return reader.read(n)


def verify_file(path: str, task: FileTask, block: int = 1 << 20) -> str | None:
    """None when the file at ``path`` verifies against ``task``, else what is wrong."""
    size = _size(path)
    if size is None:
        return "missing"
    if task.size is not None and size != task.size:
        return f"size {size} bytes, expected {task.size}"
    digest, size = _copy_hashing([path], None, task, block)
    problem = _digest_problem(task, digest, size)
    if problem is None and task.check == "size":
        problem = content_problem(task.name, _head(path))
    return problem


def place_verified(task: FileTask, block: int, hashers: dict[str, Any] | None = None) -> str | None:
    """Verifies the chunks of ``task`` and renames the verified file into place.

    Returns None when placed, else the problem (the bad data is deleted). ``hashers`` are ones
    that saw every byte of the chunks in order, so a single chunk is not read again; None if not.
    """
    chunks = [path for path, _ in list_chunks(task.dest)]
    if len(chunks) == 1 and hashers is not None:
        digest = next(iter(hashers.values())).hexdigest() if hashers else ""
        source = chunks[0]
        size = _size(source) or 0
    elif len(chunks) == 1:
        source = chunks[0]
        digest, size = _copy_hashing([source], None, task, block)
    else:
        source = task.dest + JOINING_SUFFIX
        digest, size = _copy_hashing(chunks, source, task, block)
    problem = _digest_problem(task, digest, size)
    if problem is None and task.check == "size":
        problem = content_problem(task.name, _head(source))
    if problem is not None:
        delete_files([*chunks, task.dest + JOINING_SUFFIX])
        return problem
    FileSystems.rename([source], [task.dest])
    delete_files(c for c in chunks if c != source)
    return None


# ----------------------------------------------------------------------------------------------
# What is already on disk


def _sizes_in(directories: set[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for directory in sorted(directories):
        try:
            found = FileSystems.match([directory + "/*"])[0].metadata_list
        except Exception:  # a directory that does not exist yet, or a transient listing error
            continue
        sizes.update({m.path: m.size_in_bytes for m in found})
    return sizes


def file_states(tasks: Sequence[FileTask]) -> dict[str, tuple[str, int]]:
    """dest -> (state, bytes): 'present' (size matches), 'partial', 'mismatch' or 'missing'."""
    sizes = _sizes_in({t.dest.rsplit("/", 1)[0] for t in tasks})
    states: dict[str, tuple[str, int]] = {}
    for task in tasks:
        partial = sum(size for path, size in sizes.items() if path.startswith(task.dest + CHUNK_SUFFIX))
        if task.dest in sizes and not partial:
            ok = task.size is None or sizes[task.dest] == task.size
            states[task.dest] = ("present" if ok else "mismatch", sizes[task.dest])
        elif partial:
            states[task.dest] = ("partial", partial)
        else:
            states[task.dest] = ("missing", 0)
    return states
