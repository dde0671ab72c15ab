"""The bundled sample wiki: mirror layout, multistream structure, tables, truth data, determinism."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import mwparserfromhell
import pytest
from lxml import etree

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipeline.sample import (
    SAMPLE_DATE,
    SAMPLE_ENTITIES,
    SAMPLE_LANGS,
    sample_pages,
    write_sample_mirror,
)
from pipeline.sample.__main__ import main as sample_main
from pipeline.sample.content_base import L, P, render_article
from schemas.dumps import (
    DUMPSTATUS,
    articles_file_name,
    index_file_name,
    page_props_file_name,
    parse_dumpstatus,
    wiki_name,
)
from transforms.languages import DISAMBIGUATION_TEMPLATES, REDIRECT_MAGIC_WORDS
from transforms.titles import SiteInfo, parse_link_target, split_page_title

EXPORT = "{http://www.mediawiki.org/xml/export-0.11/}"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("mirror")
    return root, write_sample_mirror(str(root))


def _lang_dir(root: Path, lang: str) -> Path:
    return root / wiki_name(lang) / SAMPLE_DATE


def _sql_rows(data: bytes, table: str) -> tuple[list[tuple], int]:
    """Rows of a gzip'd mysqldump and the number of INSERT statements (a small SQL value parser)."""
    text = gzip.decompress(data).decode("utf-8")
    prefix = f"INSERT INTO `{table}` VALUES "
    rows: list[tuple] = []
    statements = 0
    escapes = {"n": "\n", "r": "\r", "0": "\0", "Z": "\x1a"}
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        statements += 1
        body, i = line[len(prefix) :], 0
        while body[i] != ";":
            assert body[i] in "(,", body[i:]
            if body[i] == ",":
                i += 1
            assert body[i] == "("
            i += 1
            row: list = []
            while True:
                if body[i] == "'":
                    i += 1
                    value = []
                    while body[i] != "'":
                        if body[i] == "\\":
                            i += 1
                            value.append(escapes.get(body[i], body[i]))
                        else:
                            value.append(body[i])
                        i += 1
                    row.append("".join(value))
                    i += 1
                else:
                    match = re.compile(r"NULL|-?\d+(\.\d+)?").match(body, i)
                    assert match, body[i:]
                    token = match.group(0)
                    row.append(None if token == "NULL" else float(token) if "." in token else int(token))
                    i = match.end()
                if body[i] == ",":
                    i += 1
                    continue
                assert body[i] == ")"
                i += 1
                break
            rows.append(tuple(row))
    return rows, statements


