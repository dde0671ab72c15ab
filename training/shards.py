"""Finding, checking and memory-mapping the pretraining shards (layout in schemas.shards).

Every shard is an Arrow IPC file opened with ``pyarrow.memory_map``: its record batches point
into the mapping, and the list columns are used through numpy views of their offsets and values,
so nothing is copied or decoded until a batch gathers its rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa

from schemas.shards import (
    MANIFEST,
    METADATA_DIR,
    SHARD_SCHEMA,
    SHARD_SUFFIX,
    SHARDS_DIR,
    Manifest,
    ShardMetadata,
)

from .errors import TrainingError
from .vocab import sha256_file

LIST_COLUMNS = ("word_ids", "entity_ids", "entity_starts", "entity_ends")


@dataclass
class LanguageShards:
    lang: str
    metadata: ShardMetadata
    files: list[Path]
    rows: int  # rows found in the files (checked against metadata.examples)


@dataclass
class ShardSet:
    """The selected languages of one or more shard directories, checked to belong together."""

    languages: list[LanguageShards]
    # What every shard shares: the first language's metadata fields that must agree.
    tokenizer_sha256: str
    entity_vocab_sha256: str
    word_vocab_size: int
    entity_vocab_size: int
    settings: dict
    work_dirs: list[Path] = field(default_factory=list)

    @property
    def langs(self) -> list[str]:
        return [language.lang for language in self.languages]

    def sizes(self) -> np.ndarray:
        return np.array([language.rows for language in self.languages], dtype=np.int64)

    def tokens(self) -> np.ndarray:
        return np.array([language.metadata.tokens for language in self.languages], dtype=np.int64)

    def fingerprint(self) -> dict:
        """What a checkpoint records so that a resumed run refuses different data."""
        return {
            "langs": self.langs,
            "rows": [int(rows) for rows in self.sizes()],
            "tokenizer_sha256": self.tokenizer_sha256,
            "entity_vocab_sha256": self.entity_vocab_sha256,
        }


def shards_root(path: Path) -> tuple[Path, Path]:
    """(shards directory, work directory) for ``WORKDIR/shards`` or ``WORKDIR`` itself."""
    if (path / SHARDS_DIR).is_dir() and not (path / METADATA_DIR).is_dir():
        return path / SHARDS_DIR, path
    return path, path.parent


def _shard_files(lang_dir: Path, metadata: ShardMetadata, work_dir: Path, metadata_path: Path) -> list[Path]:
    found = sorted(lang_dir.glob(f"{metadata.lang}-*-of-*.{SHARD_SUFFIX}"))
    if not metadata.shards:
        return found
    listed = []
    for name in metadata.shards:
        # Entries may be file names or paths relative to the work directory.
        for candidate in (lang_dir / name, work_dir / name, lang_dir / Path(name).name):
            if candidate.is_file():
                listed.append(candidate)
                break
        else:
            raise TrainingError(f"{metadata_path} lists shard {name}, which does not exist")
    unlisted = sorted(set(found) - set(listed))
    if unlisted:
        raise TrainingError(
            f"{lang_dir} holds shards that {metadata_path} does not list: "
            + ", ".join(path.name for path in unlisted)
        )
    return listed


def _check_schema(path: Path, schema: pa.Schema) -> None:
    expected = {f.name: f.type for f in SHARD_SCHEMA}
    found = {f.name: f.type for f in schema}
    missing = [name for name in expected if name not in found]
    wrong = [name for name in expected if name in found and found[name] != expected[name]]
    if missing or wrong:
        details = []
        if missing:
            details.append("missing columns " + ", ".join(missing))
        if wrong:
            details.append(
                "; ".join(f"column {name} is {found[name]}, expected {expected[name]}" for name in wrong)
            )
        raise TrainingError(f"{path} does not have the shard schema: {'; '.join(details)}")


def count_rows(path: Path) -> int:
    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            _check_schema(path, reader.schema)
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    except (pa.ArrowInvalid, OSError) as error:
        raise TrainingError(f"{path} is not an Arrow IPC file: {error}") from None


_AGREEING_FIELDS = (
    ("tokenizer_sha256", "tokenizer (sha256 of the sentencepiece model)"),
    ("entity_vocab_sha256", "entity vocabulary (sha256 of entity_vocab.jsonl)"),
    ("word_vocab_size", "word vocabulary size"),
    ("entity_vocab_size", "entity vocabulary size"),
    ("settings", "shard settings"),
)


def _describe(value: object) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return text[:12] + "…" if isinstance(value, str) and len(text) > 16 else text


def open_shard_set(
    data: list[str | Path], langs: list[str] | None = None, verify_checksums: bool = False
) -> ShardSet:
    """Discovers the languages under each data directory and checks that they belong together."""
    by_lang: dict[str, LanguageShards] = {}
    work_dirs: list[Path] = []
    sources: list[tuple[str, ShardMetadata]] = []  # every shard metadata file read, for the agreement check
    for item in data:
        root, work_dir = shards_root(Path(item))
        if not root.is_dir():
            raise TrainingError(f"shard directory {root} does not exist")
        work_dirs.append(work_dir)
        metadata_files = sorted(root.glob(f"{METADATA_DIR}/*.json"))
        if not metadata_files:
            raise TrainingError(f"no {METADATA_DIR}/{{lang}}.json under {root}: is it a shards directory?")
        manifest = _read_manifest(work_dir)
        for metadata_path in metadata_files:
            try:
                metadata = ShardMetadata.from_json(metadata_path.read_bytes())
            except (ValueError, TypeError, KeyError) as error:
                raise TrainingError(f"{metadata_path} is not shard metadata: {error}") from None
            if langs and metadata.lang not in langs:
                continue
            files = _shard_files(root / metadata.lang, metadata, work_dir, metadata_path)
            rows = 0
            for path in files:
                file_rows = count_rows(path)
                if manifest is not None:
                    _check_manifest(manifest, work_dir, path, file_rows, verify_checksums)
                rows += file_rows
            if rows != metadata.examples:
                raise TrainingError(
                    f"{metadata_path} says {metadata.examples} examples but its shards hold {rows} rows"
                )
            if manifest is not None:
                for name in ("tokenizer_sha256", "entity_vocab_sha256"):
                    if getattr(manifest, name) != getattr(metadata, name):
                        raise TrainingError(
                            f"{metadata_path} and {work_dir / MANIFEST} disagree on {name}: "
                            "the shards of this language come from another build"
                        )
            sources.append((metadata.lang if len(data) == 1 else f"{metadata.lang} ({root})", metadata))
            if metadata.lang in by_lang:
                previous = by_lang[metadata.lang]
                previous.files.extend(files)
                previous.rows += rows
                previous.metadata.examples += metadata.examples
                previous.metadata.tokens += metadata.tokens
                previous.metadata.mentions += metadata.mentions
            else:
                copied = ShardMetadata.from_json(metadata.to_json())  # totals of a merged language change
                by_lang[metadata.lang] = LanguageShards(metadata.lang, copied, files, rows)
    if langs:
        missing = [lang for lang in langs if lang not in by_lang]
        if missing:
            raise TrainingError(
                f"no shards for language(s) {', '.join(missing)}; found: {', '.join(sorted(by_lang)) or 'none'}"
            )
    languages = [by_lang[lang] for lang in (langs or sorted(by_lang))]
    empty = [language.lang for language in languages if language.rows == 0]
    if empty:
        raise TrainingError(f"language(s) {', '.join(empty)} have no examples")
    first = languages[0].metadata
    for name, label in _AGREEING_FIELDS:
        groups: dict[str, list[str]] = {}
        for source, metadata in sources:
            value = getattr(metadata, name)
            value = asdict(value) if name == "settings" else value
            groups.setdefault(_describe(value), []).append(source)
        if len(groups) > 1:
            parts = "; ".join(f"{', '.join(group)}: {value}" for value, group in groups.items())
            raise TrainingError(
                f"the shards do not belong together: they differ in {label} ({parts}). "
                "Train on shards built with one tokenizer, one entity vocabulary and one set of settings."
            )
    return ShardSet(
        languages=languages,
        tokenizer_sha256=first.tokenizer_sha256,
        entity_vocab_sha256=first.entity_vocab_sha256,
        word_vocab_size=first.word_vocab_size,
        entity_vocab_size=first.entity_vocab_size,
        settings=asdict(first.settings),
        work_dirs=work_dirs,
    )


def _read_manifest(work_dir: Path) -> Manifest | None:
    path = work_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_json(path.read_bytes())
    except (ValueError, TypeError, KeyError) as error:
        raise TrainingError(f"{path} is not a shard manifest: {error}") from None


def _check_manifest(manifest: Manifest, work_dir: Path, path: Path, rows: int, verify: bool) -> None:
    relative = path.relative_to(work_dir).as_posix() if path.is_relative_to(work_dir) else path.name
    entry = next((e for e in manifest.shards if e.path == relative or Path(e.path).name == path.name), None)
    if entry is None:
        raise TrainingError(f"{path} is not in {work_dir / MANIFEST}")
    if entry.rows != rows:
        raise TrainingError(f"{path} holds {rows} rows but {work_dir / MANIFEST} says {entry.rows}")
    if verify and sha256_file(path) != entry.sha256:
        raise TrainingError(f"{path}: sha256 differs from {work_dir / MANIFEST} (corrupt or replaced)")


@dataclass
class Chunk:
    """numpy views of one record batch's list columns (offsets absolute into values)."""

    word_offsets: np.ndarray
    word_values: np.ndarray
    entity_offsets: np.ndarray
    entity_values: np.ndarray
    start_values: np.ndarray
    end_values: np.ndarray

    @cached_property
    def offset_views(self) -> tuple[memoryview, memoryview]:
        # memoryview indexing yields Python ints several times faster than numpy scalar indexing.
        return memoryview(self.word_offsets), memoryview(self.entity_offsets)


