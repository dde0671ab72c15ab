"""The shards stage: pages + vocabulary + tokenizer -> Arrow IPC pretraining shards.

Pipeline shape (``BuildShards.expand``)::

    page files ─ ReadPages ─┬─ link targets ──┐
                            │                 ├─ CoGroupByKey((lang, title)) ─ resolved targets ─┐
    vocab/titles ───────────┼─────────────────┘                                                  │
                            └─ pages ────────────────────────────────────── CoGroupByKey(page) ──┴─ BuildExamples
    BuildExamples ─┬─ examples ─ key by (lang, hash(page) % shards) ─ GroupByKey ─ WriteShard ─┐
                   └─ stats ─ CombinePerKey(lang) ───────────────────────────────────────────────┴─ WriteMetadata

Entity resolution is a join, not a lookup table in memory: the title table of a language (entity
titles and every redirect to them) can hold millions of rows. Rows of a shard are sorted by
(page id, sequence index), so the output is byte-identical whatever the runner or worker count.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.shards import (
    MANIFEST,
    SHARD_METADATA,
    SHARD_SCHEMA,
    SHARD_SUFFIX,
    SHARDS_DIR,
    Manifest,
    ManifestEntry,
    ShardMetadata,
    ShardSettings,
)
from transforms.extract import SumStats
from transforms.files import write_atomically

STAGE = "shards"


@dataclass(frozen=True)
class ShardingPlan:
    """How many shards each language gets: a fixed count, or from a target of rows per shard."""

    num_shards: int | None = None
    shard_rows: int = 20_000

    def shards_for(self, rows: int) -> int:
        if self.num_shards:
            return self.num_shards
        return max(1, math.ceil(rows / self.shard_rows))


@dataclass(frozen=True)
class ShardInputs:
    out: str
    tokenizer_path: str
    tokenizer_sha256: str
    entity_vocab_sha256: str
    entity_vocab_size: int
    word_vocab_size: int


def stable_shard(page_id: int, shards: int) -> int:
    """A shard index that does not depend on Python's hash seed."""
    return zlib.crc32(page_id.to_bytes(8, "little", signed=True)) % shards


