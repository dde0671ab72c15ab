"""The mention dictionary of the vocab stage: the anchors of the links to each entity, with
commonness (how often the anchor names this entity), and from the page scan of
:class:`transforms.mentions.CountMentionPages` how often it is a link at all (link_prob)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsDict

from schemas.vocab import hf_entity_key
from transforms.mentions import CountMentionPages

# An entity of a mention: (entity id, Q-id, title in the mention's language); id -1 gathers the
# links to targets outside the vocabulary.
OUTSIDE_VOCAB = (-1, "", "")


def mention_rows(
    lang: str, mention: str, entity_counts: Mapping[tuple[int, str, str], int], min_count: int = 1
) -> list[tuple[str, str, int, str, str, int, int, float]]:
    """Rows of the mention dictionary for one anchor text, without the page counts.

    ``entity_counts`` maps (entity id, Q-id, title) -> links with this anchor; id -1 gathers links
    to targets outside the vocabulary (they count in the denominator of commonness but get no
    row). Two titles of one entity in a language (two pages sharing an item) make one row, named
    by the smaller title. Row: (lang, mention, entity id, "lang:title", Q-id, count,
    mention_count, commonness).
    """
    total = sum(entity_counts.values())
    if total <= 0:
        return []
    per_entity: dict[int, list[Any]] = {}
    for (entity_id, qid, title), n in entity_counts.items():
        if entity_id < 0:
            continue
        entry = per_entity.get(entity_id)
        if entry is None:
            per_entity[entity_id] = [n, qid, title]
        else:
            entry[0] += n
            entry[2] = min(entry[2], title)
    kept = sorted(
        ((eid, entry) for eid, entry in per_entity.items() if entry[0] >= min_count),
        key=lambda item: (-item[1][0], item[0]),
    )
    return [
        (lang, mention, eid, hf_entity_key(lang, title), qid, n, total, n / total)
        for eid, (n, qid, title) in kept
    ]


def with_page_counts(
    rows: Sequence[Sequence[Any]], doc_count: int, link_doc_count: int
) -> list[tuple[Any, ...]]:
    """Mention rows with the mention's doc_count, link_doc_count and link_prob appended."""
    docs = max(doc_count, link_doc_count)
    link_prob = link_doc_count / docs if docs else 0.0
    return [(*row, docs, link_doc_count, link_prob) for row in rows]


def mention_sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    return row[1], -row[5], row[2]


class MergeCounts(beam.CombineFn):
    """Sums {key: count} dictionaries."""

    def create_accumulator(self) -> dict[Any, int]:
        return {}

    def add_input(self, acc: dict[Any, int], value: Mapping[Any, int]) -> dict[Any, int]:
        for key, n in value.items():
            acc[key] = acc.get(key, 0) + n
        return acc

    def merge_accumulators(self, accumulators: Iterable[dict[Any, int]]) -> dict[Any, int]:
        merged: dict[Any, int] = {}
        for acc in accumulators:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, acc: dict[Any, int]) -> dict[Any, int]:
        return acc


def _mention_counts(
    element: tuple[str, str | None, str, Mapping[str, int]], vocab: Mapping[str, int]
) -> Iterator[tuple[tuple[str, str], dict[tuple[int, str, str], int]]]:
    lang, qid, title, anchors = element
    entity_id = vocab.get(qid, -1) if qid is not None else -1
    entity = (entity_id, qid or "", title) if entity_id >= 0 else OUTSIDE_VOCAB
    for anchor, n in anchors.items():
        yield (lang, anchor), {entity: n}


def _mention_rows(
    element: tuple[tuple[str, str], Mapping[tuple[int, str, str], int]], min_count: int
) -> Iterator[Any]:
    (lang, mention), counts = element
    rows = mention_rows(lang, mention, counts, min_count)
    if rows:
        yield (lang, mention), rows


def _with_page_counts(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    _, grouped = element
    rows = [row for part in grouped["rows"] for row in part]
    docs = sorted(grouped["docs"])
    doc_count, link_doc_count = docs[0] if docs else (0, 0)
    return with_page_counts(rows, doc_count, link_doc_count)


class MentionDictionary(beam.PTransform):
    """(lang, qid or None, title, anchors) -> ``rows`` of MENTIONS_SCHEMA, and ``account``.

    Anchors are counted per entity (commonness); then every mention that has a row is looked for
    in the page text of its language (:class:`transforms.mentions.CountMentionPages`) for
    doc_count, link_doc_count and link_prob.
    """

    def __init__(
        self, ids: beam.PCollection, min_count: int, page_files: Sequence[str], max_matcher_mentions: int
    ) -> None:
        super().__init__()
        self._ids = ids
        self._min_count = min_count
        self._page_files = page_files
        self._max_matcher_mentions = max_matcher_mentions

    def expand(self, sources: beam.PCollection) -> dict[str, beam.PCollection]:
        per_mention = (
            sources
            | "ToEntities" >> beam.FlatMap(_mention_counts, AsDict(self._ids))
            | "PerMention" >> beam.CombinePerKey(MergeCounts())
            | "Rows" >> beam.FlatMap(_mention_rows, self._min_count)
        )
        pages = (
            per_mention
            | "Keys" >> beam.Keys()
            | "CountPages" >> CountMentionPages(self._page_files, self._max_matcher_mentions)
        )
        rows = (
            {"rows": per_mention, "docs": pages["counts"]}
            | "JoinPageCounts" >> beam.CoGroupByKey()
            | "WithPageCounts" >> beam.FlatMap(_with_page_counts)
        )
        return {"rows": rows, "account": pages["account"]}
