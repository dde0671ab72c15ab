"""Byte and Parquet I/O of the vocab stage, all through Beam's FileSystems (local paths and gs://
alike): whole files, tables from rows, and the row groups of the extract stage's tables as work
items."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

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


@dataclass(frozen=True)
class RowGroupTask:
    """What to do with the row groups of ``paths``: ``fn`` gets each (path, row group index).

    Only ``setup``, ``process`` and ``teardown`` of ``fn`` are called (the reader DoFns have no
    bundle methods)."""

    paths: Sequence[str]
    fn: beam.DoFn


class _ListRowGroups(beam.DoFn):
    """(task, Parquet file) -> (task, path, row group index) work items."""

    def process(self, item: tuple[str, str]) -> Iterator[tuple[str, str, int]]:
        name, path = item
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            count = pq.ParquetFile(handle).num_row_groups
        for index in range(count):
            yield name, path, index


class _RunRowGroupTask(beam.DoFn):
    """A work item -> the outputs of its task's DoFn; untagged ones go to the task's name."""

    def __init__(self, tasks: Mapping[str, RowGroupTask]) -> None:
        self._fns = {name: task.fn for name, task in tasks.items()}

    def setup(self) -> None:
        for fn in self._fns.values():
            fn.setup()

    def teardown(self) -> None:
        for fn in self._fns.values():
            fn.teardown()

    def process(self, item: tuple[str, str, int]) -> Iterator[Any]:
        name, path, index = item
        for output in self._fns[name].process((path, index)) or ():
            yield output if isinstance(output, TaggedOutput) else TaggedOutput(name, output)


class ProcessRowGroups(beam.PTransform):
    """Parquet files of several kinds read in one pass: every (file, row group) is a work item,
    listed and spread across workers once, and handed to the DoFn of its task.

    Outputs a dict: each task's untagged output under the task's name, and the tagged outputs
    ``tags``, which tasks may share (their elements land in one PCollection). One pass for all
    kinds keeps the graph small: the local runner pays for every step and stage it has.
    """

    def __init__(self, tasks: Mapping[str, RowGroupTask], tags: Sequence[str] = ()) -> None:
        super().__init__()
        self._tasks = dict(tasks)
        self._tags = tuple(tags)

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        files = sorted((name, path) for name, task in self._tasks.items() for path in task.paths)
        outputs = (
            pbegin
            | "Files" >> beam.Create(files, reshuffle=False)
            | "RowGroups" >> beam.ParDo(_ListRowGroups())
            | "Spread" >> beam.Reshuffle()
            | "Process" >> beam.ParDo(_RunRowGroupTask(self._tasks)).with_outputs(*self._tasks, *self._tags)
        )
        return {name: outputs[name] for name in (*self._tasks, *self._tags)}


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
