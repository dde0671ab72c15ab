"""The outputs of the vocab stage (layout in :mod:`schemas.vocab_tables`): the per-language
mention and title tables, written deterministically in bounded memory, and the vocabulary files
(luke's entity_vocab.jsonl, Hugging Face's entity_vocab.json, entities.parquet, stats.json,
report.json), written last from the gathered vocabulary and the summed account."""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.vocab import (
    ENTITIES_PARQUET,
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
    FIRST_ENTITY_ID,
    SPECIAL_ENTITIES,
    VOCAB_STATS,
    hf_entity_key,
)
from schemas.vocab_tables import ENTITIES_SCHEMA, VOCAB_REPORT, language_table_name
from transforms.entity_counts import EntityRecord
from transforms.files import CountingSink
from transforms.parquet_io import join_path, read_parquet, rows_to_table, write_bytes, write_parquet
from transforms.vocab_keys import LINK_FATES, LINKS, LINKS_DIRECT, LINKS_IN_VOCAB, LINKS_VIA_REDIRECT

# Per-language tables are written as this many sorted parts, then concatenated in order, so no
# worker sorts a whole language's mention dictionary.
DEFAULT_PART_BUCKETS = 16


def luke_jsonl(entities: Sequence[tuple[int, EntityRecord]], langs: Sequence[str]) -> str:
    """``entity_vocab.jsonl`` in the luke repository's format.

    Special entities are listed once per language, as luke's multilingual vocab builder does, so
    luke's EntityVocab finds them whatever language it asks for.
    """
    lines = []
    for special_id, special in enumerate(SPECIAL_ENTITIES):
        names = [[special, lang] for lang in sorted(langs)] or [[special, None]]
        lines.append(json.dumps({"id": special_id, "entities": names, "count": 0}, ensure_ascii=False))
    for entity_id, record in entities:
        names = [[title, lang] for lang, title, _ in record.titles]
        lines.append(
            json.dumps({"id": entity_id, "entities": names, "count": record.count}, ensure_ascii=False)
        )
    return "\n".join(lines) + "\n"


def hf_entity_vocab(entities: Sequence[tuple[int, EntityRecord]]) -> str:
    """``entity_vocab.json`` for MLukeTokenizer: ``{"[PAD]": 0, ..., "en:Berlin": 17, ...}``."""
    items = [(special, special_id) for special_id, special in enumerate(SPECIAL_ENTITIES)]
    for entity_id, record in entities:
        items.extend((hf_entity_key(lang, title), entity_id) for lang, title, _ in record.titles)
    body = ",\n".join(f" {json.dumps(key, ensure_ascii=False)}: {value}" for key, value in items)
    return "{\n" + body + "\n}\n"


def entities_table(entities: Sequence[tuple[int, EntityRecord]]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "id": [entity_id for entity_id, _ in entities],
            "wikidata_id": [record.qid for _, record in entities],
            "count": [record.count for _, record in entities],
            "num_languages": [record.num_languages for _, record in entities],
            "titles": [
                [{"lang": lang, "title": title, "count": count} for lang, title, count in record.titles]
                for _, record in entities
            ],
        },
        schema=ENTITIES_SCHEMA,
    )