def _streams(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, decompressed bytes) of every bz2 stream, each decompressed on its own."""
    out = []
    offset = 0
    while offset < len(data):
        decompressor = bz2.BZ2Decompressor()
        content = decompressor.decompress(data[offset:])
        assert decompressor.eof
        out.append((offset, content))
        offset = len(data) - len(decompressor.unused_data)
    return out


# ---- layout and dumpstatus --------------------------------------------------------------------------


def test_layout_and_returned_paths(mirror: tuple[Path, list[str]]) -> None:
    root, written = mirror
    on_disk = {str(p) for p in root.rglob("*") if p.is_file()}
    assert set(written) == on_disk
    for lang in SAMPLE_LANGS:
        wiki = wiki_name(lang)
        names = {p.name for p in _lang_dir(root, lang).iterdir()}
        assert names == {
            articles_file_name(lang, SAMPLE_DATE),
            index_file_name(lang, SAMPLE_DATE),
            page_props_file_name(lang, SAMPLE_DATE),
            f"{wiki}-{SAMPLE_DATE}-site_stats.sql.gz",
            f"{wiki}-{SAMPLE_DATE}-md5sums.txt",
            DUMPSTATUS,
        }
    assert (
        root / "wikidatawiki" / SAMPLE_DATE / f"wikidatawiki-{SAMPLE_DATE}-wb_items_per_site.sql.gz"
    ).is_file()
    assert (
        root / "wikidatawiki" / "entities" / SAMPLE_DATE / f"wikidata-{SAMPLE_DATE}-all.json.bz2"
    ).is_file()


def test_dumpstatus_matches_files(mirror: tuple[Path, list[str]]) -> None:
    root, _ = mirror
    dirs = [(wiki_name(lang), _lang_dir(root, lang)) for lang in SAMPLE_LANGS]
    dirs.append(("wikidatawiki", root / "wikidatawiki" / SAMPLE_DATE))
    for wiki, directory in dirs:
        status = parse_dumpstatus((directory / DUMPSTATUS).read_bytes())
        done = [job for job in status.jobs.values() if job.done]
        assert any(not job.done for job in status.jobs.values())  # a job still "waiting", like real dumps
        listed = set()
        for job in done:
            for f in job.files:
                data = (directory / f.name).read_bytes()
                assert f.size == len(data)
                assert f.md5 == hashlib.md5(data).hexdigest()
                assert f.sha1 == hashlib.sha1(data).hexdigest()
                assert f.url == f"/{wiki}/{SAMPLE_DATE}/{f.name}"
                listed.add(f.name)
        md5sums = (directory / f"{wiki}-{SAMPLE_DATE}-md5sums.txt").read_text().splitlines()
        assert {line.split("  ")[1] for line in md5sums} == listed
        if wiki == "wikidatawiki":
            job = status.job("wbitemspersitetable")
            assert job is not None and job.done and len(job.files) == 1
            continue
        lang = wiki[: -len("wiki")]
        articles = status.job("articlesmultistreamdump")
        assert articles is not None and articles.done
        assert {f.name for f in articles.files} == {
            articles_file_name(lang, SAMPLE_DATE),
            index_file_name(lang, SAMPLE_DATE),
        }
        props = status.job("pagepropstable")
        assert props is not None and props.done
        assert [f.name for f in props.files] == [page_props_file_name(lang, SAMPLE_DATE)]
        assert status.job("metahistorybz2dump") is not None and not status.job("metahistorybz2dump").done


# ---- the multistream dump -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_multistream_streams_and_index(mirror: tuple[Path, list[str]], lang: str) -> None:
    root, _ = mirror
    directory = _lang_dir(root, lang)
    data = (directory / articles_file_name(lang, SAMPLE_DATE)).read_bytes()
    index_text = bz2.decompress((directory / index_file_name(lang, SAMPLE_DATE)).read_bytes()).decode("utf-8")
    index = [line.split(":", 2) for line in index_text.splitlines()]
    streams = _streams(data)

    # First stream: the opening tag and siteinfo only; last stream: the closing tag only.
    first = streams[0][1].decode("utf-8")
    assert first.startswith('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/"')
    assert "<siteinfo>" in first and first.endswith("</siteinfo>\n") and "<page>" not in first
    assert streams[-1][1] == b"</mediawiki>\n"
    assert len(streams) >= 4  # siteinfo, at least two page streams, closing tag

    by_offset: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for offset, page_id, title in index:
        by_offset[int(offset)].append((int(page_id), title))
    page_streams = {offset: content for offset, content in streams[1:-1]}
    assert set(by_offset) == set(page_streams)
    seen: list[tuple[int, str]] = []
    for offset, entries in by_offset.items():
        assert len(entries) <= 20
        # A stream parses on its own once wrapped (its pages use the dump's default namespace).
        wrapped = b"<pages>" + page_streams[offset] + b"</pages>"
        pages = etree.fromstring(wrapped).findall("page")
        got = [(int(p.findtext("id")), p.findtext("title")) for p in pages]
        assert got == entries
        seen += got

    expected = [(p.page_id, p.title) for p in sample_pages(lang)]
    assert seen == expected  # every page exactly once, in page-id order
    assert len({pid for pid, _ in seen}) == len(seen)

    # The whole file is one valid export document whose pages carry the sample's wikitext.
    tree = etree.fromstring(bz2.decompress(data))
    assert tree.get("version") == "0.11"
    by_id = {p.page_id: p for p in sample_pages(lang)}
    for element in tree.iter(f"{EXPORT}page"):
        page = by_id[int(element.findtext(f"{EXPORT}id"))]
        assert element.findtext(f"{EXPORT}title") == page.title
        assert int(element.findtext(f"{EXPORT}ns")) == page.namespace
        redirect = element.find(f"{EXPORT}redirect")
        assert (redirect.get("title") if redirect is not None else None) == page.redirect_to
        revision = element.find(f"{EXPORT}revision")
        text = revision.find(f"{EXPORT}text")
        assert text.text == page.wikitext
        assert int(text.get("bytes")) == len(page.wikitext.encode("utf-8"))
        assert revision.findtext(f"{EXPORT}model") == "wikitext"
        assert revision.findtext(f"{EXPORT}format") == "text/x-wiki"
        assert re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\dZ", revision.findtext(f"{EXPORT}timestamp"))
        assert re.fullmatch(r"[0-9a-z]{31}", revision.findtext(f"{EXPORT}sha1"))


def _siteinfo(root: Path, lang: str) -> SiteInfo:
    data = (_lang_dir(root, lang) / articles_file_name(lang, SAMPLE_DATE)).read_bytes()
    first = _streams(data)[0][1] + b"</mediawiki>"
    tree = etree.fromstring(first)
    namespaces = {int(ns.get("key")): ns.text or "" for ns in tree.iter(f"{EXPORT}namespace")}
    assert tree.findtext(f"{EXPORT}siteinfo/{EXPORT}dbname") == wiki_name(lang)
    assert tree.findtext(f"{EXPORT}siteinfo/{EXPORT}case") == "first-letter"
    return SiteInfo.build(lang, dbname=wiki_name(lang), namespaces=namespaces)


def test_siteinfo_has_localized_namespaces(mirror: tuple[Path, list[str]]) -> None:
    root, _ = mirror
    expected = {
        "de": {14: "Kategorie", 6: "Datei", 10: "Vorlage"},
        "ja": {14: "Category", 6: "ファイル", 10: "Template"},
        "ar": {14: "تصنيف", 6: "ملف", 10: "قالب"},
        "ru": {14: "Категория", 6: "Файл", 10: "Шаблон"},
        "en": {14: "Category", 6: "File", 10: "Template"},
    }
    for lang, names in expected.items():
        site = _siteinfo(root, lang)
        for ns, name in names.items():
            assert site.namespace_names[ns] == name
    for lang in SAMPLE_LANGS:
        site = _siteinfo(root, lang)
        for page in sample_pages(lang):
            assert split_page_title(page.title, site)[0] == page.namespace, page.title


# ---- tables ------------------------------------------------------------------------------------------


def test_page_props(mirror: tuple[Path, list[str]]) -> None:
    root, _ = mirror
    for lang in SAMPLE_LANGS:
        rows, statements = _sql_rows(
            (_lang_dir(root, lang) / page_props_file_name(lang, SAMPLE_DATE)).read_bytes(), "page_props"
        )
        assert statements >= 2 and len(rows) > 2 * statements  # many rows per INSERT line
        assert rows == sorted(rows, key=lambda r: (r[0], r[1]))
        pages = sample_pages(lang)
        items = {r[0]: r[2] for r in rows if r[1] == "wikibase_item"}
        assert all(r[3] is None for r in rows if r[1] == "wikibase_item")
        assert items == {p.page_id: p.qid for p in pages if p.qid}
        disambiguation = {r[0] for r in rows if r[1] == "disambiguation"}
        assert disambiguation == {p.page_id for p in pages if p.is_disambiguation}
        assert all(r[2] == "" for r in rows if r[1] == "disambiguation")
        for page in pages:
            if page.qid and page.namespace == 0 and not page.is_disambiguation:
                assert SAMPLE_ENTITIES[page.qid][lang] == page.title
    en_rows, _ = _sql_rows(
        (_lang_dir(root, "en") / page_props_file_name("en", SAMPLE_DATE)).read_bytes(), "page_props"
    )
    shortdesc = {r[2] for r in en_rows if r[1] == "wikibase-shortdesc"}
    assert "Germany's capital \\ largest city – pop. 3.9\u00a0million" in shortdesc
    raw = gzip.decompress((_lang_dir(root, "en") / page_props_file_name("en", SAMPLE_DATE)).read_bytes())
    assert b"Germany\\'s capital \\\\ largest" in raw
    assert (
        "CREATE TABLE `page_props`" in raw.decode() and "DROP TABLE IF EXISTS `page_props`;" in raw.decode()
    )
    assert any(r[1] == "kartographer_links" and r[3] == 1 for r in en_rows)


def test_wikidata_json_and_items_per_site(mirror: tuple[Path, list[str]]) -> None:
    root, _ = mirror
    lines = (
        bz2.decompress(
            (
                root / "wikidatawiki" / "entities" / SAMPLE_DATE / f"wikidata-{SAMPLE_DATE}-all.json.bz2"
            ).read_bytes()
        )
        .decode("utf-8")
        .splitlines()
    )
    assert lines[0] == "[" and lines[-1] == "]"
    body = lines[1:-1]
    assert all(line.endswith(",") for line in body[:-1]) and not body[-1].endswith(",")
    entities = [json.loads(line.rstrip(",")) for line in body]
    by_id = {e["id"]: e for e in entities}
    assert by_id["P31"]["type"] == "property"
    assert any(e["type"] == "item" and not e["sitelinks"] for e in entities)
    sites = {site for e in entities for site in e.get("sitelinks", {})}
    assert {"commonswiki", "enwikiquote", "specieswiki"} <= sites
    for qid, titles in SAMPLE_ENTITIES.items():
        item = by_id[qid]
        assert item["type"] == "item"
        wiki_links = {
            s: v["title"] for s, v in item["sitelinks"].items() if s in {wiki_name(x) for x in SAMPLE_LANGS}
        }
        assert wiki_links == {wiki_name(lang): title for lang, title in titles.items()}
        assert all(v["site"] == s and isinstance(v["badges"], list) for s, v in item["sitelinks"].items())

    rows, statements = _sql_rows(
        (
            root / "wikidatawiki" / SAMPLE_DATE / f"wikidatawiki-{SAMPLE_DATE}-wb_items_per_site.sql.gz"
        ).read_bytes(),
        "wb_items_per_site",
    )
    assert statements >= 2
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    mapping = {(r[2], r[3]): r[1] for r in rows}
    for qid, titles in SAMPLE_ENTITIES.items():
        for lang, title in titles.items():
            assert mapping[(wiki_name(lang), title)] == int(qid[1:])
    assert mapping[("frwiki", "Côte d'Ivoire")] == 1008  # an escaped quote survives the round trip


# ---- truth data ----------------------------------------------------------------------------------------


def test_entities_shared_across_languages() -> None:
    multilingual = [q for q, titles in SAMPLE_ENTITIES.items() if len(titles) >= 3]
    assert len(multilingual) >= 20
    assert any(len(titles) <= 2 for titles in SAMPLE_ENTITIES.values())
    for lang in SAMPLE_LANGS:
        articles = {
            p.title: p.qid
            for p in sample_pages(lang)
            if p.namespace == 0 and not p.redirect_to and not p.is_disambiguation
        }
        for qid, titles in SAMPLE_ENTITIES.items():
            if lang in titles:
                assert articles[titles[lang]] == qid


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_language_page_mix(lang: str) -> None:
    pages = sample_pages(lang)
    assert 25 <= len(pages) <= 50
    assert len({p.title for p in pages}) == len(pages)
    other_ns = [p for p in pages if p.namespace != 0]
    assert 1 <= len(other_ns) <= 3
    redirects = [p for p in pages if p.redirect_to]
    assert len(redirects) >= 3
    words = {w.casefold() for w in (*REDIRECT_MAGIC_WORDS.get(lang, ()), "REDIRECT")}
    for page in redirects:
        match = re.match(r"#(\S+)\s*\[\[([^\]]+)\]\]", page.wikitext)
        assert match and match.group(1).casefold() in words
        assert page.expected is None
    if lang != "en":
        assert any(re.match(r"#(\S+)", p.wikitext).group(1).casefold() != "redirect" for p in redirects)
    disambiguation = [p for p in pages if p.is_disambiguation]
    assert len(disambiguation) == 1
    templates = {t.casefold() for t in DISAMBIGUATION_TEMPLATES[lang]}
    used = {
        str(t.name).strip().casefold()
        for t in mwparserfromhell.parse(disambiguation[0].wikitext).filter_templates()
    }
    assert used & templates
    articles = [p for p in pages if p.namespace == 0 and not p.redirect_to]
    assert sum(1 for p in articles if p.qid) >= len(articles) - 3


def test_redirect_chain_loop_and_section() -> None:
    targets = {p.title: p.redirect_to for p in sample_pages("en") if p.redirect_to}
    assert targets["Peking"] == "Peiping" and targets["Peiping"] == "Beijing"
    assert targets[targets["Mercury (god)"]] == "Mercury (god)"
    history = next(p for p in sample_pages("en") if p.title == "History of Berlin")
    assert "[[Berlin#History]]" in history.wikitext and history.redirect_to == "Berlin"


def test_expected_extraction_details() -> None:
    def page(lang: str, title: str):
        return next(p for p in sample_pages(lang) if p.title == title)

    def links(p) -> list[tuple[str, str]]:
        return [link for _, ls in p.expected.paragraphs for link in ls]

    def text(p) -> str:
        return "\n".join(t for t, _ in p.expected.paragraphs)

    tokyo = page("en", "Tokyo")
    assert "Its name is written Tokyo (東京, Tōkyō) and means eastern capital." in text(tokyo)
    assert "On clear days Mount Fuji (富士山) can be seen" in text(tokyo)
    assert ("buses", "Bus") in links(tokyo) and ("trains", "Rail transport") in links(tokyo)
    berlin = page("en", "Berlin")
    assert berlin.expected.paragraphs[0][0].startswith(
        "Berlin (Berlin) is the capital and largest city of Germany."
    )
    assert "With about 3.9 million inhabitants it is one of the most populous cities of Europe." in text(
        berlin
    )
    assert ("German history", "Germany") in links(berlin) and (
        "North German Plain",
        "North German Plain",
    ) in links(berlin)
    assert "Street life" not in text(berlin) and "History" not in [t for t, _ in berlin.expected.paragraphs]
    assert ("Mitte", "Mitte") in links(berlin) and "Mitte" in [t for t, _ in berlin.expected.paragraphs]
    assert berlin.expected.lead_count == 2 and berlin.expected.categories[1] == "Cities in Germany"
    physics = page("en", "Physics")
    assert "The equation relates the energy of a body to its mass." in text(physics)
    assert "The book Space & Time by the French thinker René Descartes" in text(physics)
    assert ("Albert Einstein", "Albert Einstein") in links(physics) and (
        "mathematics",
        "Mathematics",
    ) in links(physics)
    assert ("😀 smiling face", "Smiling face") in links(page("en", "Emoji"))
    assert ("Japanese", "Japan") in links(page("en", "Emoji"))
    assert ("Rheins", "Rhein") in links(page("de", "Deutschland"))
    assert ("Omnibusse", "Omnibus") in links(page("de", "Deutschland"))
    assert ("Münchener", "München") in links(page("de", "Oktoberfest"))
    assert ("автобусы", "Автобус") in links(page("ru", "Москва"))
    assert ("Берлина", "Берлин") in links(page("ru", "Москва"))
    cs = page("zh", "计算机科学")
    assert "研究计算机及其相关现象" in text(cs) and "計算機" not in text(cs) and "C语言" in text(cs)
    assert ("𠮷野家", "吉野家") in links(page("ja", "東京都"))
    assert ("日本", "日本") in links(page("ja", "東京都")) and "日本語の中心地" in text(page("ja", "東京都"))
    assert ("Afrique de l'Ouest", "Afrique de l'Ouest") in links(page("fr", "Côte d'Ivoire"))
    assert "« Ville Lumière » (City of Light)" in text(page("fr", "Paris"))
    assert page("en", "Unfinished notes on rivers").expected is None
    assert page("ar", "مسودة غير مكتملة").expected is None
    assert any(p.namespace == 0 and ": " in p.title and p.qid for p in sample_pages("en"))


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_no_article_outweighs_its_language(lang: str) -> None:
    """Several articles of comparable length per language: the longest holds at most 15% of the
    language's article wikitext (the shards test checks the same for examples, at 10%)."""
    articles = [p for p in sample_pages(lang) if p.expected is not None]
    sizes = sorted(len(p.wikitext.encode()) for p in articles)
    assert len(articles) >= 25
    assert sizes[-1] <= 0.15 * sum(sizes), (lang, sizes[-1], sum(sizes))


