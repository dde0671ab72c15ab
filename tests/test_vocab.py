"""The vocab stage: pure functions, and the Beam pipeline on a hand-made multilingual work directory.

The work directory mimics what the extract stage writes (pages and redirects Parquet with targets
normalized by ``transforms.titles``) plus the three interwiki sources for the same entities: a
``page_props.sql.gz`` per wiki, a Wikidata JSON dump and ``wb_items_per_site.sql.gz``. Expected
counts are computed in this file from the fixture's own records, not with the stage's code.
"""

from __future__ import annotations

import bz2
import gzip
import json
import pickle
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.mentions import normalize_mention
from schemas.pages import PAGE_SCHEMA, REDIRECT_SCHEMA, shard_name
from schemas.vocab import FIRST_ENTITY_ID, SPECIAL_ENTITIES
from schemas.vocab_tables import ENTITIES_SCHEMA, MENTIONS_SCHEMA, TITLES_SCHEMA
from transforms.entity_counts import EntityRecord, SelectVocabulary, merge_entity
from transforms.link_counts import page_batch_links
from transforms.mention_dictionary import mention_rows, with_page_counts
from transforms.redirects import ResolveRedirects
from transforms.titles import SiteInfo, normalize_title
from transforms.vocab_keys import LINK_FATES, canonical_title
from transforms.vocab_writers import count_by_rank, hf_entity_vocab, luke_jsonl

DATE = "20260101"
LANGS = ("ar", "de", "en", "fr", "ja")

# Articles per language: (page id, title, Q-id or None, paragraphs in [[target|anchor]] markup).
ARTICLES: dict[str, list[tuple[int, str, str | None, list[str]]]] = {
    "en": [
        (10, "Berlin", "Q64", [
            "Berlin is the capital of [[Germany]]. It is twinned with [[Paris]] and [[Tokyo]].",
            "Its airport has flights to [[Paris (France)|the French capital]] and [[Japan]].",
        ]),
        (11, "Germany", "Q183", [
            "Germany borders [[France]]. Its capital is [[Berlin]].",
            "Before 1990 the [[FRG|Federal Republic]] and the GDR were separate states.",
        ]),
        (12, "France", "Q142", ["The capital of France is [[Paris#History|Paris]]. It borders [[germany]]."]),
        (13, "Paris", "Q90", [
            "Flights go to [[Tokyo]] and [[Berlin]]. The film [[Star Wars: A New Hope]] opened here.",
            "Paris is the largest city of [[France]].",
        ]),
        (14, "Japan", "Q17", ["Japan's capital is [[Tokyo]]. The [[iPhone]] is popular in [[Japan]]."]),
        (15, "Tokyo", "Q1490", [
            "Tokyo is the capital of [[Japan]]. See also [[Loop A]], [[Self]] and [[C1|a long chain]].",
        ]),
        (16, "Star Wars: A New Hope", "Q17738", [
            "A film shot partly in [[Tunisia]] and shown in [[Berlin]], [[Paris]] and [[Tokyo]].",
        ]),
        (17, "IPhone", "Q2766", [
            "The iPhone is sold in [[Federal_Republic_of_Germany|Germany]], [[France]] and [[Japan]].",
        ]),
        (18, "Earth", "Q2", ["[[Earth]] is home to [[Germany]] and a [[Sandbox]]."]),
        (19, "Sandbox", None, ["A page about nothing that links to [[Earth]] and [[Germany]]."]),
    ],
    "de": [
        (20, "Berlin", "Q64", ["Berlin ist die Hauptstadt von [[Deutschland]]. Partnerstadt ist [[Paris]]."]),
        (21, "Deutschland", "Q183", [
            "Die Hauptstadt ist [[Berlin]]. Nachbar ist [[Frankreich]]. Siehe auch [[BRD]].",
        ]),
        (22, "Frankreich", "Q142", [
            "Hauptstadt: [[Paris]]. Nachbar: [[Bundesrepublik Deutschland|Deutschland]].",
        ]),
        (23, "Paris", "Q90", ["[[Paris]] liegt an der Seine. Flüge nach [[Tokio]]."]),
        (24, "Japan", "Q17", ["Hauptstadt: [[Tokio]]. Das [[iPhone]] ist beliebt."]),
        (25, "Tokio", "Q1490", ["Tokio ist die Hauptstadt von [[Japan]]."]),
        (26, "IPhone", "Q2766", ["Verkauft in [[Japan]] und [[Deutschland]]."]),
        (27, "Erde", "Q2", ["Die [[Erde]] trägt [[Deutschland]]."]),
        (28, "Krieg der Sterne", "Q17738", ["Ein Film, gezeigt in [[Berlin]]."]),
    ],
    "ja": [
        (30, "ベルリン", "Q64", ["ベルリンは[[ドイツ]]の首都である。[[パリ]]と姉妹都市。"]),
        (31, "ドイツ", "Q183", ["首都は[[ベルリン]]。"]),
        (32, "日本", "Q17", ["首都は[[東京]]。[[iPhone]]が人気。"]),
        (33, "東京都", "Q1490", ["[[日本国|日本]]の首都。[[スター・ウォーズ エピソード4/新たなる希望]]が上映された。"]),
        (34, "パリ", "Q90", ["[[フランス]]の首都。"]),
        (35, "フランス", "Q142", ["首都は[[パリ]]。"]),
        (36, "スター・ウォーズ エピソード4/新たなる希望", "Q17738", ["[[東京都]]で公開。"]),
        (37, "IPhone", "Q2766", ["[[日本]]で人気。"]),
    ],
    "fr": [
        (40, "Paris", "Q90", ["Paris est la capitale de la [[France]]. Jumelée avec [[Berlin]]."]),
        (41, "France", "Q142", ["Sa capitale est [[Paname|Paris]]. Voisine de l'[[Allemagne]]."]),
        (42, "Allemagne", "Q183", ["Capitale : [[Berlin]]. Voisine de la [[France]]."]),
        (43, "Berlin", "Q64", ["Capitale de l'[[Allemagne]]. Voir [[Histoire de Paris]]."]),
        (44, "Japon", "Q17", ["Capitale : [[Tokyo]]. Film : [[Star Wars, épisode IV : Un nouvel espoir]]."]),
        (45, "Tokyo", "Q1490", ["Capitale du [[Japon]]. L'[[iPhone]] y est populaire."]),
        (46, "Star Wars, épisode IV : Un nouvel espoir", "Q17738", ["Tourné en [[Tunisie]]."]),
        (47, "IPhone", "Q2766", ["Vendu au [[Japon]]."]),
    ],
    "ar": [
        (50, "برلين", "Q64", ["برلين عاصمة [[ألمانيا]]."]),
        (51, "ألمانيا", "Q183", ["عاصمتها [[برلين]]. انظر [[جمهورية ألمانيا الاتحادية]]."]),
        (52, "باريس", "Q90", ["عاصمة [[فرنسا]]."]),
        (53, "فرنسا", "Q142", ["عاصمتها [[باريس]]."]),
    ],
}  # fmt: skip

