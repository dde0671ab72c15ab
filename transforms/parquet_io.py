"""Byte and Parquet I/O of the vocab stage, all through Beam's FileSystems (local paths and gs://
alike): whole files, tables from rows, and the row groups of the extract stage's tables as work
items."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.files import write_atomically


def join_path(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts) if parts else base


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


def write_bytes(path: str, data: bytes) -> None:
    write_atomically(path, data)


def write_parquet(path: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_bytes(path, sink.getvalue().to_pybytes())


def read_parquet(path: str, columns: Sequence[str] | None = None) -> pa.Table:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(io.BytesIO(handle.read()), columns=list(columns) if columns else None)


def rows_to_table(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


class ListRowGroups(beam.DoFn):
    """Parquet file -> (path, row group index) work items."""

    def process(self, path: str) -> Iterator[tuple[str, int]]:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            count = pq.ParquetFile(handle).num_row_groups
        for index in range(count):
            yield path, index


class ReadParquetRowGroups(beam.PTransform):
    """Parquet paths -> (path, row group) work items, reshuffled so row groups spread out."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__()
        self._paths = sorted(paths)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "Paths" >> beam.Create(self._paths, reshuffle=False)
            | "RowGroups" >> beam.ParDo(ListRowGroups())
            | "Spread" >> beam.Reshuffle()
        )


class ProcessRowGroups(beam.PTransform):
    """Parquet paths -> ``fn`` applied to every (path, row group) work item; its main output
    ``main`` and its tagged outputs ``tags``, as a dict by name."""

    def __init__(self, paths: Sequence[str], fn: beam.DoFn, main: str, *tags: str) -> None:
        super().__init__()
        self._paths = paths
        self._fn = fn
        self._main = main
        self._tags = tags

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        read = (
            pbegin
            | "RowGroups" >> ReadParquetRowGroups(self._paths)
            | "Process" >> beam.ParDo(self._fn).with_outputs(*self._tags, main=self._main)
        )
        return {name: read[name] for name in (self._main, *self._tags)}


def read_row_group(path: str, index: int, columns: Sequence[str]) -> pa.Table:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.ParquetFile(handle).read_row_group(index, columns=list(columns))


def rows_of_languages(table: pa.Table, langs: frozenset[str]) -> pa.Table:
    """Rows of the requested languages (and of namespace 0, for page tables)."""
    if "namespace" in table.column_names and pc.any(pc.not_equal(table.column("namespace"), 0)).as_py():
        table = table.filter(pc.equal(table.column("namespace"), 0))
    present = set(pc.unique(table.column("lang")).to_pylist())
    if present <= langs:
        return table
    return table.filter(pc.is_in(table.column("lang"), value_set=pa.array(sorted(langs), pa.string())))
