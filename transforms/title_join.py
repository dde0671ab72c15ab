"""Link targets -> entity ids: a hash join of the page files and the title table through files.

The shards stage must know, for every page file, the entity id of each link target (and page
title) it contains. Both sides grow with the wiki: a language's title table (entity titles and
every redirect to one) can hold millions of rows, and the (file, target) pairs grow with pages.
Neither side goes through a Beam shuffle or sits in one worker's memory. Both are cut into the
same hash buckets of (language, title) and written as files; only small references are shuffled::

    page files ─ WantedTitles ── wanted/{file}.arrow + ((lang, bucket), (file, batch)) ─┐
    title files ─ PartitionTitles ── titles/{lang}/{bucket}.parquet + ((lang, bucket), path) ─┴─ JoinByBucket
        ─ ResolveBuckets ── resolved/{lang}/{bucket}.arrow + (file, (path, batch))

A worker resolving a bucket holds that bucket's titles (at most ``TITLES_PER_BUCKET`` rows) and
one file's wanted titles at a time; the local runner, which keeps every shuffle in memory, holds
only the references. The number of buckets of a language follows its title count, so memory stays
flat as a wiki grows.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.files import CountingSink, ensure_directory

STAGE = "shards"
# At most this many title rows per bucket: a resolving worker's dictionary and the Python lists it is
# built from (~400 B a row at the peak), so ~20 MB, small beside a worker's ~250 MB of imports.
TITLES_PER_BUCKET = 50_000

WANTED_SCHEMA = pa.schema([pa.field("title", pa.string(), nullable=False)])
RESOLVED_SCHEMA = pa.schema(
    [pa.field("title", pa.string(), nullable=False), pa.field("entity_id", pa.int32(), nullable=False)]
)

# (lang, bucket) -> where its titles are; (file number, batch index) in a file's wanted titles.
BucketKey = tuple[str, int]
BatchRef = tuple[str, int]


def bucket_count(title_rows: int) -> int:
    """Buckets for a language with this many title rows: each holds at most TITLES_PER_BUCKET."""
    return max(1, math.ceil(title_rows / TITLES_PER_BUCKET))


def title_bucket(title: str, buckets: int) -> int:
    """The bucket of a title: CRC-32 of its UTF-8 bytes (stable across processes and runs)."""
    return zlib.crc32(title.encode("utf-8")) % buckets if buckets > 1 else 0


def wanted_path(join_dir: str, file_number: int) -> str:
    return f"{join_dir}/wanted/{file_number:06d}.arrow"


def titles_bucket_path(join_dir: str, lang: str, bucket: int) -> str:
    return f"{join_dir}/titles/{lang}/{bucket:05d}.parquet"


def resolved_path(join_dir: str, lang: str, bucket: int) -> str:
    return f"{join_dir}/resolved/{lang}/{bucket:05d}.arrow"


def _open_for_reading(path: str) -> Any:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class ArrowFileWriter:
    """Record batches -> one Arrow IPC file under a temp name, renamed into place by ``close()``."""

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self.path = path
        self.batches = 0
        self._temp = path + ".tmp"
        ensure_directory(path.rsplit("/", 1)[0])
        self._handle = FileSystems.create(self._temp, compression_type=CompressionTypes.UNCOMPRESSED)
        self._writer = pa.ipc.new_file(CountingSink(self._handle), schema)

    def write(self, batch: pa.RecordBatch) -> int:
        """Write one batch; returns its index in the file."""
        self._writer.write_batch(batch)
        self.batches += 1
        return self.batches - 1

    def close(self) -> None:
        self._writer.close()
        self._handle.close()
        if FileSystems.exists(self.path):
            FileSystems.delete([self.path])
        FileSystems.rename([self._temp], [self.path])


def read_batch(path: str, index: int) -> pa.RecordBatch:
    """One record batch of an Arrow IPC file (the file's footer says where it starts)."""
    with _open_for_reading(path) as handle:
        return pa.ipc.open_file(handle).get_batch(index)


def page_file_titles(path: str) -> pa.Table:
    """The distinct (lang, title) of a page file's page titles and link targets, sorted.

    Reads only those columns and flattens them in Arrow: no paragraph text is read.
    """
    columns = ["lang", "title", "paragraphs.list.element.links.list.element.target"]
    with _open_for_reading(path) as handle:
        table = pq.ParquetFile(handle).read(columns=columns).combine_chunks()
    parts = [table.select(["lang", "title"])]
    if table.num_rows:
        paragraphs = table.column("paragraphs").chunk(0)
        paragraph_rows = pc.list_parent_indices(paragraphs)
        links = pc.list_flatten(paragraphs).field("links")
        targets = pc.list_flatten(links).field("target")
        link_rows = pc.take(paragraph_rows, pc.list_parent_indices(links))
        parts.append(pa.table({"lang": pc.take(table.column("lang"), link_rows), "title": targets}))
    schema = pa.schema([pa.field("lang", pa.string()), pa.field("title", pa.string())])
    pairs = pa.concat_tables([part.cast(schema) for part in parts])
    return (
        pairs.group_by(["lang", "title"])
        .aggregate([])
        .sort_by([("lang", "ascending"), ("title", "ascending")])
    )


def split_by_bucket(pairs: pa.Table, buckets: dict[str, int]) -> Iterator[tuple[BucketKey, list[str]]]:
    """(lang, bucket) -> the titles in it, for distinct sorted (lang, title) pairs; in key order."""
    grouped: dict[BucketKey, list[str]] = {}
    for lang, title in zip(pairs.column("lang").to_pylist(), pairs.column("title").to_pylist(), strict=True):
        grouped.setdefault((lang, title_bucket(title, buckets.get(lang, 1))), []).append(title)
    yield from sorted(grouped.items())


def smallest_ids(titles: pa.Table) -> dict[str, int]:
    """title -> entity id; a title listed twice keeps its smallest id (deterministic)."""
    if not titles.num_rows:
        return {}
    unique = titles.group_by("title").aggregate([("entity_id", "min")])
    return dict(
        zip(unique.column("title").to_pylist(), unique.column("entity_id_min").to_pylist(), strict=True)
    )


def resolve(titles: Iterable[str], ids: dict[str, int]) -> pa.RecordBatch:
    """The wanted titles that have an entity id, with it."""
    found = [(title, ids[title]) for title in titles if title in ids]
    return pa.record_batch(
        [pa.array([t for t, _ in found], pa.string()), pa.array([i for _, i in found], pa.int32())],
        schema=RESOLVED_SCHEMA,
    )


def read_resolved(refs: Iterable[BatchRef]) -> dict[str, int]:
    """title -> entity id for one page file, from its resolved batches."""
    resolved: dict[str, int] = {}
    for path, index in sorted(refs):
        batch = read_batch(path, index)
        resolved.update(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True))
    return resolved


