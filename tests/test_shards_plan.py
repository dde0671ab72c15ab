"""Cutting a language's examples into shards of exact row ranges."""

from __future__ import annotations

import hashlib
import random

import pyarrow as pa
import pytest

from schemas.shards import SHARD_SCHEMA, ShardSettings, schema_metadata
from transforms.files import write_atomically
from transforms.shards import (
    Part,
    ShardingPlan,
    ShardInputs,
    arrow_bytes,
    plan_shards,
    read_arrow,
    shard_batches,
    shard_slices,
    write_shard,
)


def test_slices_cover_every_row_once_in_order():
    parts = [Part("en", 2, 5, "c"), Part("en", 0, 7, "a"), Part("en", 1, 0, "b"), Part("en", 3, 11, "d")]
    plan = shard_slices(parts, 4)
    rows = [sum(length for _, _, length in shard) for shard in plan]
    assert rows == [5, 6, 6, 6] and sum(rows) == 23
    flat = [(path, offset + i) for shard in plan for path, offset, length in shard for i in range(length)]
    expected = [(p, i) for p, n in (("a", 7), ("c", 5), ("d", 11)) for i in range(n)]
    assert flat == expected


@pytest.mark.parametrize(
    ("plan", "rows", "size", "shards"),
    [
        (ShardingPlan(shard_rows=100), 250, 0, 3),
        (ShardingPlan(shard_rows=100), 0, 0, 1),
        (ShardingPlan(num_shards=8, shard_rows=100), 10, 0, 8),
        (ShardingPlan(shard_bytes=1000), 10, 2500, 3),
    ],
)
def test_shard_counts(plan, rows, size, shards):
    assert plan.shards_for(rows, size) == shards


def test_more_shards_than_rows_gives_empty_shards():
    elements = list(plan_shards(("ja", [Part("ja", 0, 2, "p", 100)]), ShardingPlan(num_shards=4)))
    assert [(lang, i, n) for lang, i, n, _ in elements] == [("ja", i, 4) for i in range(4)]
    assert sum(length for *_, slices in elements for _, _, length in slices) == 2


def _example_rows(rng: random.Random, count: int, first_page: int) -> list[dict]:
    rows = []
    for page in range(first_page, first_page + count):
        words = rng.randint(1, 40)
        entities = rng.randint(0, 5)
        rows.append(
            {
                "lang": "de",
                "page_id": page,
                "page_entity_id": rng.choice([-1, rng.randint(4, 9999)]),
                "word_ids": [rng.randint(0, 250_000) for _ in range(words)],
                "entity_ids": [rng.randint(4, 9999) for _ in range(entities)],
                "entity_starts": list(range(entities)),
                "entity_ends": list(range(1, entities + 1)),
            }
        )
    return rows


def test_streamed_shards_are_the_bytes_of_the_whole_table_written_at_once(tmp_path):
    """Parts of awkward sizes (empty, under and over a batch) cut into shards at odd offsets."""
    rng = random.Random(7)
    sizes = [700, 0, 1500, 30, 2100, 1024, 5]
    parts, tables, first = [], [], 0
    for index, size in enumerate(sizes):
        table = pa.Table.from_pylist(_example_rows(rng, size, first), schema=SHARD_SCHEMA)
        path = str(tmp_path / f"part-{index:05d}.arrow")
        write_atomically(path, arrow_bytes(table))
        parts.append(Part("de", index, size, path))
        tables.append(table)
        first += size
    inputs = ShardInputs(str(tmp_path), "tokenizer.model", "t" * 64, "v" * 64, 10_000, 250_002)
    settings = ShardSettings()
    metadata = schema_metadata("de", "t" * 64, "v" * 64, 250_002, 10_000, settings)
    everything = pa.concat_tables(tables)
    position = 0
    for index, slices in enumerate(shard_slices(parts, 3)):
        entry = write_shard(inputs, settings, ("de", index, 3, slices))
        rows = sum(length for _, _, length in slices)
        expected = arrow_bytes(everything.slice(position, rows).combine_chunks(), metadata)
        written = (tmp_path / entry.path).read_bytes()
        assert written == expected
        assert (entry.rows, entry.bytes, entry.sha256) == (
            rows,
            len(expected),
            hashlib.sha256(expected).hexdigest(),
        )
        assert [batch.num_rows for batch in read_arrow(str(tmp_path / entry.path)).to_batches()] == [
            min(1024, rows - start) for start in range(0, rows, 1024)
        ]
        position += rows
    assert position == sum(sizes)


def test_shard_batches_of_no_rows_is_empty():
    assert list(shard_batches([])) == []
