"""The streaming reader of the Wikidata JSON entity dump."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transforms.sqldump import open_decompressed
from transforms.wikidata import (
    WikidataReadStats,
    entity_json,
    item_sitelinks,
    iter_lines_in_range,
    iter_wikidata_sitelinks,
)

SITES = {"enwiki": "en", "jawiki": "ja", "zh_yuewiki": "zh-yue"}


def _link(site: str, title: str) -> dict[str, Any]:
    return {"site": site, "title": title, "badges": []}


ENTITIES: list[Any] = [
    {"type": "item", "id": "Q64", "labels": {"en": {"language": "en", "value": "Berlin"}},
     "claims": {"P31": [{"id": "Q64$abc", "mainsnak": {"datavalue": {"value": "enwiki"}}}]},
     "sitelinks": {"enwiki": _link("enwiki", "Berlin"), "jawiki": _link("jawiki", "ベルリン"),
                   "dewiki": _link("dewiki", "Berlin"), "commonswiki": _link("commonswiki", "Category:Berlin"),
                   "enwikivoyage": _link("enwikivoyage", "Berlin")}},
    {"type": "property", "id": "P31", "datatype": "wikibase-item", "sitelinks": {"enwiki": _link("enwiki", "X")}},
    {"type": "lexeme", "id": "L7", "lemmas": {"en": {"value": "enwiki"}}},
    {"type": "item", "id": "Q5", "sitelinks": []},
    {"type": "item", "id": "Q6", "labels": {}, "descriptions": {"en": {"value": "mentions enwiki"}}},
    {"id": "Q8", "redirects": {"from": "Q8", "to": "Q64"}, "sitelinks": {"enwiki": _link("enwiki", "Old")}},
    {"type": "item", "id": "Q9", "title": "Q10", "sitelinks": {"enwiki": _link("enwiki", "Followed redirect")}},
    {"type": "item", "sitelinks": {"enwiki": _link("enwiki", "No id")}},
    {"type": "item", "id": "Q11", "sitelinks": {"enwiki": {"site": "enwiki"}, "jawiki": "not a dict",
                                                "zh_yuewiki": _link("zh_yuewiki", "星球大戰")}},
    {"id": "Q12", "sitelinks": {"enwiki": {"title": "No type, no site"}}},
    {"type": "mediainfo", "id": "M3", "sitelinks": {"enwiki": _link("enwiki", "File")}},
]  # fmt: skip


def dump_text(entities: list[Any], broken: str | None = None) -> bytes:
    lines = ["["] + [json.dumps(e, ensure_ascii=False) + "," for e in entities[:-1]]
    lines.append(json.dumps(entities[-1], ensure_ascii=False))
    if broken is not None:
        lines.insert(2, broken)
    lines.append("]")
    return ("\n".join(lines) + "\n").encode()


EXPECTED = [
    ("en", "Berlin", "Q64"),
    ("ja", "ベルリン", "Q64"),
    ("zh-yue", "星球大戰", "Q11"),
    ("en", "No type, no site", "Q12"),
]


def test_entity_json_strips_array_syntax() -> None:
    assert entity_json(b"[\n") is None
    assert entity_json(b"]") is None
    assert entity_json(b"   \n") is None
    assert entity_json(b'{"id":"Q1"},\n') == b'{"id":"Q1"}'
    assert entity_json(b'{"id":"Q1"}\r\n') == b'{"id":"Q1"}'


def test_item_sitelinks_rules() -> None:
    assert item_sitelinks(ENTITIES[0], SITES) == ("Q64", [("en", "Berlin"), ("ja", "ベルリン")])
    assert item_sitelinks(ENTITIES[1], SITES) == "non_item"
    assert item_sitelinks(ENTITIES[3], SITES) == ("Q5", [])
    assert item_sitelinks(ENTITIES[5], SITES) == "redirect"
    assert item_sitelinks(ENTITIES[6], SITES) == "redirect"
    assert item_sitelinks(ENTITIES[7], SITES) == "bad_record"
    assert item_sitelinks(ENTITIES[10], SITES) == "non_item"
    assert item_sitelinks(["not", "a", "dict"], SITES) == "bad_record"


@pytest.mark.parametrize("compress", [bz2.compress, gzip.compress, lambda data: data])
def test_iter_wikidata_sitelinks_on_a_dump(compress: Any) -> None:
    data = dump_text(ENTITIES, broken='{"type":"item","id":"Q99","sitelinks":{"enwiki":{"title":"Cut')
    stats = WikidataReadStats()
    stream = open_decompressed(io.BytesIO(compress(data)))
    found = list(iter_wikidata_sitelinks(stream, ["en", "ja", "zh-yue"], stats))  # type: ignore[arg-type]
    assert found == EXPECTED
    assert stats.lines == len(ENTITIES) + 1
    assert stats.skipped_redirect == 2
    assert stats.skipped_bad_record == 2  # the cut line and the item without id
    assert stats.skipped_non_item == 3  # P31, M3, and L7 (whose lemma mentions "enwiki")
    assert stats.without_requested_sitelinks == 2  # Q5 and Q6, skipped unparsed
    assert stats.items == 3 and stats.sitelinks == 4
    assert stats.per_site == {"en": 2, "ja": 1, "zh-yue": 1}
    buckets = (
        "items",
        "without_requested_sitelinks",
        "skipped_non_item",
        "skipped_redirect",
        "skipped_bad_record",
    )
    assert sum(stats.as_dict()[b] for b in buckets) == stats.lines


def test_only_requested_wikis() -> None:
    found = list(iter_wikidata_sitelinks(dump_text(ENTITIES).splitlines(keepends=True), ["ja"]))
    assert found == [("ja", "ベルリン", "Q64")]


def test_lines_in_range_cover_every_line_once() -> None:
    data = dump_text(ENTITIES)
    for split in (1, 7, 50, 333, len(data)):
        seen: list[bytes] = []
        for start in range(0, len(data), split):
            seen.extend(iter_lines_in_range(io.BytesIO(data), start, min(len(data), start + split)))
        assert b"".join(seen) == data, split
    assert list(iter_lines_in_range(io.BytesIO(data), 0, None)) == data.splitlines(keepends=True)
