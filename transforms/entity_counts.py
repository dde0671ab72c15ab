"""Entities of the vocab stage: link counts per (lang, canonical title) merged through the
interwiki map into one record per Wikidata item, and the vocabulary chosen from them (items
linked in enough distinct languages, the most linked first)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.pvalue import AsDict, TaggedOutput

from schemas.vocab import FIRST_ENTITY_ID
from transforms.vocab_keys import (
    LINKS_BELOW_MIN_LANGUAGES,
    LINKS_BEYOND_VOCAB_SIZE,
    LINKS_IN_VOCAB,
    LINKS_NO_ITEM,
    account,
    qid_number,
)


class EntityRecord(NamedTuple):
    """A Wikidata item with the links that land on it in every language."""

    qid: str
    count: int
    # (lang, title, count), sorted by (lang, title)
    titles: tuple[tuple[str, str, int], ...]

    @property
    def num_languages(self) -> int:
        return len({lang for lang, _, _ in self.titles})


def merge_entity(qid: str, parts: Iterable[tuple[str, str, int]]) -> EntityRecord:
    """Sum the per-(lang, title) link counts of one item."""
    counts: Counter[tuple[str, str]] = Counter()
    for lang, title, count in parts:
        counts[(lang, title)] += count
    titles = tuple((lang, title, count) for (lang, title), count in sorted(counts.items()) if count > 0)
    return EntityRecord(qid, sum(count for _, _, count in titles), titles)


def _merge_with_item(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, title), grouped = element
    stats = list(grouped["links"])
    if not stats:
        return []  # a title with an item that no link reaches
    count, _, anchors = stats[0]
    items = sorted(grouped["item"], key=qid_number)
    if not items:
        return [
            account(lang, "link_targets"),
            account(lang, LINKS_NO_ITEM, count),
            TaggedOutput("mentions", (lang, None, title, anchors)),
        ]
    return [
        account(lang, "link_targets"),
        (items[0], (lang, title, count)),
        TaggedOutput("mentions", (lang, items[0], title, anchors)),
    ]


class MergeByItem(beam.PTransform):
    """Canonical link stats + interwiki -> entity records keyed by qid.

    Outputs a dict: ``entities`` (EntityRecord), ``mentions`` ((lang, qid or None, anchors)) and
    ``account`` (link targets, links without an item).
    """

    def __init__(self, interwiki: beam.PCollection) -> None:
        super().__init__()
        self._interwiki = interwiki

    def expand(self, links: beam.PCollection) -> dict[str, beam.PCollection]:
        joined = (
            {"links": links, "item": self._interwiki}
            | "JoinItems" >> beam.CoGroupByKey()
            | "ToItems" >> beam.FlatMap(_merge_with_item).with_outputs("account", "mentions", main="parts")
        )
        entities = (
            joined["parts"] | "GroupByItem" >> beam.GroupByKey() | "Entity" >> beam.MapTuple(merge_entity)
        )
        return {"entities": entities, "mentions": joined["mentions"], "account": joined["account"]}


def top_key(light: tuple[int, int, str]) -> tuple[int, int]:
    """Key for ``Top``: it keeps the largest, so count up and Q-number down."""
    count, number, _ = light
    return (count, -number)


def _check_languages(record: EntityRecord, min_languages: int) -> Iterator[Any]:
    if record.num_languages >= min_languages:
        yield record
    else:
        for lang, _, count in record.titles:
            yield account(lang, LINKS_BELOW_MIN_LANGUAGES, count)


def _light(record: EntityRecord) -> tuple[int, int, str]:
    return record.count, qid_number(record.qid), record.qid


def _assign_ids(top: Sequence[tuple[int, int, str]]) -> Iterator[tuple[str, int]]:
    # Top returns its elements largest key first: count descending, Q-number ascending.
    for offset, (_, _, qid) in enumerate(top):
        yield qid, FIRST_ENTITY_ID + offset


def _split_by_vocab(record: EntityRecord, vocab: Mapping[str, int]) -> Iterator[Any]:
    entity_id = vocab.get(record.qid)
    fate = LINKS_BEYOND_VOCAB_SIZE if entity_id is None else LINKS_IN_VOCAB
    for lang, _, count in record.titles:
        yield account(lang, fate, count)
    if entity_id is not None:
        yield entity_id, record


class SelectVocabulary(beam.PTransform):
    """Entities -> min-languages filter -> top ``vocab_size`` by (count desc, Q-number asc).

    Outputs a dict: ``ids`` ((qid, entity id), at most vocab_size, used as a side input),
    ``vocab`` ((entity id, EntityRecord)) and ``account``.
    """

    def __init__(self, min_languages: int, vocab_size: int) -> None:
        super().__init__()
        self._min_languages = min_languages
        self._vocab_size = vocab_size

    def expand(self, entities: beam.PCollection) -> dict[str, beam.PCollection]:
        checked = entities | "MinLanguages" >> beam.FlatMap(
            _check_languages, self._min_languages
        ).with_outputs("account", main="candidates")
        candidates = checked["candidates"]
        ids = (
            candidates
            | "Light" >> beam.Map(_light)
            | "Top" >> beam.combiners.Top.Of(self._vocab_size, key=top_key)
            | "AssignIds" >> beam.FlatMap(_assign_ids)
        )
        split = candidates | "InVocab" >> beam.FlatMap(_split_by_vocab, AsDict(ids)).with_outputs(
            "account", main="vocab"
        )
        return {"ids": ids, "vocab": split["vocab"], "account": (checked["account"], split["account"])}