def account_by_language(account: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (lang, key), value in sorted(account.items()):
        out.setdefault(lang or "*", {})[key] = value
    return out


def _quantile(sorted_values: Sequence[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def count_by_rank(descending: Sequence[int]) -> list[list[int]]:
    """[rank, count] at 1, 2, 5, 10, 20, 50, ... and the last rank: the rank-frequency curve."""
    ranks: list[int] = []
    scale = 1
    while scale <= len(descending):
        ranks.extend(r for r in (scale, 2 * scale, 5 * scale) if r <= len(descending))
        scale *= 10
    if descending and (not ranks or ranks[-1] != len(descending)):
        ranks.append(len(descending))
    return [[rank, descending[rank - 1]] for rank in ranks]


QUANTILES = (("min", 0.0), ("p10", 0.1), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9),
             ("p99", 0.99), ("max", 1.0))  # fmt: skip


def vocabulary_stats(
    entities: Sequence[tuple[int, EntityRecord]],
    account: Mapping[tuple[str, str], int],
    langs: Sequence[str],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The content of ``stats.json``: what ``vocab stats`` shows."""
    per_lang_entities: Counter[str] = Counter()
    per_lang_in_vocab: Counter[str] = Counter()
    languages_hist: Counter[int] = Counter()
    for _, record in entities:
        record_langs = {lang for lang, _, _ in record.titles}
        per_lang_entities.update(record_langs)
        languages_hist[len(record_langs)] += 1
        for lang, _, count in record.titles:
            per_lang_in_vocab[lang] += count
    counts = sorted(record.count for _, record in entities)
    per_language = {}
    for lang in sorted(langs):
        links = account.get((lang, LINKS), 0)
        in_vocab = account.get((lang, LINKS_IN_VOCAB), 0)
        per_language[lang] = {
            "entities": per_lang_entities[lang],
            "pages": account.get((lang, "pages"), 0),
            "links": links,
            "links_in_vocab": in_vocab,
            "coverage": round(in_vocab / links, 6) if links else 0.0,
            "link_targets": account.get((lang, "link_targets"), 0),
        }
    return {
        "entities": len(entities),
        "special_entities": list(SPECIAL_ENTITIES),
        "first_entity_id": FIRST_ENTITY_ID,
        "languages": sorted(langs),
        "links_in_vocab": sum(per_lang_in_vocab.values()),
        "per_language": per_language,
        "languages_per_entity": {str(k): languages_hist[k] for k in sorted(languages_hist)},
        "count_quantiles": {name: _quantile(counts, q) for name, q in QUANTILES},
        "count_by_rank": count_by_rank(counts[::-1]),
        "settings": dict(settings),
    }


def vocab_report(
    account: Mapping[tuple[str, str], int], settings: Mapping[str, Any], entities: int
) -> dict[str, Any]:
    """The run report: settings, and per language where every link went (the fates add up)."""
    by_lang = account_by_language(account)
    languages: dict[str, dict[str, int]] = {}
    always = ("pages", LINKS, LINKS_DIRECT, LINKS_VIA_REDIRECT, *LINK_FATES)
    for lang in sorted(set(settings.get("langs", ())) | (by_lang.keys() - {"*"})):
        row = {key: 0 for key in always}
        row.update(by_lang.get(lang, {}))
        row["links_uncovered"] = sum(row.get(key, 0) for key in LINK_FATES if key != LINKS_IN_VOCAB)
        languages[lang] = row
    totals: Counter[str] = Counter()
    for row in languages.values():
        totals.update(row)
    return {
        "settings": dict(settings),
        "entities": entities,
        "totals": dict(sorted(totals.items())),
        "languages": languages,
        "global": by_lang.get("*", {}),
    }


def bucket_of(text: str, buckets: int) -> int:
    return zlib.crc32(text.encode("utf-8")) % buckets


# A sorted part at most this large travels to the concatenation inline (Arrow IPC bytes) instead
# of as a temporary Parquet file: a small language's parts cost a few milliseconds each to write
# and read back, most of the stage's time on a small build. A language holds at most
# ``buckets`` inline parts, so the concatenation's memory stays bounded.
INLINE_PART_BYTES = 4 * 1024 * 1024


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def table_from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


@dataclass(frozen=True)
class LanguageTable:
    """A folder of per-language tables, ``{folder}/{lang}.parquet``: their schema, the order of
    the rows within a part, and the account key of their row counts (``{label}_rows``)."""

    schema: pa.Schema
    sort_key: Callable[[Sequence[Any]], Any]
    label: str


# The bucket of the one element per (folder, language) that makes sure the language's table is
# written even without rows.
_SEED = -1

# A part: (bucket, temporary Parquet path or None, inline IPC bytes or None, rows).
Part = tuple[int, str | None, bytes | None, int]


class _WritePart(beam.DoFn):
    def __init__(self, tmp_dir: str, tables: Mapping[str, LanguageTable], inline_bytes: int) -> None:
        self._tmp_dir = tmp_dir
        self._tables = dict(tables)
        self._inline_bytes = inline_bytes

    def process(
        self, element: tuple[tuple[str, str, int], Iterable[Sequence[Any]]]
    ) -> Iterator[tuple[tuple[str, str], Part | None]]:
        (folder, lang, bucket), rows = element
        if bucket == _SEED:
            yield (folder, lang), None  # every language gets its file, rows or not
            return
        spec = self._tables[folder]
        ordered = sorted(rows, key=spec.sort_key)
        table = rows_to_table(ordered, spec.schema)
        if table.nbytes <= self._inline_bytes:
            yield (folder, lang), (bucket, None, table_to_ipc(table), len(ordered))
            return
        path = join_path(self._tmp_dir, folder, lang, f"part-{bucket:05d}.parquet")
        write_parquet(path, table)
        yield (folder, lang), (bucket, path, None, len(ordered))


def read_part(part: Part) -> pa.Table:
    _, path, inline, _ = part
    if inline is not None:
        return table_from_ipc(inline)
    assert path is not None
    return read_parquet(path)


class _ConcatParts(beam.DoFn):
    def __init__(self, out_dir: str, tables: Mapping[str, LanguageTable]) -> None:
        self._out_dir = out_dir
        self._tables = dict(tables)

    def process(self, element: tuple[tuple[str, str], Iterable[Part | None]]) -> Iterator[Any]:
        (folder, lang), parts = element
        spec = self._tables[folder]
        ordered = sorted((part for part in parts if part is not None), key=lambda part: part[0])
        path = join_path(self._out_dir, folder, language_table_name(lang))
        rows = 0
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            sink = CountingSink(handle)
            with pq.ParquetWriter(sink, spec.schema, compression="zstd") as writer:  # type: ignore[arg-type]
                for part in ordered:
                    table = read_part(part)
                    rows += table.num_rows
                    writer.write_table(table.cast(spec.schema))
                if not ordered:
                    writer.write_table(spec.schema.empty_table())
        # Parts stay until the run ends (the pipeline module removes the folder): a retried
        # bundle must find them again.
        yield (lang, f"{spec.label}_rows"), rows


def _bucketed(row: Sequence[Any], folder: str, buckets: int) -> tuple[tuple[str, str, int], Sequence[Any]]:
    return (folder, row[0], bucket_of(row[1], buckets)), row


class WriteLanguageTables(beam.PTransform):
    """{folder: rows (lang first)} -> ``out_dir/{folder}/{lang}.parquet``, deterministic, in
    bounded memory, every folder in one pass.

    Rows are hashed into buckets by their second field, each bucket is sorted into a part (carried
    inline when small, else written as a temporary file), and the parts of a language are
    concatenated in bucket order, one row group each. Every language in ``langs`` gets a file in
    every folder, empty or not. Outputs ((lang, "{label}_rows"), rows) account entries.
    """

    def __init__(
        self,
        out_dir: str,
        tmp_dir: str,
        tables: Mapping[str, LanguageTable],
        langs: Sequence[str],
        buckets: int = DEFAULT_PART_BUCKETS,
        inline_bytes: int = INLINE_PART_BYTES,
    ) -> None:
        super().__init__()
        self._out_dir = out_dir
        self._tmp_dir = tmp_dir
        self._tables = dict(tables)
        self._langs = sorted(langs)
        self._buckets = buckets
        self._inline_bytes = inline_bytes

    def expand(self, rows: Mapping[str, beam.PCollection]) -> beam.PCollection:
        if set(rows) != set(self._tables):
            raise ValueError(f"rows for {sorted(rows)}, tables for {sorted(self._tables)}")
        pipeline = next(iter(rows.values())).pipeline
        seeds = [((folder, lang, _SEED), None) for folder in sorted(self._tables) for lang in self._langs]
        bucketed = [
            rows[folder] | f"Bucket[{folder}]" >> beam.Map(_bucketed, folder, self._buckets)
            for folder in sorted(rows)
        ]
        return (
            (*bucketed, pipeline | "Languages" >> beam.Create(seeds, reshuffle=False))
            | "AllRows" >> beam.Flatten()
            | "GroupBucket" >> beam.GroupByKey()
            | "WritePart" >> beam.ParDo(_WritePart(self._tmp_dir, self._tables, self._inline_bytes))
            | "GroupLanguage" >> beam.GroupByKey()
            | "Concat" >> beam.ParDo(_ConcatParts(self._out_dir, self._tables))
        )


class WriteVocabulary(beam.DoFn):
    """The gathered vocabulary (<= vocab size entities) -> jsonl, json, entities.parquet,
    stats.json and report.json, written last (the account side input is complete by then)."""

    def __init__(self, vocab_dir: str, langs: Sequence[str], settings: Mapping[str, Any]) -> None:
        self._vocab_dir = vocab_dir
        self._langs = sorted(langs)
        self._settings = dict(settings)

    def process(
        self, _start: bytes, gathered: Iterable[tuple[int, EntityRecord]], account: Mapping[Any, int]
    ) -> Iterator[Any]:
        entities = sorted(gathered, key=lambda item: item[0])
        account = {tuple(key): value for key, value in account.items()}
        write_bytes(
            join_path(self._vocab_dir, ENTITY_VOCAB_JSONL), luke_jsonl(entities, self._langs).encode()
        )
        write_bytes(join_path(self._vocab_dir, ENTITY_VOCAB_HF_JSON), hf_entity_vocab(entities).encode())
        write_parquet(join_path(self._vocab_dir, ENTITIES_PARQUET), entities_table(entities))
        stats = vocabulary_stats(entities, account, self._langs, self._settings)
        write_bytes(join_path(self._vocab_dir, VOCAB_STATS), _to_json(stats))
        report = vocab_report(account, self._settings, len(entities))
        write_bytes(join_path(self._vocab_dir, VOCAB_REPORT), _to_json(report))
        yield len(entities)


def _to_json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