def read_parquet_rows(path: str, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    with FileSystems.open(path) as handle:
        parquet = pq.ParquetFile(io.BytesIO(handle.read()))
    for batch in parquet.iter_batches(batch_size=512, columns=columns):
        yield from batch.to_pylist()


def page_key(row: dict[str, Any]) -> str:
    return f"{row['lang']}:{row['page_id']}"


class ReadPagesFn(beam.DoFn):
    """A pages Parquet file -> (page key, page row)."""

    def process(self, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for row in read_parquet_rows(path):
            yield page_key(row), row


def wanted_titles(element: tuple[str, dict[str, Any]]) -> Iterator[tuple[tuple[str, str], str]]:
    """((lang, title), page key) for the page's own title and each distinct link target."""
    key, row = element
    titles = {row["title"]}
    for paragraph in row["paragraphs"]:
        for link in paragraph["links"]:
            titles.add(link["target"])
    for title in sorted(titles):
        yield (row["lang"], title), key


def resolve_titles(
    element: tuple[tuple[str, str], dict[str, list[Any]]],
) -> Iterator[tuple[str, tuple[str, int]]]:
    """Join output -> (page key, (title, entity id)) for every page that wants a known title."""
    (_, title), grouped = element
    ids = grouped["entity"]
    if not ids:
        return
    entity_id = min(ids)  # one id per title; min() keeps it deterministic if a title repeats
    for key in grouped["page"]:
        yield key, (title, entity_id)


class BuildExamplesFn(beam.DoFn):
    """(page key, {page, resolved}) -> examples (tagged main) and per-language stats."""

    STATS = "stats"

    def __init__(self, tokenizer_path: str, settings: ShardSettings) -> None:
        self.tokenizer_path = tokenizer_path
        self.settings = settings
        self._tokenizer: Any = None
        self._examples = Metrics.counter(STAGE, "examples")
        self._pages = Metrics.counter(STAGE, "pages")

    def setup(self) -> None:
        from transforms.tokenization import load_tokenizer

        self._tokenizer = load_tokenizer(local_copy(self.tokenizer_path))

    def process(self, element: tuple[str, dict[str, list[Any]]]) -> Iterator[Any]:
        from transforms.packing import build_examples

        _, grouped = element
        if not grouped["page"]:
            return
        (row,) = grouped["page"]
        resolved = dict(grouped["resolved"])
        examples, stats = build_examples(
            row,
            resolved.get,
            self._tokenizer,
            self.settings,
            resolved.get(row["title"], -1),
        )
        self._pages.inc()
        self._examples.inc(len(examples))
        stats = Counter(stats)
        stats["pages"] += 1
        stats["pages_with_entity"] += int(row["title"] in resolved)
        for index, example in enumerate(examples):
            yield row["lang"], (row["page_id"], index, example)
        yield beam.pvalue.TaggedOutput(self.STATS, (row["lang"], stats))


def local_copy(path: str) -> str:
    """A local file path for a FileSystems path (models must be on local disk for sentencepiece)."""
    if "://" not in path:
        return path
    import tempfile

    with FileSystems.open(path) as handle:
        data = handle.read()
    suffix = "." + path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    with tempfile.NamedTemporaryFile(delete=False, suffix=suffix) as local:
        local.write(data)
    return local.name


def arrow_bytes(rows: list[dict[str, Any]]) -> bytes:
    table = pa.Table.from_pylist(rows, schema=SHARD_SCHEMA)
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, SHARD_SCHEMA) as writer:
        writer.write_table(table, max_chunksize=1024)
    return sink.getvalue()


def shard_path(out: str, lang: str, index: int, count: int) -> str:
    return f"{out.rstrip('/')}/{SHARDS_DIR}/{lang}/{lang}-{index:05d}-of-{count:05d}.{SHARD_SUFFIX}"


def write_shard(out: str, lang: str, index: int, count: int, rows: list[dict[str, Any]]) -> ManifestEntry:
    data = arrow_bytes(rows)
    path = shard_path(out, lang, index, count)
    write_atomically(path, data)
    relative = path[len(out.rstrip("/")) + 1 :]
    return ManifestEntry(
        path=relative, lang=lang, rows=len(rows), bytes=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


class WriteShardFn(beam.DoFn):
    """((lang, shard), [(page id, index, example)]) -> one Arrow file; yields its manifest entry."""

    def __init__(self, out: str) -> None:
        self.out = out

    def process(
        self, element: tuple[tuple[str, int, int], Iterable[tuple[int, int, dict[str, Any]]]]
    ) -> Iterator[ManifestEntry]:
        (lang, index, count), examples = element
        rows = [example for _, _, example in sorted(examples, key=lambda item: (item[0], item[1]))]
        yield write_shard(self.out, lang, index, count, rows)


def finish_outputs(
    inputs: ShardInputs,
    settings: ShardSettings,
    entries: list[ManifestEntry],
    stats: list[tuple[str, dict[str, int]]],
    shard_counts: dict[str, int],
) -> str:
    """Empty files for shards no page hashed to, metadata.json per language, manifest.json."""
    present = {(entry.lang, entry.path) for entry in entries}
    entries = list(entries)
    for lang, count in shard_counts.items():
        for index in range(count):
            relative = shard_path("", lang, index, count).lstrip("/")
            if (lang, relative) not in present:
                entries.append(write_shard(inputs.out, lang, index, count, []))
    entries.sort(key=lambda entry: entry.path)
    per_lang = dict(stats)
    for lang in sorted({entry.lang for entry in entries} | set(per_lang)):
        lang_stats = per_lang.get(lang, {})
        lang_entries = [entry for entry in entries if entry.lang == lang]
        metadata = ShardMetadata(
            lang=lang,
            examples=sum(entry.rows for entry in lang_entries),
            tokens=int(lang_stats.get("tokens", 0)),
            mentions=int(lang_stats.get("mentions", 0)),
            settings=settings,
            tokenizer_sha256=inputs.tokenizer_sha256,
            entity_vocab_sha256=inputs.entity_vocab_sha256,
            word_vocab_size=inputs.word_vocab_size,
            entity_vocab_size=inputs.entity_vocab_size,
            shards=[entry.path.rsplit("/", 1)[-1] for entry in lang_entries],
            extra={"counts": dict(sorted(lang_stats.items()))},
        )
        write_atomically(
            f"{inputs.out.rstrip('/')}/{SHARDS_DIR}/{lang}/{SHARD_METADATA}", metadata.to_json().encode()
        )
    manifest = Manifest(
        shards=entries,
        tokenizer_sha256=inputs.tokenizer_sha256,
        entity_vocab_sha256=inputs.entity_vocab_sha256,
    )
    path = f"{inputs.out.rstrip('/')}/{MANIFEST}"
    write_atomically(path, manifest.to_json().encode())
    report = {
        "stage": STAGE,
        "settings": asdict(settings),
        "languages": {lang: dict(sorted(values.items())) for lang, values in sorted(per_lang.items())},
    }
    write_atomically(
        f"{inputs.out.rstrip('/')}/reports/shards.json", (json.dumps(report, indent=1) + "\n").encode()
    )
    return path


def key_by_shard(
    element: tuple[str, tuple[int, int, dict[str, Any]]], counts: dict[str, int]
) -> tuple[tuple[str, int, int], tuple[int, int, dict[str, Any]]]:
    """(lang, (page id, index, example)) -> ((lang, shard, shard count), same item)."""
    lang, item = element
    return (lang, stable_shard(item[0], counts[lang]), counts[lang]), item


class BuildShards(beam.PTransform):
    """Page files + title table -> shard files, metadata and manifest. Returns the manifest path."""

    def __init__(
        self,
        inputs: ShardInputs,
        settings: ShardSettings,
        plan: ShardingPlan,
    ) -> None:
        super().__init__()
        self.inputs = inputs
        self.settings = settings
        self.plan = plan

    def expand(self, sources: dict[str, beam.PCollection]) -> beam.PCollection:
        pages = sources["page_files"] | "ReadPages" >> beam.ParDo(ReadPagesFn())
        titles = sources["titles"]
        resolved = (
            {
                "page": pages | "WantedTitles" >> beam.FlatMap(wanted_titles),
                "entity": titles,
            }
            | "JoinTitles" >> beam.CoGroupByKey()
            | "ResolveTitles" >> beam.FlatMap(resolve_titles)
        )
        built = (
            {"page": pages, "resolved": resolved}
            | "GroupPerPage" >> beam.CoGroupByKey()
            | "BuildExamples"
            >> beam.ParDo(BuildExamplesFn(self.inputs.tokenizer_path, self.settings)).with_outputs(
                BuildExamplesFn.STATS, main="examples"
            )
        )
        examples = built.examples
        plan = self.plan
        counts = examples | "CountPerLanguage" >> beam.combiners.Count.PerKey()
        shard_counts = counts | "ShardCounts" >> beam.MapTuple(
            lambda lang, rows: (lang, plan.shards_for(rows))
        )
        entries = (
            examples
            | "KeyByShard" >> beam.Map(key_by_shard, counts=beam.pvalue.AsDict(shard_counts))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(WriteShardFn(self.inputs.out))
        )
        stats = built[BuildExamplesFn.STATS] | "SumStats" >> beam.CombinePerKey(SumStats())
        inputs, settings = self.inputs, self.settings
        return sources["impulse"] | "Finish" >> beam.Map(
            lambda _, entries_, stats_, counts_: finish_outputs(inputs, settings, entries_, stats_, counts_),
            entries_=beam.pvalue.AsList(entries),
            stats_=beam.pvalue.AsList(stats),
            counts_=beam.pvalue.AsDict(shard_counts),
        )


def read_titles(path: str) -> Iterator[tuple[tuple[str, str], int]]:
    for row in read_parquet_rows(path, columns=["lang", "title", "entity_id"]):
        yield (row["lang"], row["title"]), row["entity_id"]
