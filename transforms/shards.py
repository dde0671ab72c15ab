"""The shards stage: pages + vocabulary + tokenizer -> Arrow IPC pretraining shards.

Pipeline shape (``BuildShards.expand``)::

    page files ─┬─ ResolveEntityIds (transforms.title_join) ─ (file, resolved batches) ─┐
    title files ┘                                                                       ├─ GroupPerFile
    page files ─────────────────────────────────────────────────────────────────────────┘
        ─ ExamplesPerFile ─┬─ parts (lang, file, rows, temp Arrow file) ─ PlanShards ─ WriteShards ─┐
                           └─ stats ─ CombinePerKey(lang) ────────────────────────────────────────┴─ Finish

Entity resolution is a hash join of each page file's link targets with the title table (entity
titles and every redirect to one), both sides cut into buckets and written as files, so neither
sits in a shuffle or in one worker's memory (``transforms.title_join``). The worker that builds a
file's examples reads the file itself and its resolved titles. Examples of a file go to a
temporary Arrow part; then each language's parts are cut into shards of exact row ranges
(page-file order, then page order), so shards hold equal row counts (+-1) and the output is
byte-identical whatever the runner or the worker count.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.shards import (
    DATASET_CARD,
    MANIFEST,
    SHARD_SCHEMA,
    SHARD_SUFFIX,
    SHARDS_DIR,
    Manifest,
    ManifestEntry,
    ShardMetadata,
    ShardSettings,
    metadata_file,
    schema_metadata,
)
from transforms.extract import SumStats
from transforms.files import CountingSink, ensure_directory, move_into_place, write_atomically
from transforms.title_join import ResolveEntityIds, read_resolved

STAGE = "shards"
BATCH_ROWS = 1024  # rows per record batch in every shard and part file
PARTS_DIR = ".parts"
JOIN_DIR = ".join"  # the title join's files (transforms.title_join), removed when the stage ends


@dataclass(frozen=True)
class ShardingPlan:
    """How many shards each language gets: a fixed count, or from a target of rows or bytes per shard."""

    num_shards: int | None = None
    shard_rows: int = 20_000
    shard_bytes: int | None = None

    def shards_for(self, rows: int, size: int = 0) -> int:
        if self.num_shards:
            return self.num_shards
        if self.shard_bytes:
            return max(1, math.ceil(size / self.shard_bytes))
        return max(1, math.ceil(rows / self.shard_rows))


@dataclass(frozen=True)
class ShardInputs:
    out: str
    tokenizer_path: str
    tokenizer_sha256: str
    entity_vocab_sha256: str
    entity_vocab_size: int
    word_vocab_size: int


@dataclass(frozen=True)
class Part:
    """The examples of one page file, in a temporary Arrow file."""

    lang: str
    index: int  # position of the page file among the language's files
    rows: int
    path: str
    bytes: int = 0


# What the examples of a page need: every other column of the pages is left unread.
EXAMPLE_COLUMNS = ["lang", "page_id", "title", "paragraphs"]


def _parquet_file(path: str) -> pq.ParquetFile:
    with FileSystems.open(path) as handle:
        return pq.ParquetFile(io.BytesIO(handle.read()))


def read_parquet_rows(path: str, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    parquet = _parquet_file(path)
    for batch in parquet.iter_batches(batch_size=512, columns=columns):
        yield from batch.to_pylist()


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


def arrow_bytes(table: pa.Table, metadata: dict[str, str] | None = None) -> bytes:
    sink = io.BytesIO()
    schema = SHARD_SCHEMA.with_metadata(metadata) if metadata else SHARD_SCHEMA
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)
    return sink.getvalue()


def read_arrow(path: str) -> pa.Table:
    with FileSystems.open(path) as handle:
        return pa.ipc.open_file(pa.BufferReader(handle.read())).read_all()


class ExamplesPerFileFn(beam.DoFn):
    """(page file, its resolved-title batches) -> a Part with the file's examples; stats tagged."""

    STATS = "stats"

    def __init__(
        self, out: str, tokenizer_path: str, settings: ShardSettings, file_index: dict[str, int]
    ) -> None:
        self.out = out.rstrip("/")
        self.tokenizer_path = tokenizer_path
        self.settings = settings
        self.file_index = file_index
        self._tokenizer: Any = None
        self._examples = Metrics.counter(STAGE, "examples")
        self._pages = Metrics.counter(STAGE, "pages")

    def setup(self) -> None:
        from transforms.tokenization import load_tokenizer

        self._tokenizer = load_tokenizer(local_copy(self.tokenizer_path))

    def process(self, element: tuple[int, dict[str, list[Any]]]) -> Iterator[Any]:
        from transforms.packing import build_examples

        _, grouped = element
        if not grouped["file"]:
            return
        path: str = grouped["file"][0]
        resolved = read_resolved(grouped["resolved"])
        rows: list[dict[str, Any]] = []
        stats: Counter[str] = Counter()
        lang = path.rsplit("/", 2)[-2]
        for page in read_parquet_rows(path, columns=EXAMPLE_COLUMNS):
            lang = page["lang"]
            examples, page_stats = build_examples(
                page, resolved.get, self._tokenizer, self.settings, resolved.get(page["title"], -1)
            )
            rows.extend(examples)
            stats.update(page_stats)
            stats["pages"] += 1
            stats["pages_with_entity"] += int(page["title"] in resolved)
        self._pages.inc(stats["pages"])
        self._examples.inc(len(rows))
        index = self.file_index[path]
        part_path = f"{self.out}/{SHARDS_DIR}/{PARTS_DIR}/{lang}/part-{index:05d}.{SHARD_SUFFIX}"
        data = arrow_bytes(pa.Table.from_pylist(rows, schema=SHARD_SCHEMA))
        write_atomically(part_path, data)
        yield Part(lang, index, len(rows), part_path, len(data))
        yield beam.pvalue.TaggedOutput(self.STATS, (lang, stats))


