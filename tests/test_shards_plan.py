"""Cutting a language's examples into shards of exact row ranges."""

from __future__ import annotations

import pytest

from transforms.shards import Part, ShardingPlan, plan_shards, shard_slices


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
