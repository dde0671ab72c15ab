"""Checks of a finished work directory's shards against the manifest and the data contract."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from schemas.shards import (
    DATASET_CARD,
    MANIFEST,
    SHARD_SCHEMA,
    SHARD_SUFFIX,
    SHARDS_DIR,
    Manifest,
    ShardMetadata,
    metadata_file,
)
from schemas.tokens import BOS_ID, EOS_ID
from transforms.files import match_files


@dataclass
class VerifyResult:
    shards: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read(path: str) -> bytes:
    with FileSystems.open(path) as handle:
        return handle.read()


def check_table(table: pa.Table, metadata: ShardMetadata, name: str) -> list[str]:
    """Content rules of one shard; returns problems (empty when the shard is sound)."""
    problems: list[str] = []
    settings = metadata.settings
    if table.num_rows == 0:
        return problems
    words = table.column("word_ids").combine_chunks()
    lengths = pc.list_value_length(words).to_numpy()
    flat = words.flatten().to_numpy()
    offsets = words.offsets.to_numpy()
    if flat.size and (flat.min() < 0 or flat.max() >= metadata.word_vocab_size):
        bad = int(np.flatnonzero((flat < 0) | (flat >= metadata.word_vocab_size))[0])
        row = int(np.searchsorted(offsets, bad, side="right") - 1)
        problems.append(
            f"{name}: row {row}: word id {int(flat[bad])} outside [0, {metadata.word_vocab_size})"
        )
    if (lengths > settings.max_seq_length).any():
        row = int(np.flatnonzero(lengths > settings.max_seq_length)[0])
        problems.append(
            f"{name}: row {row}: {int(lengths[row])} tokens > max_seq_length {settings.max_seq_length}"
        )
    if (lengths < 2).any() or (flat[offsets[:-1]] != BOS_ID).any() or (flat[offsets[1:] - 1] != EOS_ID).any():
        problems.append(f"{name}: a sequence does not start with <s> and end with </s>")
    entity_ids = table.column("entity_ids").combine_chunks()
    starts = table.column("entity_starts").combine_chunks()
    ends = table.column("entity_ends").combine_chunks()
    entity_counts = pc.list_value_length(entity_ids).to_numpy()
    if not (
        np.array_equal(entity_counts, pc.list_value_length(starts).to_numpy())
        and np.array_equal(entity_counts, pc.list_value_length(ends).to_numpy())
    ):
        problems.append(f"{name}: entity_ids, entity_starts and entity_ends differ in length")
        return problems
    if (entity_counts > settings.max_entity_length).any():
        row = int(np.flatnonzero(entity_counts > settings.max_entity_length)[0])
        problems.append(f"{name}: row {row}: {int(entity_counts[row])} entities > max_entity_length")
    ids = entity_ids.flatten().to_numpy()
    if ids.size and (ids.min() < 0 or ids.max() >= metadata.entity_vocab_size):
        bad = int(np.flatnonzero((ids < 0) | (ids >= metadata.entity_vocab_size))[0])
        problems.append(f"{name}: entity id {int(ids[bad])} outside [0, {metadata.entity_vocab_size})")
    start_values = starts.flatten().to_numpy()
    end_values = ends.flatten().to_numpy()
    row_of_entity = np.repeat(np.arange(len(entity_counts)), entity_counts)
    row_lengths = lengths[row_of_entity]
    inside = (start_values >= 1) & (end_values > start_values) & (end_values <= row_lengths - 1)
    if not inside.all():
        bad = int(np.flatnonzero(~inside)[0])
        problems.append(
            f"{name}: row {int(row_of_entity[bad])}: entity span [{int(start_values[bad])}, "
            f"{int(end_values[bad])}) outside the sequence of {int(row_lengths[bad])} tokens"
        )
    too_long = (end_values - start_values) > settings.max_mention_length
    if too_long.any():
        bad = int(np.flatnonzero(too_long)[0])
        problems.append(
            f"{name}: row {int(row_of_entity[bad])}: mention of {int(end_values[bad] - start_values[bad])} "
            f"tokens > max_mention_length {settings.max_mention_length}"
        )
    return problems


def verify_workdir(out: str) -> VerifyResult:
    """Schema, rows, bytes and sha256 against shards/_manifest.json; content rules per shard."""
    result = VerifyResult()
    root = out.rstrip("/")
    manifest_path = f"{root}/{MANIFEST}"
    if not FileSystems.exists(manifest_path):
        older = FileSystems.exists(f"{root}/manifest.json")
        why = " (manifest.json beside shards/ is the older layout)" if older else ""
        result.problems.append(f"{manifest_path} is missing{why}: run `mluke-data shards build --out {root}`")
        return result
    try:
        manifest = Manifest.from_json(_read(manifest_path))
    except (ValueError, KeyError, TypeError) as error:
        result.problems.append(f"{manifest_path} is not a valid manifest: {error}")
        return result
    metadata_by_lang: dict[str, ShardMetadata] = {}
    for entry in manifest.shards:
        path = f"{root}/{entry.path}"
        if entry.lang not in metadata_by_lang:
            meta_path = f"{root}/{SHARDS_DIR}/{metadata_file(entry.lang)}"
            try:
                metadata_by_lang[entry.lang] = ShardMetadata.from_json(_read(meta_path))
            except (OSError, ValueError, KeyError, TypeError) as error:
                result.problems.append(f"{meta_path}: cannot read metadata ({error})")
                continue
        metadata = metadata_by_lang[entry.lang]
        if not FileSystems.exists(path):
            result.problems.append(f"{entry.path}: listed in the manifest but missing")
            continue
        data = _read(path)
        result.shards += 1
        if len(data) != entry.bytes:
            result.problems.append(f"{entry.path}: {len(data)} bytes, manifest says {entry.bytes}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            result.problems.append(
                f"{entry.path}: sha256 {digest[:12]}… differs from the manifest's {entry.sha256[:12]}…"
            )
        try:
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        except pa.ArrowInvalid as error:
            result.problems.append(f"{entry.path}: not a readable Arrow IPC file ({error})")
            continue
        if not table.schema.equals(SHARD_SCHEMA):
            result.problems.append(f"{entry.path}: schema differs from schemas.shards.SHARD_SCHEMA")
            continue
        found = {key.decode(): value.decode() for key, value in (table.schema.metadata or {}).items()}
        for key, value in metadata.schema_metadata().items():
            if found.get(key) != value:
                result.problems.append(
                    f"{entry.path}: schema metadata {key} is {found.get(key)!r}, "
                    f"{metadata_file(entry.lang)} says {value!r}"
                )
        if table.num_rows and pc.any(pc.not_equal(table.column("lang"), entry.lang)).as_py():
            result.problems.append(f"{entry.path}: a row's lang is not {entry.lang!r}")
        if table.num_rows != entry.rows:
            result.problems.append(f"{entry.path}: {table.num_rows} rows, manifest says {entry.rows}")
        result.rows += table.num_rows
        result.problems.extend(check_table(table, metadata, entry.path))
    for lang, metadata in metadata_by_lang.items():
        rows = sum(entry.rows for entry in manifest.shards if entry.lang == lang)
        if metadata.examples != rows:
            result.problems.append(
                f"{lang}: {metadata_file(lang)} says {metadata.examples} examples, shards hold {rows}"
            )
        if metadata.tokenizer_sha256 != manifest.tokenizer_sha256:
            result.problems.append(
                f"{lang}: tokenizer sha256 differs between {metadata_file(lang)} and {MANIFEST}"
            )
    # Readers open a language folder as a dataset: nothing but shard files may sit there.
    listed = {entry.path for entry in manifest.shards}
    for lang in sorted(metadata_by_lang):
        for path in match_files(f"{root}/{SHARDS_DIR}/{lang}/*"):
            relative = path[len(root) + 1 :]
            if relative not in listed:
                kind = "shard" if relative.endswith(f".{SHARD_SUFFIX}") else "file"
                result.problems.append(
                    f"{relative}: a {kind} not in {MANIFEST} (readers of {lang}/ would read it)"
                )
    if not FileSystems.exists(f"{root}/{DATASET_CARD}"):
        result.problems.append(f"{DATASET_CARD} is missing (datasets.load_dataset needs it)")
    return result


def verify_report(result: VerifyResult) -> str:
    return json.dumps(
        {"ok": result.ok, "shards": result.shards, "rows": result.rows, "problems": result.problems}
    )