def test_expected_is_consistent_with_the_wikitext() -> None:
    for lang in SAMPLE_LANGS:
        site = SiteInfo.build(lang)
        for p in sample_pages(lang):
            if p.expected is None:
                continue
            parsed_targets = Counter()
            for link in mwparserfromhell.parse(p.wikitext).filter_wikilinks():
                target = parse_link_target(str(link.title), site)
                if target.kind == "article":
                    parsed_targets[target.title] += 1
            wanted = Counter(t for _, ls in p.expected.paragraphs for _, t in ls)
            assert not wanted - parsed_targets, (lang, p.title)
            assert len(p.expected.spans) == len(p.expected.paragraphs)
            for (paragraph, pairs), spans in zip(p.expected.paragraphs, p.expected.spans, strict=True):
                assert paragraph == " ".join(paragraph.split()) and paragraph
                assert [(paragraph[a:b], t) for a, b, t in spans] == pairs
                assert "[[" not in paragraph and "{{" not in paragraph and "''" not in paragraph


def test_entities_are_linked_in_their_languages() -> None:
    """Every entity page gets incoming links (directly or through a redirect) in its languages."""
    linked_languages: dict[str, set[str]] = defaultdict(set)
    for lang in SAMPLE_LANGS:
        pages = sample_pages(lang)
        redirects = {p.title: p.redirect_to for p in pages if p.redirect_to}
        qid_of = {p.title: p.qid for p in pages if p.qid and not p.redirect_to}
        for p in pages:
            for _, links in p.expected.paragraphs if p.expected else ():
                for _, target in links:
                    for _ in range(5):
                        target = redirects.get(target, target)
                    if target in qid_of and target != p.title:
                        linked_languages[qid_of[target]].add(lang)
    for qid, titles in SAMPLE_ENTITIES.items():
        assert set(titles) <= linked_languages[qid], qid
    assert sum(1 for langs in linked_languages.values() if len(langs) >= 3) >= 20