def shard_slices(parts: list[Part], shards: int) -> list[list[tuple[str, int, int]]]:
    """Cut the concatenation of parts (in index order) into ``shards`` near-equal row ranges.

    Returns, per shard, the (part path, offset, length) slices it is made of.
    """
    ordered = sorted(parts, key=lambda part: part.index)
    total = sum(part.rows for part in ordered)
    bounds = [total * i // shards for i in range(shards + 1)]
    plan: list[list[tuple[str, int, int]]] = [[] for _ in range(shards)]
    position = 0
    for part in ordered:
        start, end = position, position + part.rows
        for shard in range(shards):
            low, high = max(start, bounds[shard]), min(end, bounds[shard + 1])
            if low < high:
                plan[shard].append((part.path, low - start, high - low))
        position = end
    return plan


def shard_path(out: str, lang: str, index: int, count: int) -> str:
    return f"{out.rstrip('/')}/{SHARDS_DIR}/{lang}/{lang}-{index:05d}-of-{count:05d}.{SHARD_SUFFIX}"


def plan_shards(element: tuple[str, list[Part]], plan: ShardingPlan) -> Iterator[tuple[str, int, int, list]]:
    """(lang, parts) -> one (lang, shard, count, slices) element per output shard."""
    lang, parts = element
    count = plan.shards_for(sum(part.rows for part in parts), sum(part.bytes for part in parts))
    for index, slices in enumerate(shard_slices(list(parts), count)):
        yield lang, index, count, slices


def shard_batches(
    slices: list[tuple[str, int, int]], batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The rows of a shard's slices as record batches of exactly ``batch_rows`` (the last shorter).

    The batches are those ``write_table(concatenation, max_chunksize=batch_rows)`` would write, so
    the file's bytes do not depend on how the rows were split into parts; only one part file and
    one batch's worth of rows are in memory at a time.
    """
    pending: list[pa.Table] = []
    pending_rows = 0
    for path, offset, length in slices:
        pending.append(read_arrow(path).slice(offset, length))
        pending_rows += length
        if pending_rows < batch_rows:
            continue
        combined = pa.concat_tables(pending).combine_chunks()
        whole = pending_rows - pending_rows % batch_rows
        for start in range(0, whole, batch_rows):
            yield from combined.slice(start, batch_rows).to_batches()
        pending = [combined.slice(whole)]
        pending_rows -= whole
    if pending_rows:
        yield from pa.concat_tables(pending).combine_chunks().to_batches()


def write_shard(
    inputs: ShardInputs, settings: ShardSettings, element: tuple[str, int, int, list[tuple[str, int, int]]]
) -> ManifestEntry:
    """Stream a shard's slices into its file, a batch at a time; checksum and size as it goes."""
    lang, index, count, slices = element
    out = inputs.out
    metadata = schema_metadata(
        lang,
        inputs.tokenizer_sha256,
        inputs.entity_vocab_sha256,
        inputs.word_vocab_size,
        inputs.entity_vocab_size,
        settings,
    )
    path = shard_path(out, lang, index, count)
    temp = path + ".tmp"
    ensure_directory(path.rsplit("/", 1)[0])
    rows = 0
    with FileSystems.create(temp, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        sink = CountingSink(handle)
        with pa.ipc.new_file(sink, SHARD_SCHEMA.with_metadata(metadata)) as writer:
            for batch in shard_batches(slices):
                writer.write_batch(batch)
                rows += batch.num_rows
    move_into_place(temp, path)
    return ManifestEntry(
        path=path[len(out.rstrip("/")) + 1 :],
        lang=lang,
        rows=rows,
        bytes=sink.tell(),
        sha256=sink.sha256,
    )


def finish_outputs(
    inputs: ShardInputs,
    settings: ShardSettings,
    entries: list[ManifestEntry],
    stats: list[tuple[str, dict[str, int]]],
) -> str:
    """shards/_metadata/{lang}.json, shards/_manifest.json, the dataset card and the stage report."""
    entries = sorted(entries, key=lambda entry: entry.path)
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
            f"{inputs.out.rstrip('/')}/{SHARDS_DIR}/{metadata_file(lang)}", metadata.to_json().encode()
        )
    manifest = Manifest(
        shards=entries,
        tokenizer_sha256=inputs.tokenizer_sha256,
        entity_vocab_sha256=inputs.entity_vocab_sha256,
    )
    path = f"{inputs.out.rstrip('/')}/{MANIFEST}"
    write_atomically(path, manifest.to_json().encode())
    card = dataset_card(inputs, settings, entries, per_lang)
    write_atomically(f"{inputs.out.rstrip('/')}/{DATASET_CARD}", card.encode())
    report = {
        "stage": STAGE,
        "settings": asdict(settings),
        "languages": {lang: dict(sorted(values.items())) for lang, values in sorted(per_lang.items())},
    }
    write_atomically(
        f"{inputs.out.rstrip('/')}/reports/shards.json", (json.dumps(report, indent=1) + "\n").encode()
    )
    return path


def dataset_card(
    inputs: ShardInputs,
    settings: ShardSettings,
    entries: list[ManifestEntry],
    per_lang: dict[str, dict[str, int]],
) -> str:
    """shards/README.md: a Hugging Face dataset card whose YAML ``configs`` name one config per
    language, so ``datasets.load_dataset("WORKDIR/shards", "ja", split="train")`` reads one."""
    langs = sorted({entry.lang for entry in entries if entry.rows})
    lines = ["---", "configs:"]
    for lang in langs:
        lines += [f"- config_name: {lang}", "  data_files:", "  - split: train", f"    path: {lang}/*.arrow"]
    lines += [
        "---",
        "",
        "# mLUKE pretraining shards",
        "",
        "Written by `mluke-data shards build`. One row is one training sequence: `word_ids` is the",
        "complete model input (`<s>` first, `</s>` last); entity spans are token positions into",
        "`word_ids` (`entity_ends` exclusive); `entity_ids` index the entity vocabulary",
        "(`vocab/entity_vocab.jsonl`). Schema: `schemas/shards.py` of mluke-data.",
        "",
        "| config | shards | examples | tokens | entity mentions |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for lang in langs:
        rows = [entry for entry in entries if entry.lang == lang]
        stats = per_lang.get(lang, {})
        lines.append(
            f"| {lang} | {len(rows)} | {sum(e.rows for e in rows)} | {stats.get('tokens', 0)} "
            f"| {stats.get('mentions', 0)} |"
        )
    lines += [
        "",
        f"- tokenizer (sha256 of the sentencepiece model): `{inputs.tokenizer_sha256}`",
        f"- entity vocabulary (sha256 of entity_vocab.jsonl): `{inputs.entity_vocab_sha256}`",
        f"- word vocabulary size {inputs.word_vocab_size}, entity vocabulary size {inputs.entity_vocab_size}",
        f"- settings: `{json.dumps(asdict(settings), sort_keys=True)}`",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("path/to/shards", "{langs[0] if langs else "en"}", split="train")',
        "import pyarrow.dataset",
        f'table = pyarrow.dataset.dataset("path/to/shards/{langs[0] if langs else "en"}", format="arrow").to_table()',
        "```",
        "",
        "Per-language counts and settings: `_metadata/{lang}.json`; every file with its size and sha256:",
        "`_manifest.json` (paths relative to the work directory).",
        "",
    ]
    return "\n".join(lines)


class BuildShards(beam.PTransform):
    """Page files + title tables -> shard files, metadata and manifest. Returns the manifest path.

    ``title_buckets``: how many hash buckets each language's title table is cut into for the join
    (``title_join.bucket_count`` of its rows).
    """

    def __init__(
        self,
        inputs: ShardInputs,
        settings: ShardSettings,
        plan: ShardingPlan,
        page_files: list[str],
        title_buckets: dict[str, int],
    ) -> None:
        super().__init__()
        self.title_buckets = title_buckets
        self.inputs = inputs
        self.settings = settings
        self.plan = plan
        # Position of each page file within its language: the order of the examples.
        per_lang: dict[str, list[str]] = {}
        for path in sorted(page_files):
            per_lang.setdefault(path.rsplit("/", 2)[-2], []).append(path)
        self.file_index = {path: i for paths in per_lang.values() for i, path in enumerate(paths)}
        # The joins carry a small number per file instead of its path (the shuffle is mostly keys).
        self.file_number = {path: n for n, path in enumerate(sorted(page_files))}

    def expand(self, sources: dict[str, beam.PCollection]) -> beam.PCollection:
        files = sources["page_files"]
        number = self.file_number
        join_dir = f"{self.inputs.out.rstrip('/')}/{SHARDS_DIR}/{JOIN_DIR}"
        resolved = {"page_files": files, "title_files": sources["title_files"]} | "ResolveEntityIds" >> (
            ResolveEntityIds(join_dir, self.title_buckets, number)
        )
        built = (
            {"file": files | "KeyFiles" >> beam.Map(lambda path: (number[path], path)), "resolved": resolved}
            | "GroupPerFile" >> beam.CoGroupByKey()
            | "ExamplesPerFile"
            >> beam.ParDo(
                ExamplesPerFileFn(self.inputs.out, self.inputs.tokenizer_path, self.settings, self.file_index)
            ).with_outputs(ExamplesPerFileFn.STATS, main="parts")
        )
        inputs, settings, plan = self.inputs, self.settings, self.plan
        entries = (
            built.parts
            | "KeyPartsByLanguage" >> beam.Map(lambda part: (part.lang, part))
            | "PartsPerLanguage" >> beam.GroupByKey()
            | "PlanShards" >> beam.FlatMap(plan_shards, plan=plan)
            | "SpreadShards" >> beam.Reshuffle()
            | "WriteShards" >> beam.Map(lambda element: write_shard(inputs, settings, element))
        )
        stats = built[ExamplesPerFileFn.STATS] | "SumStats" >> beam.CombinePerKey(SumStats())
        return sources["impulse"] | "Finish" >> beam.Map(
            lambda _, entries_, stats_: finish_outputs(inputs, settings, entries_, stats_),
            entries_=beam.pvalue.AsList(entries),
            stats_=beam.pvalue.AsList(stats),
        )