# Redirects: (page id, title, target) with targets as the extract stage writes them (fragment dropped).
REDIRECTS: dict[str, list[tuple[int, str, str]]] = {
    "en": [
        (100, "FRG", "Federal Republic of Germany"),
        (101, "Federal Republic of Germany", "Germany"),
        (102, "Loop A", "Loop B"),
        (103, "Loop B", "Loop A"),
        (104, "Self", "Self"),
        *[(105 + i, f"C{i + 1}", f"C{i + 2}") for i in range(6)],
        (111, "C7", "Berlin"),
        (112, "Paris (France)", "Paris"),
    ],
    "de": [(200, "BRD", "Bundesrepublik Deutschland"), (201, "Bundesrepublik Deutschland", "Deutschland")],
    "ja": [(300, "東京", "東京都"), (301, "日本国", "日本")],
    "fr": [(400, "Paname", "Paris"), (401, "Ville Lumière", "Paname"), (402, "Histoire de Paris", "Paris")],
    "ar": [(500, "جمهورية ألمانيا الاتحادية", "ألمانيا")],
}
# An item sitelinked to a redirect title (allowed on Wikidata): every source must ignore it for
# links, which take their target's item.
REDIRECT_SITELINK = ("en", 101, "Federal Republic of Germany", "Q713750")
MAX_HOPS = 5

_LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")


def render(markup: str, lang: str) -> dict[str, Any]:
    """``"a [[B|c]] d"`` -> paragraph with text "a c d" and the link normalized as extract does."""
    site = SiteInfo.build(lang)
    text, links, pos = "", [], 0
    for match in _LINK.finditer(markup):
        text += markup[pos : match.start()]
        raw_target, anchor = match.group(1), match.group(2) or match.group(1)
        target = normalize_title(raw_target, site)
        assert target is not None, raw_target
        links.append({"start": len(text), "end": len(text) + len(anchor), "target": target})
        text += anchor
        pos = match.end()
    text += markup[pos:]
    return {"text": text, "is_lead": True, "links": links}


def page_records(lang: str) -> list[dict[str, Any]]:
    return [
        {
            "lang": lang,
            "page_id": page_id,
            "revision_id": page_id * 10,
            "title": title,
            "namespace": 0,
            "is_disambiguation": False,
            "categories": [],
            "paragraphs": [render(p, lang) for p in paragraphs],
        }
        for page_id, title, _, paragraphs in ARTICLES[lang]
    ]


def redirect_records(lang: str) -> list[dict[str, Any]]:
    return [
        {"lang": lang, "page_id": page_id, "title": title, "target": target}
        for page_id, title, target in REDIRECTS.get(lang, [])
    ]


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


NASTY_SUFFIX = "\nit's a \\ (test), 'quoted' \U0001f600"


def page_props_sql(lang: str) -> bytes:
    rows = []
    for page_id, title, qid, _ in ARTICLES[lang]:
        rows.append(f"({page_id},'defaultsort',{_sql_string(title + ', the')},NULL)")
        if qid:
            rows.append(f"({page_id},'wikibase_item','{qid}',NULL)")
        shortdesc = _sql_string(title + NASTY_SUFFIX)
        rows.append(f"({page_id},'wikibase-shortdesc',{shortdesc},NULL)")
    if lang == REDIRECT_SITELINK[0]:
        rows.append(f"({REDIRECT_SITELINK[1]},'wikibase_item','{REDIRECT_SITELINK[3]}',NULL)")
    rows.append("(99999,'wikibase_item','Q4167836',NULL)")  # a category page: not extracted
    half = len(rows) // 2
    header = (
        "-- MySQL dump 10.19\n/*!40101 SET NAMES binary */;\nDROP TABLE IF EXISTS `page_props`;\n"
        "CREATE TABLE `page_props` (\n  `pp_page` int(10) unsigned NOT NULL,\n"
        "  `pp_propname` varbinary(60) NOT NULL\n) ENGINE=InnoDB;\n"
        "/*!40000 ALTER TABLE `page_props` DISABLE KEYS */;\n"
    )
    inserts = "".join(
        f"INSERT INTO `page_props` VALUES {','.join(part)};\n" for part in (rows[:half], rows[half:])
    )
    return (header + inserts + "/*!40000 ALTER TABLE `page_props` ENABLE KEYS */;\n").encode()


def sitelinks() -> list[tuple[str, str, str]]:
    """(lang, title, qid) of every article with an item, plus the sitelink to a redirect."""
    out = [(lang, title, qid) for lang in LANGS for _, title, qid, _ in ARTICLES[lang] if qid]
    out.append((REDIRECT_SITELINK[0], REDIRECT_SITELINK[2], REDIRECT_SITELINK[3]))
    return out