class WantedTitlesFn(beam.DoFn):
    """page file -> its wanted titles in a file, one batch per bucket; a reference per batch."""

    def __init__(self, join_dir: str, buckets: dict[str, int], file_number: dict[str, int]) -> None:
        self.join_dir = join_dir
        self.buckets = buckets
        self.file_number = file_number
        self._wanted = Metrics.counter(STAGE, "wanted_titles")

    def process(self, path: str) -> Iterator[tuple[BucketKey, tuple[int, int]]]:
        number = self.file_number[path]
        refs = []
        writer = ArrowFileWriter(wanted_path(self.join_dir, number), WANTED_SCHEMA)
        for key, titles in split_by_bucket(page_file_titles(path), self.buckets):
            refs.append(
                (key, (number, writer.write(pa.record_batch([pa.array(titles, pa.string())], WANTED_SCHEMA))))
            )
            self._wanted.inc(len(titles))
        writer.close()
        yield from refs


class PartitionTitlesFn(beam.DoFn):
    """vocab/titles/{lang}.parquet -> one Parquet file per bucket (read a row group at a time).

    A language with one bucket is read where it lies.
    """

    def __init__(self, join_dir: str, buckets: dict[str, int]) -> None:
        self.join_dir = join_dir
        self.buckets = buckets

    def process(self, path: str) -> Iterator[tuple[BucketKey, str]]:
        lang = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        buckets = self.buckets.get(lang, 1)
        if buckets == 1:
            yield (lang, 0), path
            return
        schema = pa.schema(
            [pa.field("lang", pa.string()), pa.field("title", pa.string()), pa.field("entity_id", pa.int32())]
        )
        outputs = [titles_bucket_path(self.join_dir, lang, bucket) for bucket in range(buckets)]
        handles, writers = [], []
        for output in outputs:
            ensure_directory(output.rsplit("/", 1)[0])
            handle = FileSystems.create(output + ".tmp", compression_type=CompressionTypes.UNCOMPRESSED)
            handles.append(handle)
            writers.append(pq.ParquetWriter(CountingSink(handle), schema, compression="zstd"))  # type: ignore[arg-type]
        with _open_for_reading(path) as source:
            parquet = pq.ParquetFile(source)
            for group in range(parquet.num_row_groups):
                rows = parquet.read_row_group(group, columns=["lang", "title", "entity_id"]).cast(schema)
                titles = rows.column("title").to_pylist()
                keys = np.fromiter((title_bucket(title, buckets) for title in titles), np.int64, len(titles))
                ends = np.cumsum(np.bincount(keys, minlength=buckets))
                ordered = rows.take(pa.array(np.argsort(keys, kind="stable")))
                for bucket in range(buckets):
                    start = int(ends[bucket - 1]) if bucket else 0
                    if ends[bucket] > start:
                        writers[bucket].write_table(ordered.slice(start, int(ends[bucket]) - start))
        for writer, handle, output in zip(writers, handles, outputs, strict=True):
            writer.close()
            handle.close()
            if FileSystems.exists(output):
                FileSystems.delete([output])
            FileSystems.rename([output + ".tmp"], [output])
        for bucket, output in enumerate(outputs):
            yield (lang, bucket), output


