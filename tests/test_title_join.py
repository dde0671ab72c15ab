"""transforms.title_join: the bucketed hash join of page files' link targets with the title table."""

from __future__ import annotations

import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.title_join import (
    TITLES_PER_BUCKET,
    ArrowFileWriter,
    bucket_count,
    page_file_titles,
    read_batch,
    resolve,
    smallest_ids,
    split_by_bucket,
    title_bucket,
)


def test_bucket_count_keeps_every_bucket_under_the_limit():
    assert bucket_count(0) == 1
    assert bucket_count(TITLES_PER_BUCKET) == 1
    assert bucket_count(TITLES_PER_BUCKET + 1) == 2
    assert bucket_count(17_000_000) * TITLES_PER_BUCKET >= 17_000_000


def test_title_bucket_is_stable_and_spreads_titles():
    # CRC-32 of the UTF-8 bytes: the same in every process (Python's hash() is salted).
    assert title_bucket("Berlin", 7) == zlib.crc32(b"Berlin") % 7 == 3
    assert title_bucket("東京", 7) == title_bucket("東京", 7)
    assert title_bucket("anything", 1) == 0
    counts = [0] * 8
    for n in range(8000):
        counts[title_bucket(f"Title {n}", 8)] += 1
    assert min(counts) > 800


def test_smallest_ids_keeps_the_smallest_id_of_a_repeated_title():
    table = pa.table({"title": ["B", "A", "B", "C"], "entity_id": pa.array([9, 4, 7, 5], pa.int32())})
    assert smallest_ids(table) == {"A": 4, "B": 7, "C": 5}
    assert smallest_ids(table.slice(0, 0)) == {}


def test_resolve_keeps_only_known_titles():
    batch = resolve(["A", "Z", "C"], {"A": 4, "C": 5})
    assert batch.to_pylist() == [{"title": "A", "entity_id": 4}, {"title": "C", "entity_id": 5}]
    assert resolve([], {"A": 1}).num_rows == 0


def _pages_file(path, rows):
    link = pa.struct([pa.field("target", pa.string())])
    paragraph = pa.struct([pa.field("links", pa.list_(link))])
    schema = pa.schema(
        [
            pa.field("lang", pa.string()),
            pa.field("title", pa.string()),
            pa.field("paragraphs", pa.list_(paragraph)),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def test_page_file_titles_are_the_distinct_page_titles_and_link_targets(tmp_path):
    path = str(tmp_path / "pages.parquet")
    _pages_file(
        path,
        [
            {
                "lang": "en",
                "title": "Paris",
                "paragraphs": [
                    {"links": [{"target": "France"}, {"target": "Seine"}]},
                    {"links": []},
                    {"links": [{"target": "France"}, {"target": "Paris"}]},
                ],
            },
            {"lang": "en", "title": "Lyon", "paragraphs": []},
            {"lang": "en", "title": "Nice", "paragraphs": [{"links": [{"target": "Var"}]}]},
        ],
    )
    pairs = page_file_titles(path)
    assert pairs.to_pylist() == [
        {"lang": "en", "title": title} for title in ["France", "Lyon", "Nice", "Paris", "Seine", "Var"]
    ]
    grouped = dict(split_by_bucket(pairs, {"en": 3}))
    assert sorted(t for titles in grouped.values() for t in titles) == [
        "France",
        "Lyon",
        "Nice",
        "Paris",
        "Seine",
        "Var",
    ]
    for (lang, bucket), titles in grouped.items():
        assert lang == "en" and all(title_bucket(t, 3) == bucket for t in titles)


def test_page_file_titles_of_an_empty_file(tmp_path):
    path = str(tmp_path / "pages.parquet")
    _pages_file(path, [])
    assert page_file_titles(path).num_rows == 0


def test_arrow_file_writer_gives_each_batch_back_by_index(tmp_path):
    path = str(tmp_path / "sub" / "file.arrow")
    writer = ArrowFileWriter(path, pa.schema([pa.field("title", pa.string())]))
    for titles in (["a", "b"], ["c"], []):
        writer.write(pa.record_batch([pa.array(titles, pa.string())], names=["title"]))
    assert not (tmp_path / "sub" / "file.arrow").exists()  # a temp name until closed
    writer.close()
    assert read_batch(path, 1).column(0).to_pylist() == ["c"]
    assert read_batch(path, 2).num_rows == 0
    with pytest.raises(ValueError):
        read_batch(path, 3)