def wikidata_json_lines() -> list[str]:
    by_item: dict[str, dict[str, Any]] = {}
    for lang, title, qid in sitelinks():
        site = f"{lang}wiki"
        by_item.setdefault(qid, {})[site] = {"site": site, "title": title, "badges": []}
    entities: list[dict[str, Any]] = [
        {"type": "property", "id": "P31", "labels": {"en": {"language": "en", "value": "instance of"}}},
        {"type": "lexeme", "id": "L7", "lemmas": {}},
        {"type": "item", "id": "Q5", "sitelinks": []},  # PHP's empty map
        {"type": "item", "id": "Q6"},  # no sitelinks at all
        {"id": "Q8", "redirects": {"from": "Q8", "to": "Q64"}, "sitelinks": {"enwiki": {"title": "Berlin"}}},
        {"type": "item", "id": "Q111", "sitelinks": {"commonswiki": {"site": "commonswiki", "title": "Category:Berlin"},
                                                     "enwikiquote": {"site": "enwikiquote", "title": "Berlin"}}},
    ]  # fmt: skip
    for qid in sorted(by_item, key=lambda q: int(q[1:])):
        links = dict(by_item[qid])
        links["commonswiki"] = {"site": "commonswiki", "title": f"Category:{qid}", "badges": []}
        links["specieswiki"] = {"site": "specieswiki", "title": qid, "badges": []}
        entities.append(
            {"type": "item", "id": qid, "labels": {"en": {"language": "en", "value": qid}},
             "claims": {"P31": [{"id": f"{qid}$1", "mainsnak": {"snaktype": "value"}}]}, "sitelinks": links}
        )  # fmt: skip
    lines = ["["]
    lines += [json.dumps(e, ensure_ascii=False) + "," for e in entities[:-1]]
    lines.insert(3, '{"type":"item","id":"Q9","sitelinks":{"enwiki":{"title":"Broken,')  # cut off
    lines += [json.dumps(entities[-1], ensure_ascii=False), "]"]
    return lines


def items_per_site_sql() -> bytes:
    rows = []
    for row_id, (lang, title, qid) in enumerate(sitelinks(), start=1):
        rows.append(f"({row_id},{qid[1:]},'{lang}wiki',{_sql_string(title)})")
    rows.append(f"({len(rows) + 1},64,'commonswiki','Category:Berlin')")
    rows.append(f"({len(rows) + 1},64,'dewikivoyage','Berlin')")
    return (
        "CREATE TABLE `wb_items_per_site` (`ips_row_id` bigint);\n"
        f"INSERT INTO `wb_items_per_site` VALUES {','.join(rows)};\n"
    ).encode()