def test_markup_rules_reject_ambiguous_parts() -> None:
    with pytest.raises(ValueError, match="link trail"):
        render_article("en", [P(L("bus"), "es run")])
    with pytest.raises(ValueError):
        P("a [[raw]] link")
    wikitext, expected = render_article("en", [P(L("bus", trail="es"), " run")])
    assert wikitext == "[[bus]]es run\n"
    assert expected.paragraphs == [("buses run", [("buses", "Bus")])]


# ---- determinism, scale, helper -------------------------------------------------------------------------


def test_two_writes_are_byte_identical(mirror: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, written = mirror
    again = write_sample_mirror(str(tmp_path))
    assert [os.path.relpath(p, tmp_path) for p in again] == [os.path.relpath(p, root) for p in written]
    for first, second in zip(written, again, strict=True):
        assert Path(first).read_bytes() == Path(second).read_bytes(), first


def test_scale_two_adds_a_copy_of_the_generated_pages(tmp_path: Path) -> None:
    langs = ["de", "ja"]
    write_sample_mirror(str(tmp_path), langs=langs, scale=2)
    json_lines = bz2.decompress(
        (
            tmp_path / "wikidatawiki" / "entities" / SAMPLE_DATE / f"wikidata-{SAMPLE_DATE}-all.json.bz2"
        ).read_bytes()
    ).decode("utf-8")
    wikidata_ids = set(re.findall(r'"id":"(Q\d+)","labels"', json_lines))
    for lang in langs:
        base = sample_pages(lang)
        generated = [p for p in base if p.generated]
        directory = tmp_path / wiki_name(lang) / SAMPLE_DATE
        index = bz2.decompress((directory / index_file_name(lang, SAMPLE_DATE)).read_bytes()).decode("utf-8")
        entries = [line.split(":", 2) for line in index.splitlines()]
        assert len(entries) == len(base) + len(generated)
        assert len({e[1] for e in entries}) == len(entries) and len({e[2] for e in entries}) == len(entries)
        titles = {e[2] for e in entries}
        assert {f"{p.title} (2)" for p in generated} <= titles
        offsets = Counter(e[0] for e in entries)
        assert max(offsets.values()) > 20  # streams of up to 100 pages
        rows, _ = _sql_rows((directory / page_props_file_name(lang, SAMPLE_DATE)).read_bytes(), "page_props")
        qids = {r[2] for r in rows if r[1] == "wikibase_item"}
        assert len(qids) == len({p.qid for p in base if p.qid}) + len(generated)
        assert qids <= wikidata_ids | {"Q7035413"}


def test_module_helper_writes_a_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sample_main([str(tmp_path / "out"), "--langs", "th,hi"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "out" / "thwiki" / SAMPLE_DATE / DUMPSTATUS).is_file()
    assert not (tmp_path / "out" / "enwiki").exists()
    with pytest.raises(ValueError, match="no language"):
        write_sample_mirror(str(tmp_path / "bad"), langs=["xx"])