class ResolveBucketFn(beam.DoFn):
    """((lang, bucket), titles file + wanted batches) -> the resolved titles of each page file.

    Writes one batch per page file to the bucket's resolved file and refers each file to it.
    """

    def __init__(self, join_dir: str, buckets: dict[str, int]) -> None:
        self.join_dir = join_dir
        self.buckets = buckets
        self._resolved = Metrics.counter(STAGE, "resolved_titles")

    def process(self, element: tuple[BucketKey, dict[str, list[Any]]]) -> Iterator[tuple[int, BatchRef]]:
        (lang, bucket), grouped = element
        if not grouped["wanted"] or not grouped["titles"]:
            return
        ids = self._load_titles(grouped["titles"], lang)
        output = resolved_path(self.join_dir, lang, bucket)
        writer = ArrowFileWriter(output, RESOLVED_SCHEMA)
        refs = []
        for file_number, index in sorted(grouped["wanted"]):
            batch = read_batch(wanted_path(self.join_dir, file_number), index)
            found = resolve(batch.column(0).to_pylist(), ids)
            if found.num_rows:
                refs.append((file_number, (output, writer.write(found))))
                self._resolved.inc(found.num_rows)
        writer.close()
        yield from refs

    @staticmethod
    def _load_titles(paths: list[str], lang: str) -> dict[str, int]:
        """The bucket's titles (a language with one bucket reads its whole table)."""
        tables = []
        for path in sorted(paths):
            with _open_for_reading(path) as handle:
                table = pq.read_table(handle, columns=["lang", "title", "entity_id"])
            table = table.filter(pc.equal(table.column("lang"), lang))
            tables.append(table.select(["title", "entity_id"]))
        return smallest_ids(pa.concat_tables(tables))


class ResolveEntityIds(beam.PTransform):
    """{"page_files", "title_files"} -> (file number, (resolved file, batch)) for each page file.

    A page file with no known title gets no reference; ``read_resolved`` turns a file's
    references into its title -> entity id dictionary.
    """

    def __init__(self, join_dir: str, buckets: dict[str, int], file_number: dict[str, int]) -> None:
        super().__init__()
        self.join_dir = join_dir.rstrip("/")
        self.buckets = buckets
        self.file_number = file_number

    def expand(self, sources: dict[str, beam.PCollection]) -> beam.PCollection:
        wanted = sources["page_files"] | "WantedTitles" >> beam.ParDo(
            WantedTitlesFn(self.join_dir, self.buckets, self.file_number)
        )
        titles = sources["title_files"] | "PartitionTitles" >> beam.ParDo(
            PartitionTitlesFn(self.join_dir, self.buckets)
        )
        return (
            {"titles": titles, "wanted": wanted}
            | "JoinByBucket" >> beam.CoGroupByKey()
            | "ResolveBuckets" >> beam.ParDo(ResolveBucketFn(self.join_dir, self.buckets))
        )


def title_rows(paths: list[str]) -> dict[str, int]:
    """lang -> rows of its title table, from the Parquet footers (nothing else is read)."""
    rows: dict[str, int] = {}
    for path in paths:
        lang = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        with _open_for_reading(path) as handle:
            rows[lang] = rows.get(lang, 0) + pq.ParquetFile(handle).metadata.num_rows
    return rows