def _list_views(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    offsets = column.offsets.to_numpy(zero_copy_only=True)
    values = column.values.to_numpy(zero_copy_only=True)
    return offsets, values


class MappedLanguage:
    """The rows of one language across its shard files, memory-mapped."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.chunks: list[Chunk] = []
        self._sources: list[pa.MemoryMappedFile] = []
        self._batches: list[pa.RecordBatch] = []  # keep the Arrow objects that own the views alive
        row_counts: list[int] = []
        for path in files:
            source = pa.memory_map(str(path))
            self._sources.append(source)
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                batch = reader.get_batch(index)
                if batch.num_rows == 0:
                    continue
                self._batches.append(batch)
                word_offsets, word_values = _list_views(batch.column("word_ids"))
                entity_offsets, entity_values = _list_views(batch.column("entity_ids"))
                start_offsets, start_values = _list_views(batch.column("entity_starts"))
                end_offsets, end_values = _list_views(batch.column("entity_ends"))
                if not (
                    np.array_equal(entity_offsets, start_offsets)
                    and np.array_equal(entity_offsets, end_offsets)
                ):
                    raise TrainingError(f"{path}: entity_ids, entity_starts and entity_ends differ in length")
                self.chunks.append(
                    Chunk(word_offsets, word_values, entity_offsets, entity_values, start_values, end_values)
                )
                row_counts.append(batch.num_rows)
        self.chunk_starts = np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int64)
        self.rows = int(self.chunk_starts[-1])

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunk index, row within the chunk) of language-level row numbers."""
        chunk = np.searchsorted(self.chunk_starts, rows, side="right") - 1
        return chunk, rows - self.chunk_starts[chunk]

    def close(self) -> None:
        self.chunks.clear()
        self._batches.clear()
        for source in self._sources:
            source.close()
        self._sources.clear()


def _pad_views(views: list[np.ndarray], lengths: np.ndarray, pad: int) -> np.ndarray:
    """Copies 1-D views into a (rows, longest) int64 array padded with ``pad``."""
    width = int(lengths.max(initial=0))
    if width and (lengths == width).all():  # full-length sequences: one concatenate
        return np.concatenate(views).astype(np.int64, copy=False).reshape(len(views), width)
    out = np.full((len(views), width), pad, dtype=np.int64)
    for row, view in enumerate(views):  # one block copy per example, not per token
        out[row, : len(view)] = view
    return out


def gather_batch(chunks: list[Chunk], chunk_ids: np.ndarray, local_rows: np.ndarray, pads: tuple[int, int]):
    """The chosen rows, padded to the longest of the batch (dynamic padding).

    Returns (word_ids, word_lengths, entity_ids, entity_starts, entity_ends, entity_lengths); the
    entity arrays have at least one column. Rows are sliced out of the memory-mapped columns (a
    loop over examples, never over tokens) and copied into the padded arrays in bulk.
    """
    words, entities, starts, ends = [], [], [], []
    word_lengths, entity_lengths = [], []
    for chunk_id, row in zip(chunk_ids.tolist(), local_rows.tolist(), strict=True):
        chunk = chunks[chunk_id]
        word_offsets, entity_offsets = chunk.offset_views
        word_start, word_end = word_offsets[row], word_offsets[row + 1]
        entity_start, entity_end = entity_offsets[row], entity_offsets[row + 1]
        words.append(chunk.word_values[word_start:word_end])
        entities.append(chunk.entity_values[entity_start:entity_end])
        starts.append(chunk.start_values[entity_start:entity_end])
        ends.append(chunk.end_values[entity_start:entity_end])
        word_lengths.append(word_end - word_start)
        entity_lengths.append(entity_end - entity_start)
    word_pad, entity_pad = pads
    word_length_array = np.array(word_lengths, dtype=np.int64)
    entity_length_array = np.array(entity_lengths, dtype=np.int64)
    word_ids = _pad_views(words, word_length_array, word_pad)
    entity_ids, entity_starts, entity_ends = _pad_entity_views(
        entities, starts, ends, entity_length_array, entity_pad
    )
    return word_ids, word_length_array, entity_ids, entity_starts, entity_ends, entity_length_array


def _pad_entity_views(
    entities: list[np.ndarray],
    starts: list[np.ndarray],
    ends: list[np.ndarray],
    lengths: np.ndarray,
    pad: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three entity columns share their lengths: one index computation, three scatters."""
    shape = (len(entities), max(1, int(lengths.max(initial=0))))
    ids = np.full(shape, pad, dtype=np.int64)
    start_out = np.zeros(shape, dtype=np.int64)
    end_out = np.zeros(shape, dtype=np.int64)
    total = int(lengths.sum())
    if total:
        rows = np.repeat(np.arange(len(entities)), lengths)
        columns = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[rows, columns] = np.concatenate(entities)
        start_out[rows, columns] = np.concatenate(starts)
        end_out[rows, columns] = np.concatenate(ends)
    return ids, start_out, end_out