def write_parquet_shards(
    records: list[dict[str, Any]], schema: pa.Schema, folder: Path, lang: str, n: int
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        part = records[index::n]
        table = pa.Table.from_pylist(part, schema=schema)
        pq.write_table(table, folder / shard_name(lang, index, n), row_group_size=3)


def write_workdir(root: Path) -> dict[str, Path]:
    """The hand-made work directory; returns the paths of the alternative interwiki sources."""
    for lang in LANGS:
        records = page_records(lang)
        if lang == "en":
            # A category page that slipped into the pages: not an article, its links do not count
            # and its item (page_props row 99999) is not an article's.
            records.append(dict(records[0], page_id=99999, title="Cities in Germany", namespace=14,
                                paragraphs=[render("[[Berlin]], [[Berlin]] and [[Germany]].", "en")]))  # fmt: skip
        write_parquet_shards(records, PAGE_SCHEMA, root / "pages" / lang, lang, 2)
        write_parquet_shards(redirect_records(lang), REDIRECT_SCHEMA, root / "redirects" / lang, lang, 1)
        dump = root / "dumps" / f"{lang}wiki" / DATE
        dump.mkdir(parents=True, exist_ok=True)
        (dump / f"{lang}wiki-{DATE}-page_props.sql.gz").write_bytes(gzip.compress(page_props_sql(lang)))
    sources = root / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    wikidata = sources / "latest-all.json.bz2"
    wikidata.write_bytes(bz2.compress(("\n".join(wikidata_json_lines()) + "\n").encode()))
    items = sources / f"wikidatawiki-{DATE}-wb_items_per_site.sql.gz"
    items.write_bytes(gzip.compress(items_per_site_sql()))
    return {"wikidata-json": wikidata, "items-per-site": items}


# ---------------------------------------------------------------------------------------------
# The expected vocabulary, computed independently from the fixture records
# ---------------------------------------------------------------------------------------------


def expected_link_counts() -> dict[str, Counter[str]]:
    """(lang -> target -> links), as written in the markup after extract's normalization."""
    out: dict[str, Counter[str]] = {}
    for lang in LANGS:
        counts: Counter[str] = Counter()
        for record in page_records(lang):
            for paragraph in record["paragraphs"]:
                counts.update(link["target"] for link in paragraph["links"])
        out[lang] = counts
    return out


def follow(lang: str, title: str) -> tuple[str | None, str]:
    redirects = {t: target for _, t, target in REDIRECTS.get(lang, [])}
    seen = [title]
    current = title
    while current in redirects:
        current = redirects[current]
        if current in seen:
            return None, "loop"
        seen.append(current)
        if len(seen) - 1 > MAX_HOPS:
            return None, "too_long"
    return current, "ok" if len(seen) > 1 else "direct"


def expected_entities() -> dict[str, dict[str, Any]]:
    """qid -> {"count": total, "titles": {(lang, title): count}}; plus fates per language."""
    item_of = {(lang, title): qid for lang in LANGS for _, title, qid, _ in ARTICLES[lang] if qid}
    out: dict[str, dict[str, Any]] = {}
    for lang, counts in expected_link_counts().items():
        for target, n in counts.items():
            final, _ = follow(lang, target)
            if final is None or (lang, final) not in item_of:
                continue
            entry = out.setdefault(item_of[(lang, final)], {"count": 0, "titles": Counter()})
            entry["count"] += n
            entry["titles"][(lang, final)] += n
    return out


def expected_vocab(min_languages: int = 3, vocab_size: int = 1000) -> list[tuple[str, int]]:
    rows = [
        (qid, data["count"])
        for qid, data in expected_entities().items()
        if len({lang for lang, _ in data["titles"]}) >= min_languages
    ]
    rows.sort(key=lambda row: (-row[1], int(row[0][1:])))
    return rows[:vocab_size]


# ---------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------


def test_fixture_is_what_the_tests_think_it_is() -> None:
    counts = expected_link_counts()
    # extract-style normalization: lower-case first letter, fragment dropped, '_' -> ' '
    assert counts["en"]["IPhone"] == 1 and "iPhone" not in counts["en"]
    assert counts["en"]["Paris"] == 3  # [[Paris#History|Paris]] counts as Paris
    assert counts["en"]["Federal Republic of Germany"] == 1
    assert counts["en"]["Star Wars: A New Hope"] == 1  # ':' but not a namespace
    assert follow("en", "C1") == (None, "too_long")
    assert follow("en", "Loop A") == (None, "loop")
    assert follow("en", "FRG") == ("Germany", "ok")


def test_canonical_title_is_idempotent_on_extract_titles() -> None:
    site = SiteInfo.build("en")
    for raw in ["iPhone", "Star_Wars:_A New Hope", "  Paris  ", "ß-Bahn", "東京都", "Paris#History"]:
        normalized = normalize_title(raw, site)
        assert normalized is not None
        assert canonical_title(normalized) == normalized
    assert canonical_title("federal_Republic  of\u00a0Germany") == "Federal Republic of Germany"
    assert canonical_title("ß") == "ß"  # upper-casing would change the length


def test_normalize_mention() -> None:
    assert normalize_mention("  The  Federal\nRepublic ") == "the federal republic"
    assert normalize_mention("ＩＰｈｏｎｅ") == "iphone"  # full-width folded by NFKC
    assert normalize_mention("東京") == "東京"
    assert normalize_mention(" \u200b ") == ""


def run_transforms(
    tmp_path: Path, steps: dict[str, tuple[list[Any], beam.PTransform, str]]
) -> dict[str, list[Any]]:
    """Apply each step (elements, transform, output of its dict) in one pipeline on the FnApiRunner;
    its output, sorted, by step name."""
    kept = tmp_path / "outputs"
    kept.mkdir()

    def keeper(name: str) -> Any:
        def keep(actual: list[Any]) -> None:
            (kept / name).write_bytes(pickle.dumps(sorted(actual, key=repr)))

        return keep

    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        for name, (elements, transform, output) in steps.items():
            result = pipeline | f"Create{name}" >> beam.Create(elements) | name >> transform
            assert_that(result[output], keeper(name), label=f"Keep{name}")
    return {name: pickle.loads((kept / name).read_bytes()) for name in steps}


def test_resolve_redirects(tmp_path: Path) -> None:
    edges = {("en", title): target for _, title, target in REDIRECTS["en"]}
    edges[("de", "A")] = "B"
    # a chain that walks into a loop is a loop
    into_loop = {("en", "X"): "Loop A", ("en", "Loop A"): "Loop B", ("en", "Loop B"): "Loop A"}
    out = run_transforms(
        tmp_path,
        {
            "Fixture": (sorted(edges.items()), ResolveRedirects(max_hops=5), "resolution"),
            "IntoLoop": (sorted(into_loop.items()), ResolveRedirects(), "resolution"),
        },
    )
    resolved = dict(out["Fixture"])
    assert resolved.keys() == edges.keys()
    assert resolved[("en", "FRG")] == ("Germany", "ok", 2)
    assert resolved[("en", "Federal Republic of Germany")] == ("Germany", "ok", 1)
    assert resolved[("en", "Loop A")][1] == "loop"
    assert resolved[("en", "Loop B")][1] == "loop"
    assert resolved[("en", "Self")] == (None, "loop", 0)
    assert resolved[("en", "C1")][1] == "too_long"
    assert resolved[("en", "C3")] == ("Berlin", "ok", 5)  # C3..C7 -> Berlin: exactly 5 hops
    assert resolved[("en", "C2")][1] == "too_long"
    assert resolved[("de", "A")] == ("B", "ok", 1)  # languages never mix
    assert dict(out["IntoLoop"])[("en", "X")][1] == "loop"


def test_language_tables_are_the_same_with_parts_inline_or_in_files(tmp_path: Path) -> None:
    from transforms.mention_dictionary import mention_sort_key
    from transforms.redirects import title_sort_key
    from transforms.vocab_writers import LanguageTable, WriteLanguageTables

    mentions = [
        ("en", f"mention {i % 97}", i, f"en:Title {i}", f"Q{i}", 100 - i % 7, 200, 0.5, 300, 20, 0.1)
        for i in range(2000)
    ] + [("ja", "東京", 7, "ja:東京", "Q7", 3, 4, 0.75, 10, 4, 0.4)]
    titles = [("en", f"Title {i}", i, i % 3 == 0) for i in range(300)]
    specs = {
        "mentions": LanguageTable(MENTIONS_SCHEMA, mention_sort_key, "mention"),
        "titles": LanguageTable(TITLES_SCHEMA, title_sort_key, "title"),
    }
    written = {}
    for name, inline_bytes in (("inline", 1 << 30), ("files", 0)):
        with beam.Pipeline(runner=FnApiRunner()) as pipeline:
            rows = {
                "mentions": pipeline | f"Mentions{name}" >> beam.Create(mentions),
                "titles": pipeline | f"Titles{name}" >> beam.Create(titles),
            }
            counts = rows | f"Write{name}" >> WriteLanguageTables(
                str(tmp_path / name), str(tmp_path / f"tmp-{name}"), specs, ["de", "en", "ja"],
                buckets=4, inline_bytes=inline_bytes,
            )  # fmt: skip
            expected = [(("de", "mention_rows"), 0), (("en", "mention_rows"), 2000), (("ja", "mention_rows"), 1),
                        (("de", "title_rows"), 0), (("en", "title_rows"), 300), (("ja", "title_rows"), 0)]  # fmt: skip
            assert_that(counts, equal_to(expected))
        written[name] = {
            str(path.relative_to(tmp_path / name)): path.read_bytes() for path in sorted((tmp_path / name).rglob("*.parquet"))
        }  # fmt: skip
    assert sorted(written["inline"]) == [
        f"{folder}/{lang}.parquet" for folder in specs for lang in ("de", "en", "ja")
    ]
    assert written["inline"] == written["files"]
    assert not (tmp_path / "tmp-inline").exists()  # nothing went through temporary files
    # 4 en buckets + 1 ja bucket of mentions, 4 en buckets of titles
    assert len(list((tmp_path / "tmp-files").rglob("part-*.parquet"))) == 9
    english = pq.ParquetFile(tmp_path / "inline" / "mentions" / "en.parquet")
    assert english.num_row_groups == 4 and english.metadata.num_rows == 2000
    assert pq.read_table(tmp_path / "inline" / "mentions" / "de.parquet").num_rows == 0


def _record(qid: str, *titles: tuple[str, str, int]) -> EntityRecord:
    return merge_entity(qid, titles)


def test_merge_entity_and_select_vocabulary(tmp_path: Path) -> None:
    a = _record("Q10", ("en", "A", 5), ("de", "A", 3), ("ja", "エー", 2))
    b = _record("Q2", ("en", "B", 4), ("en", "B2", 1), ("de", "B", 5), ("fr", "B", 0))
    tie = _record("Q9", ("en", "T", 4), ("de", "T", 3), ("fr", "T", 3))
    two_langs = _record("Q1", ("en", "C", 100), ("en", "C (band)", 50), ("de", "C", 100))
    assert b.count == 10 and b.num_languages == 2  # the zero-count fr title is not a language
    assert two_langs.num_languages == 2  # two titles in one language count once
    assert [t[:2] for t in a.titles] == [("de", "A"), ("en", "A"), ("ja", "エー")]

    records = [a, b, tie, two_langs]
    out = run_transforms(
        tmp_path,
        {
            "Three": (records, SelectVocabulary(min_languages=3, vocab_size=10), "vocab"),
            "Two": (records, SelectVocabulary(2, 10), "vocab"),
            "TwoTop2": (records, SelectVocabulary(2, 2), "vocab"),
            "None": ([a], SelectVocabulary(4, 10), "vocab"),
        },
    )
    assert [(i, r.qid) for i, r in sorted(out["Three"])] == [(4, "Q9"), (5, "Q10")]  # 10 == 10: Q9 first
    assert [r.qid for _, r in sorted(out["Two"])] == ["Q1", "Q2", "Q9", "Q10"]
    assert [r.qid for _, r in sorted(out["TwoTop2"])] == ["Q1", "Q2"]
    assert out["None"] == []


def test_mention_rows_commonness() -> None:
    outside = (-1, "", "")
    counts = {(7, "Q90", "Paris"): 6, (9, "Q1", "Paris (band)"): 2, outside: 2, (11, "Q2", "P"): 1}
    rows = mention_rows("en", "paris", counts, min_count=1)
    assert [(r[2], r[5], r[6]) for r in rows] == [(7, 6, 11), (9, 2, 11), (11, 1, 11)]
    assert rows[0][3:5] == ("en:Paris", "Q90")  # lang:title and Q-id next to the entity id
    assert rows[0][7] == pytest.approx(6 / 11)
    assert sum(r[7] for r in rows) < 1  # links to non-vocab targets keep their share
    pruned = mention_rows("en", "paris", counts, min_count=2)
    assert [r[2] for r in pruned] == [7, 9]
    assert pruned[0][7] == pytest.approx(6 / 11)  # pruning does not change the denominator
    assert mention_rows("en", "x", {outside: 3}) == []
    # two pages of one item in a language: one row, named by the smaller title
    merged = mention_rows("en", "x", {(7, "Q90", "Paris"): 1, (7, "Q90", "Paname"): 2})
    assert [(r[2], r[3], r[5]) for r in merged] == [(7, "en:Paname", 3)]
    full = with_page_counts(rows, doc_count=40, link_doc_count=10)
    assert [r[8:] for r in full] == [(40, 10, 0.25)] * 3 and full[0][:8] == rows[0]
    assert with_page_counts(rows[:1], 0, 2)[0][8:] == (2, 2, 1.0)  # a link is an occurrence


def test_page_batch_links_counts_targets_and_anchors() -> None:
    records = page_records("en") + page_records("fr")
    batch = page_batch_links(pa.Table.from_pylist(records, schema=PAGE_SCHEMA), with_titles=True)
    counts = expected_link_counts()
    assert batch.link_totals == {"en": sum(counts["en"].values()), "fr": sum(counts["fr"].values())}
    assert batch.pages == {"en": len(ARTICLES["en"]), "fr": len(ARTICLES["fr"])}
    count, anchors = batch.links[("en", "Paris")]
    assert count == 3 and anchors == {"paris": 3}
    assert batch.links[("en", "Paris (France)")] == [1, {"the french capital": 1}]
    assert batch.links[("en", "IPhone")] == [1, {"iphone": 1}]
    assert batch.links[("fr", "Paname")] == [1, {"paris": 1}]
    assert ("en", 16, "Star Wars: A New Hope") in batch.page_titles
    empty = page_batch_links(PAGE_SCHEMA.empty_table())
    assert not empty.links and not empty.link_totals


def test_count_by_rank() -> None:
    assert count_by_rank([9, 8, 7]) == [[1, 9], [2, 8], [3, 7]]
    curve = count_by_rank(list(range(120, 0, -1)))
    assert [rank for rank, _ in curve] == [1, 2, 5, 10, 20, 50, 100, 120]
    assert curve[-1] == [120, 1]
    assert count_by_rank([]) == []


def test_luke_and_hf_formats() -> None:
    entities = [(4, _record("Q64", ("en", "Berlin", 3), ("ja", "ベルリン", 2)))]
    lines = [json.loads(line) for line in luke_jsonl(entities, ["ja", "en"]).splitlines()]
    assert lines[0] == {"id": 0, "entities": [["[PAD]", "en"], ["[PAD]", "ja"]], "count": 0}
    assert [line["id"] for line in lines] == [0, 1, 2, 3, 4]
    assert lines[4] == {"id": 4, "entities": [["Berlin", "en"], ["ベルリン", "ja"]], "count": 5}
    hf = json.loads(hf_entity_vocab(entities))
    assert hf == {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3, "en:Berlin": 4, "ja:ベルリン": 4}
    assert list(hf)[:4] == list(SPECIAL_ENTITIES)


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


def _snapshot(vocab_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(vocab_dir)): p.read_bytes()
        for p in sorted(vocab_dir.rglob("*"))
        if p.is_file() and ".tmp" not in p.parts
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One work directory, built with each interwiki source, once with 2 workers, twice for determinism."""
    from pipeline.vocab import run_vocab_build

    root = tmp_path_factory.mktemp("vocab")
    sources = write_workdir(root)
    out: dict[str, Any] = {"root": root, "reports": {}, "snapshots": {}}
    runs = [
        ("page-props", "page-props", 1),
        ("page-props-again", "page-props", 1),
        ("page-props-2-workers", "page-props", 2),
        ("wikidata-json", f"wikidata-json={sources['wikidata-json']}", 1),
        ("items-per-site", f"items-per-site={sources['items-per-site']}", 1),
    ]
    for name, interwiki, workers in runs:
        out["reports"][name] = run_vocab_build(str(root), interwiki=interwiki, workers=workers)
        out["snapshots"][name] = _snapshot(root / "vocab")
    # leave the page-props build in place for the tests that read files
    run_vocab_build(str(root), interwiki="page-props", workers=1)
    return out


def _entities(root: Path) -> list[dict[str, Any]]:
    table = pq.read_table(root / "vocab" / "entities.parquet")
    assert table.schema.equals(ENTITIES_SCHEMA)
    return table.to_pylist()


def test_pipeline_entities_languages_and_counts(built: dict[str, Any]) -> None:
    rows = _entities(built["root"])
    expected = expected_vocab()
    assert [(row["wikidata_id"], row["count"]) for row in rows] == expected
    assert [row["id"] for row in rows] == list(range(FIRST_ENTITY_ID, FIRST_ENTITY_ID + len(expected)))
    truth = expected_entities()
    for row in rows:
        titles = {(t["lang"], t["title"]): t["count"] for t in row["titles"]}
        assert titles == dict(truth[row["wikidata_id"]]["titles"])
        assert row["num_languages"] == len({lang for lang, _ in titles})
    by_qid = {row["wikidata_id"]: row for row in rows}
    germany = {(t["lang"], t["title"]) for t in by_qid["Q183"]["titles"]}
    assert germany == {
        ("ar", "ألمانيا"),
        ("de", "Deutschland"),
        ("en", "Germany"),
        ("fr", "Allemagne"),
        ("ja", "ドイツ"),
    }
    assert "Q2" not in by_qid  # Earth: linked in en and de only
    assert "Q713750" not in by_qid  # the item on a redirect title never collects links


def test_pipeline_report_accounts_for_every_link(built: dict[str, Any]) -> None:
    report = built["reports"]["page-props"]
    counts = expected_link_counts()
    for lang in LANGS:
        row = report["languages"][lang]
        assert row["links"] == sum(counts[lang].values())
        assert sum(row.get(key, 0) for key in LINK_FATES) == row["links"], lang
        assert (
            row["links_resolved_direct"]
            + row.get("links_resolved_via_redirect", 0)
            + row.get("links_redirect_loop", 0)
            + row.get("links_redirect_too_long", 0)
            == row["links"]
        )
        assert row["pages"] == len(ARTICLES[lang])
    en = report["languages"]["en"]
    assert en["links_redirect_loop"] == 2  # [[Loop A]], [[Self]]
    assert en["links_redirect_too_long"] == 1  # [[C1]]
    assert en["links_no_item"] == 2  # [[Tunisia]] (red link), [[Sandbox]] (no item)
    assert en["links_below_min_languages"] == 2  # Earth
    assert en["links_resolved_via_redirect"] == 3  # Paris (France), FRG, Federal_Republic_of_Germany
    assert en["redirects_in_loop"] == 3 and en["redirects_too_long"] == 2 and en["redirects_multi_hop"] >= 1
    assert en["page_props_on_redirects"] == 1 and en["page_props_without_page"] == 1
    assert report["languages"]["fr"]["links_resolved_via_redirect"] == 2  # Paname, Histoire de Paris
    assert report["totals"]["links_in_vocab"] == sum(count for _, count in expected_vocab())


def test_pipeline_vocab_files(built: dict[str, Any]) -> None:
    vocab = built["root"] / "vocab"
    lines = [json.loads(line) for line in (vocab / "entity_vocab.jsonl").read_text().splitlines()]
    assert [line["entities"][0][0] for line in lines[:4]] == list(SPECIAL_ENTITIES)
    assert {lang for _, lang in lines[0]["entities"]} == set(LANGS)
    expected = expected_vocab()
    assert [(line["id"], line["count"]) for line in lines[4:]] == [
        (FIRST_ENTITY_ID + i, count) for i, (_, count) in enumerate(expected)
    ]
    hf = json.loads((vocab / "entity_vocab.json").read_text())
    assert [hf[s] for s in SPECIAL_ENTITIES] == [0, 1, 2, 3]
    assert hf["en:Berlin"] == hf["ja:ベルリン"] == hf["ar:برلين"] == hf["fr:Berlin"]
    assert hf["en:Star Wars: A New Hope"] == hf["fr:Star Wars, épisode IV : Un nouvel espoir"]
    assert hf["en:IPhone"] == hf["ja:IPhone"]
    assert len(set(hf.values())) == 4 + len(expected)

    stats = json.loads((vocab / "stats.json").read_text())
    assert stats["entities"] == len(expected)
    assert stats["per_language"]["ar"]["entities"] == 4
    assert sum(int(k) * v for k, v in stats["languages_per_entity"].items()) == sum(
        row["num_languages"] for row in _entities(built["root"])
    )
    assert stats["count_quantiles"]["max"] == expected[0][1]


def test_pipeline_mentions_and_titles(built: dict[str, Any]) -> None:
    vocab = built["root"] / "vocab"
    hf = json.loads((vocab / "entity_vocab.json").read_text())
    en = pq.read_table(vocab / "mentions" / "en.parquet")
    assert en.schema.equals(MENTIONS_SCHEMA)
    rows = {(r["mention"], r["entity_id"]): r for r in en.to_pylist()}
    # "germany" is the anchor of 4 links to Germany (incl. [[Federal_Republic_of_Germany|Germany]])
    # and of the [[germany]] link: all land on Q183.
    germany = rows[("germany", hf["en:Germany"])]
    assert germany["count"] == germany["mention_count"] == 5 and germany["commonness"] == 1.0
    assert rows[("the french capital", hf["en:Paris"])]["count"] == 1  # through a redirect
    assert ("earth", hf.get("en:Earth", -5)) not in rows  # Earth is not in the vocabulary
    ja = {
        (r["mention"], r["entity_id"]) for r in pq.read_table(vocab / "mentions" / "ja.parquet").to_pylist()
    }
    assert ("日本", hf["ja:日本"]) in ja  # [[日本国|日本]] via a redirect, and [[日本]]
    assert ("iphone", hf["ja:IPhone"]) in ja

    titles = pq.read_table(vocab / "titles" / "en.parquet")
    assert titles.schema.equals(TITLES_SCHEMA)
    by_title = {r["title"]: (r["entity_id"], r["redirect"]) for r in titles.to_pylist()}
    assert by_title["Germany"] == (hf["en:Germany"], False)
    assert by_title["FRG"] == (hf["en:Germany"], True)  # two hops
    assert by_title["Federal Republic of Germany"] == (hf["en:Germany"], True)
    assert "Loop A" not in by_title and "C1" not in by_title and "Earth" not in by_title
    fr = {r["title"]: r["entity_id"] for r in pq.read_table(vocab / "titles" / "fr.parquet").to_pylist()}
    assert fr["Ville Lumière"] == fr["Paname"] == fr["Paris"] == hf["fr:Paris"]


def test_pipeline_interwiki_sources_agree(built: dict[str, Any]) -> None:
    snapshots = built["snapshots"]
    reference = snapshots["page-props"]
    for name in ("wikidata-json", "items-per-site"):
        other = snapshots[name]
        for file_name, data in reference.items():
            if file_name in ("report.json", "stats.json"):
                continue  # they name the source and count its rows
            assert other[file_name] == data, (name, file_name)
    wikidata = built["reports"]["wikidata-json"]["global"]
    assert wikidata["wikidata_lines"] == len(wikidata_json_lines()) - 2  # all but "[" and "]"
    assert wikidata["wikidata_skipped_redirect"] == 1
    assert wikidata["wikidata_skipped_bad_record"] == 1
    assert wikidata["wikidata_sitelinks"] == len(sitelinks())
    ips = built["reports"]["items-per-site"]["languages"]["en"]
    assert ips["items_per_site_rows"] == len([s for s in sitelinks() if s[0] == "en"])


def test_pipeline_is_deterministic_and_worker_count_independent(built: dict[str, Any]) -> None:
    snapshots = built["snapshots"]
    assert snapshots["page-props"] == snapshots["page-props-again"]
    assert snapshots["page-props"] == snapshots["page-props-2-workers"]
    assert "mentions/de.parquet" in snapshots["page-props"]


def test_pipeline_min_languages_and_vocab_size(tmp_path: Path) -> None:
    from pipeline.vocab import run_vocab_build
    from transforms.vocab import VocabSettings

    write_workdir(tmp_path)
    report = run_vocab_build(
        str(tmp_path),
        langs=["en", "de", "fr"],
        settings=VocabSettings(min_languages=2, vocab_size=3),
        workers=1,
    )
    expected_all = [
        (qid, sum(n for (lang, _), n in data["titles"].items() if lang in ("en", "de", "fr")))
        for qid, data in expected_entities().items()
        if len({lang for lang, _ in data["titles"] if lang in ("en", "de", "fr")}) >= 2
    ]
    expected_all.sort(key=lambda row: (-row[1], int(row[0][1:])))
    rows = _entities(tmp_path)
    assert [(r["wikidata_id"], r["count"]) for r in rows] == expected_all[:3]
    assert report["totals"]["links_beyond_vocab_size"] == sum(count for _, count in expected_all[3:])
    assert "Q2" in {qid for qid, _ in expected_all}  # Earth now qualifies (en + de) ...
    assert report["totals"].get("links_below_min_languages", 0) == 0
    assert sorted(p.name for p in (tmp_path / "vocab" / "mentions").iterdir()) == [
        "de.parquet",
        "en.parquet",
        "fr.parquet",
    ]


def _sample_workdir(root: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Pages/redirects Parquet from the sample's expected extraction, its mirror as WORKDIR/dumps.

    Returns the paths of the Wikidata-side files and, per language, the redirect table.
    """
    sample = pytest.importorskip("pipeline.sample")
    try:
        sample.write_sample_mirror(str(root / "dumps"))
    except NotImplementedError:
        pytest.skip("the sample mirror is not written yet")
    redirects: dict[str, dict[str, str]] = {}
    for lang in sample.SAMPLE_LANGS:
        site = SiteInfo.build(lang)
        pages, redirect_rows = [], []
        for page in sample.sample_pages(lang):
            if page.namespace != 0:
                continue
            if page.redirect_to is not None:
                target = normalize_title(page.redirect_to, site)
                if target is not None:
                    redirect_rows.append(
                        {"lang": lang, "page_id": page.page_id, "title": page.title, "target": target}
                    )
                continue
            if page.expected is None:
                continue  # the pages extract dead-letters
            paragraphs = [
                {
                    "text": text,
                    "is_lead": index < page.expected.lead_count,
                    "links": [{"start": a, "end": b, "target": t} for a, b, t in page.expected.spans[index]],
                }
                for index, (text, _) in enumerate(page.expected.paragraphs)
            ]
            pages.append({"lang": lang, "page_id": page.page_id, "revision_id": None, "title": page.title,
                          "namespace": 0, "is_disambiguation": page.is_disambiguation,
                          "categories": list(page.expected.categories), "paragraphs": paragraphs})  # fmt: skip
        write_parquet_shards(pages, PAGE_SCHEMA, root / "pages" / lang, lang, 2)
        write_parquet_shards(redirect_rows, REDIRECT_SCHEMA, root / "redirects" / lang, lang, 1)
        redirects[lang] = {row["title"]: row["target"] for row in redirect_rows}
    found = {
        "wikidata-json": sorted((root / "dumps").rglob("*all.json.bz2")),
        "items-per-site": sorted((root / "dumps").rglob("*wb_items_per_site.sql.gz")),
    }
    if not all(found.values()):
        pytest.skip("the sample mirror has no Wikidata JSON or wb_items_per_site file yet")
    return {name: paths[0] for name, paths in found.items()}, redirects


def test_pipeline_three_sources_on_the_bundled_sample(tmp_path: Path) -> None:
    """The sample mirror ships page_props, a Wikidata JSON dump and wb_items_per_site for the same
    items: the three sources give the same vocabulary, and it has the entities the sample's known
    content implies (counted here from the sample's expected extraction)."""
    from pipeline.sample import SAMPLE_LANGS, sample_pages
    from pipeline.vocab import run_vocab_build

    sources, redirects = _sample_workdir(tmp_path)
    snapshots = {}
    for name, interwiki in [("page-props", "page-props"), *[(k, f"{k}={v}") for k, v in sources.items()]]:
        run_vocab_build(str(tmp_path), interwiki=interwiki, workers=1)
        snapshots[name] = _snapshot(tmp_path / "vocab")
    compared = ["entity_vocab.jsonl", "entity_vocab.json", "entities.parquet"]
    compared += [f"mentions/{lang}.parquet" for lang in SAMPLE_LANGS]
    for name in sources:
        for file_name in compared:
            assert snapshots[name][file_name] == snapshots["page-props"][file_name], (name, file_name)

    # expected entities, from the sample's own truth
    totals: Counter[str] = Counter()
    languages: dict[str, set[str]] = {}
    for lang in SAMPLE_LANGS:
        pages = [p for p in sample_pages(lang) if p.namespace == 0 and p.redirect_to is None and p.expected]
        item_of = {p.title: p.qid for p in pages if p.qid}
        for page in pages:
            for spans in page.expected.spans:
                for _, _, target in spans:
                    title, seen = target, [target]
                    while title in redirects[lang] and len(seen) <= MAX_HOPS:
                        title = redirects[lang][title]
                        seen.append(title)
                    if title in item_of and len(set(seen)) == len(seen) and len(seen) <= MAX_HOPS + 1:
                        totals[item_of[title]] += 1
                        languages.setdefault(item_of[title], set()).add(lang)
    expected = sorted(
        ((qid, n) for qid, n in totals.items() if len(languages[qid]) >= 3),
        key=lambda row: (-row[1], int(row[0][1:])),
    )
    rows = pq.read_table(tmp_path / "vocab" / "entities.parquet").to_pylist()
    assert [(row["wikidata_id"], row["count"]) for row in rows] == expected
    assert len(rows) >= 10
    assert all(set(SAMPLE_LANGS) >= {t["lang"] for t in row["titles"]} for row in rows)


def test_build_without_pages_is_a_user_error(tmp_path: Path) -> None:
    from pipeline.options import UserError
    from pipeline.vocab import plan_vocab_inputs

    with pytest.raises(UserError, match="mluke-data extract"):
        plan_vocab_inputs(str(tmp_path), None, "page-props")
    write_workdir(tmp_path)
    with pytest.raises(UserError, match="no extracted pages for ko"):
        plan_vocab_inputs(str(tmp_path), ["ko"], "page-props")
    with pytest.raises(UserError, match="no such file"):
        plan_vocab_inputs(str(tmp_path), None, f"wikidata-json={tmp_path / 'missing.json.bz2'}")
    with pytest.raises(UserError, match="--interwiki must be"):
        plan_vocab_inputs(str(tmp_path), None, "sitelinks")
    (tmp_path / "dumps" / "enwiki" / "20270101").mkdir()
    shutil.copy(
        tmp_path / "dumps" / "enwiki" / DATE / f"enwiki-{DATE}-page_props.sql.gz",
        tmp_path / "dumps" / "enwiki" / "20270101" / "enwiki-20270101-page_props.sql.gz",
    )
    with pytest.raises(UserError, match="--dump-date"):
        plan_vocab_inputs(str(tmp_path), None, "page-props")
    inputs = plan_vocab_inputs(str(tmp_path), None, "page-props", dump_date=DATE)
    assert inputs.langs == LANGS
    assert inputs.page_props_files["en"].endswith(f"enwiki-{DATE}-page_props.sql.gz")
    shutil.rmtree(tmp_path / "dumps" / "jawiki")
    with pytest.raises(UserError, match=r"missing .*jawiki-20260101-page_props"):
        plan_vocab_inputs(str(tmp_path), None, "page-props", dump_date=DATE)
    with pytest.raises(UserError, match="no page_props dump for jawiki"):
        plan_vocab_inputs(str(tmp_path), ["ja"], "page-props")
