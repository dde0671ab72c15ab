"""Hostile and broken inputs: nothing crashes a job, hangs it, or loses a page without counting it.

Two halves. Property-based tests (hypothesis) throw generated input at the parsers (wikitext,
titles, SQL rows, Wikidata lines, dumpstatus.json) and check their invariants. Then each broken
input a real user can meet is made by a generator here and run through the real command
(``mluke-data extract`` / ``vocab build`` / ``fetch``, Beam on the FnApiRunner, a real HTTP server
on 127.0.0.1), and the report's counts or the one ``Error:`` line are checked. Every page read
ends up in the output, in a counted bucket, or in ``errors/`` with a reason.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
import requests
from click.testing import CliRunner
from dumpfactory import Page, export_xml, page_xml, siteinfo_xml, write_multistream
from fetch_server import MirrorServer, fake_bz2, mirror_server, write_dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.fetch as fetch_pipeline
from pipeline.cli import cli
from schemas.dumps import JOB_ARTICLES_MULTISTREAM
from transforms.download import ChecksumError, download_file
from transforms.dumpreader import read_whole_file
from transforms.fetch_plan import FetchError, FileTask, PlanError, parse_status_document, plan_dump
from transforms.http import RetrySettings
from transforms.page_parser import parse_pages
from transforms.page_xml import RawPage, ReadProblem
from transforms.sqldump import SqlParseError, iter_page_props_items, iter_sql_rows, parse_row
from transforms.titles import SiteInfo, normalize_title
from transforms.wikidata import WikidataReadStats, iter_wikidata_sitelinks
from transforms.wikitext import extract_article

__all__ = ["mirror_server"]  # the fixture, imported for this module's tests

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DATE = "20261101"
EN = SiteInfo.build("en")


# ----------------------------------------------------------------------------------------------
# Properties of the parsers

FRAGMENTS = [
    "[[", "]]", "|", "{{", "}}", "{{{", "}}}", "}}}}", "[", "]", "{|\n", "\n|}", "|}}", "<ref>",
    "</ref>", "<span>", "</span>", "<nowiki>", "</nowiki>", "\n", "\n\n", "\n* ", "== ", " ==\n",
    "&amp;", "&#0;", "&bogus;", "''", "'''", "Berlin", "File:X.jpg", "Datei:Y.svg", "mini",
    "thumb", "Kategorie:Z", "Category:Q", "de:", ":", "#", "lang|de|", "nihongo|", "text ", "es",
    "(", ")", "-{", "}-", "zh-hans:", " ", "𠮷", "\x00", "<!--", "-->",
]  # fmt: skip
wikitext = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=40).map("".join)


@PROPERTY
@given(wikitext, st.sampled_from(["en", "de", "ar", "ja"]))
def test_wikitext_parser_never_raises_and_leaves_no_markup(text: str, lang: str) -> None:
    site = SiteInfo.build(lang)
    ((status, *rest),) = parse_pages([text], site)  # a failure is a result, never an exception
    if status != "ok":
        return
    for paragraph in rest[0].paragraphs:
        assert paragraph.text and paragraph.text == paragraph.text.strip()
        for marker in ("[[", "]]", "{{", "}}"):
            assert marker not in paragraph.text, (text, paragraph.text)
        previous_end = 0
        for link in paragraph.links:
            assert previous_end <= link.start < link.end <= len(paragraph.text)
            anchor = paragraph.text[link.start : link.end]
            assert anchor == anchor.strip() and link.target
            previous_end = link.end


TITLE_PIECES = [*"aBz _:#%&;25F0x.\x00\t", "&amp;", "%25", "%20", "ß", "ǆ", "\u200e"]
titles = st.lists(st.sampled_from(TITLE_PIECES), max_size=16).map("".join)


@PROPERTY
@given(titles)
def test_title_normalization_is_idempotent(raw: str) -> None:
    title = normalize_title(raw, EN)
    if title is None:
        return
    assert normalize_title(title, EN) == title, (raw, title)
    assert title and not any(ord(c) < 32 for c in title)


sql_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)


def _sql_literal(value: Any) -> bytes:
    if value is None:
        return b"NULL"
    if isinstance(value, int):
        return str(value).encode()
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\x00", "\\0")
    return b"'" + escaped.encode("utf-8") + b"'"


@PROPERTY
@given(st.lists(st.tuples(sql_values, sql_values, sql_values), min_size=1, max_size=8), st.integers(1, 64))
def test_sql_rows_round_trip_at_any_chunk_size(rows: list[tuple[Any, ...]], chunk: int) -> None:
    body = b",".join(b"(" + b",".join(_sql_literal(v) for v in row) + b")" for row in rows)
    data = b"INSERT INTO `t` VALUES " + body + b";\n"
    assert list(iter_sql_rows(io.BytesIO(data), chunk_size=chunk)) == rows


@PROPERTY
@given(st.binary(max_size=200), st.integers(1, 32))
def test_sql_reader_raises_only_its_own_error(noise: bytes, chunk: int) -> None:
    data = b"INSERT INTO `page_props` VALUES (1,'wikibase_item','Q1',NULL)," + noise
    with contextlib.suppress(SqlParseError):
        list(iter_page_props_items(io.BytesIO(data), chunk_size=chunk))


def test_a_5000_digit_integer_is_the_parsers_own_error() -> None:  # case 7
    with pytest.raises(SqlParseError, match="5000 digits"):
        parse_row(b"(" + b"9" * 5000 + b",'wikibase_item','Q1',NULL)")
    data = b"INSERT INTO `page_props` VALUES (" + b"1" * 5000 + b",'wikibase_item','Q1',NULL);\n"
    with pytest.raises(SqlParseError):
        list(iter_page_props_items(io.BytesIO(data)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@PROPERTY
@given(json_values, st.sampled_from(["enwiki", "dewiki"]))
def test_wikidata_lines_are_counted_never_raised(value: Any, site: str) -> None:
    entity = {"type": "item", "id": "Q5", "sitelinks": {site: value}}
    lines = [json.dumps(entity).encode() + b",\n", json.dumps(value).encode() + b"\n"]
    stats = WikidataReadStats()
    list(iter_wikidata_sitelinks(lines, ["en", "de"], stats))
    counted = stats.items + stats.without_requested_sitelinks + stats.skipped_non_item
    assert counted + stats.skipped_redirect + stats.skipped_bad_record == stats.lines


def test_deeply_nested_wikidata_line_is_a_bad_record() -> None:  # case 3
    deep = b'{"id":"Q1","sitelinks":{"enwiki":' + b"[" * 100_000 + b"]" * 100_000 + b"}},\n"
    stats = WikidataReadStats()
    assert list(iter_wikidata_sitelinks([deep], ["en"], stats)) == []
    assert stats.skipped_bad_record == 1 and stats.lines == 1


@PROPERTY
@given(json_values)
def test_dumpstatus_of_any_shape_is_refused_with_a_message(files: Any) -> None:
    text = json.dumps({"jobs": {"pagepropstable": {"status": "done", "files": files}}})
    try:
        status = parse_status_document(text)
    except ValueError as error:
        assert str(error)
        return
    with contextlib.suppress(PlanError):
        plan_dump(status, "enwiki", DATE, ["pagepropstable"], "http://127.0.0.1:9", "/tmp/out")


DAMAGE = [b"\xff\xfe", b"\x00", b"&#0;", b"&undefined;", b"</text>", b"<page>", b"</page>", b"]]>"]


@PROPERTY
@given(
    damage=st.lists(st.one_of(st.none(), st.sampled_from(DAMAGE)), min_size=1, max_size=12),
    chunk=st.integers(7, 300),
    compress=st.booleans(),
)
def test_whole_file_reader_accounts_for_every_page(
    damage: list[bytes | None], chunk: int, compress: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import transforms.dumpreader as dumpreader

    pages = [Page(f"Page {i}", i, "PLACEHOLDER") for i in range(1, len(damage) + 1)]
    texts = {f"Page {i}": b"text " + (bad or b"fine") + b" more" for i, bad in enumerate(damage, start=1)}
    data = _xml_with(pages, texts)
    path = tmp_path_factory.mktemp("pages") / ("enwiki-x.xml.bz2" if compress else "enwiki-x.xml")
    path.write_bytes(bz2.compress(data) if compress else data)
    original = dumpreader._READ_CHUNK
    dumpreader._READ_CHUNK = chunk  # page boundaries at every place a chunk can end
    try:
        entries = list(read_whole_file(str(path)))
    finally:
        dumpreader._READ_CHUNK = original
    good = [e.page_id for e in entries if isinstance(e, RawPage)]
    lost = sum(e.pages_lost for e in entries if isinstance(e, ReadProblem))
    assert good == sorted(set(good))
    # Every page comes out or is counted; a stray <page> may make a page of its own.
    assert len(good) + lost >= len(damage)
    assert {i for i, bad in enumerate(damage, start=1) if bad is None} <= set(good)


# ----------------------------------------------------------------------------------------------
# Broken dumps through `mluke-data extract`: one run over a file per case, one language each


def _pages(count: int, first_id: int = 1) -> list[Page]:
    return [
        Page(f"Page {i}", i, f"Text {i} is about [[Topic {i}]] and more.")
        for i in range(first_id, first_id + count)
    ]


def _multistream(folder: Path, wiki: str, pages: list[Page], per_stream: int) -> tuple[Path, Path, list[int]]:
    folder.mkdir(parents=True)
    path = folder / f"{wiki}-{DATE}-pages-articles-multistream.xml.bz2"
    index = folder / f"{wiki}-{DATE}-pages-articles-multistream-index.txt.bz2"
    offsets = write_multistream(str(path), str(index), pages, per_stream=per_stream, dbname=wiki)
    return path, index, offsets


def _index_lines(index: Path) -> list[str]:
    return bz2.decompress(index.read_bytes()).decode().splitlines()


def _write_index(index: Path, lines: list[str]) -> None:
    index.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode() if lines else b""))


def _xml_with(pages: list[Page], replace: dict[str, bytes], head: str = "", dbname: str = "enwiki") -> bytes:
    """Export XML in which the text of the pages named in ``replace`` is raw bytes."""
    out = [(head + '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n').encode()]
    out.append(siteinfo_xml(dbname).encode())
    for page in pages:
        xml = page_xml(page).encode()
        if page.title in replace:
            xml = xml.replace(b"PLACEHOLDER", replace[page.title])
        out.append(xml)
    out.append(b"</mediawiki>\n")
    return b"".join(out)


# Each case: (language, what it checks). The files are made by BROKEN below.
def _broken_inputs(root: Path) -> list[str]:
    inputs: list[str] = []

    # case 1: page ids that do not fit int64
    xml = export_xml(_pages(10), dbname="dewiki").replace("<id>5</id>", "<id>9223372036854775808</id>")
    xml = xml.replace("<id>6</id>", f"<id>{10**30}</id>")
    (root / "case1.xml").write_text(xml, "utf-8")
    inputs.append(f"de={root / 'case1.xml'}")

    # case 2: an index line with an offset past the end of the file
    path, index, _ = _multistream(root / "case2", "frwiki", _pages(60), per_stream=10)
    _write_index(index, [*_index_lines(index), f"{path.stat().st_size + 5000}:61:Ghost page"])
    inputs.append(f"fr={path}")

    # case 8: an empty index; an index listing every other stream; one listing the second half
    path, index, _ = _multistream(root / "case8a", "eswiki", _pages(60), per_stream=10)
    _write_index(index, [])
    inputs.append(f"es={path}")
    path, index, offsets = _multistream(root / "case8b", "itwiki", _pages(60), per_stream=10)
    kept = {str(offsets[i]) for i in (0, 2, 4)}
    _write_index(index, [line for line in _index_lines(index) if line.split(":")[0] in kept])
    inputs.append(f"it={path}")
    path, index, offsets = _multistream(root / "case8c", "nlwiki", _pages(60), per_stream=10)
    kept = {str(offsets[i]) for i in (3, 4, 5)}
    _write_index(index, [line for line in _index_lines(index) if line.split(":")[0] in kept])
    inputs.append(f"nl={path}")

    # case 9: whole-file bz2 with a damaged part: concatenated streams (no index), one stream
    path, index, offsets = _multistream(root / "case9a", "plwiki", _pages(60), per_stream=10)
    index.unlink()
    single = root / "case9a" / f"plwiki-{DATE}-pages-articles.xml.bz2"
    data = bytearray(path.read_bytes())
    path.unlink()
    data[offsets[3] + 30 : offsets[3] + 60] = bytes(30)
    single.write_bytes(bytes(data))
    inputs.append(f"pl={single}")
    many = [Page(f"Page {i}", i, f"Text {i} " + "lorem ipsum " * (i % 40)) for i in range(1, 3001)]
    data = bytearray(bz2.compress(export_xml(many, dbname="ptwiki").encode(), compresslevel=1))
    middle = len(data) // 2
    data[middle : middle + 40] = bytes(40)
    (root / "case9b.xml.bz2").write_bytes(bytes(data))
    inputs.append(f"pt={root / 'case9b.xml.bz2'}")

    # case 10: one bad page of each kind in a whole-file XML dump
    bomb = '<?xml version="1.0"?>\n<!DOCTYPE mediawiki [\n <!ENTITY a "aaaaaaaaaa">\n' + "".join(
        f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(8)
    )
    pages = [
        Page(p.title, p.page_id, "PLACEHOLDER" if p.page_id in (3, 7, 11, 15) else p.text) for p in _pages(20)
    ]
    raw = {
        "Page 3": b"bad \xff\xfe utf-8",
        "Page 7": b"raw \x00 nul",
        "Page 11": b"&#0; ref",
        "Page 15": b"&i; bomb",
    }
    (root / "case10.xml").write_bytes(_xml_with(pages, raw, head=bomb + "]>\n", dbname="ruwiki"))
    inputs.append(f"ru={root / 'case10.xml'}")

    # case 11: a child element inside <text>
    pages = [Page("Page 1", 1, "PLACEHOLDER"), *_pages(3, first_id=2)]
    inner = {"Page 1": b"Start <span>middle</span> and the end of [[Tail link]]."}
    (root / "case11.xml").write_bytes(_xml_with(pages, inner, dbname="svwiki"))
    inputs.append(f"sv={root / 'case11.xml'}")
    return inputs


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]], str]:
    root = tmp_path_factory.mktemp("broken")
    args = ["extract", "--out", str(root / "out"), "--workers", "1", "--parse-isolation", "none"]
    args += ["--work-item-mb", "0.0001"]  # a work item per stream: the ghost offset is one of its own
    for spec in _broken_inputs(root):
        args += ["--input", spec]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((root / "out" / "reports" / "extract.json").read_text())
    for lang, stats in report["languages"].items():
        buckets = ("article", "redirect", "skipped_namespace", "skipped_redirect_target", "dead_letter")
        assert sum(stats.get(b, 0) for b in buckets) == stats.get("pages_read", 0), lang
    return root / "out", report["languages"], result.output


def _rows(out: Path, folder: str, lang: str) -> list[dict[str, Any]]:
    return ds.dataset(str(out / folder / lang), format="parquet").to_table().to_pylist()


def test_page_id_beyond_int64_is_a_dead_letter(broken) -> None:  # case 1
    out, stats, _ = broken
    assert stats["de"]["article"] == 8 and stats["de"]["dead_letter.bad_page_xml"] == 2
    errors = _rows(out, "errors", "de")
    assert {row["title"] for row in errors} == {"Page 5", "Page 6"}
    assert all("below 2^63" in row["error"] for row in errors)


def test_index_offset_past_the_end_of_the_file(broken) -> None:  # case 2
    _, stats, _ = broken
    fr = stats["fr"]
    assert fr["article"] == 60
    assert fr["read_problem.corrupt_stream"] == 1 and fr["dead_letter.corrupt_stream"] == 1  # the ghost


@pytest.mark.parametrize("lang", ["es", "it", "nl"])
def test_streams_the_index_does_not_list_are_read(broken, lang: str) -> None:  # case 8
    out, stats, output = broken
    assert stats[lang]["pages_read"] == 60 and stats[lang]["article"] == 60
    assert sorted(row["page_id"] for row in _rows(out, "pages", lang)) == list(range(1, 61))
    if lang == "es":
        assert "lists no streams" in output


def test_damaged_bz2_stream_keeps_the_pages_around_it(broken) -> None:  # case 9
    out, stats, _ = broken
    pl = stats["pl"]
    assert pl["read_problem.corrupt_file"] == 1 and "read_problem.truncated_file" not in pl
    ids = {row["page_id"] for row in _rows(out, "pages", "pl")}
    assert set(range(1, 31)) | set(range(41, 61)) <= ids  # the streams before and after the damage
    pt = stats["pt"]
    assert pt["read_problem.corrupt_file"] == 1 and "read_problem.truncated_file" not in pt
    ids = sorted(row["page_id"] for row in _rows(out, "pages", "pt"))
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > 1000  # every block before the damage


def test_one_bad_page_costs_only_itself(broken) -> None:  # case 10
    out, stats, _ = broken
    ru = stats["ru"]
    assert ru["pages_read"] == 20 and ru["article"] == 16 and ru["dead_letter.bad_page_xml"] == 4
    assert sorted(row["page_id"] for row in _rows(out, "errors", "ru")) == [3, 7, 11, 15]


def test_text_after_a_child_element_is_kept(broken) -> None:  # case 11
    out, _, _ = broken
    (page,) = [row for row in _rows(out, "pages", "sv") if row["page_id"] == 1]
    (paragraph,) = page["paragraphs"]
    assert paragraph["text"] == "Start middle and the end of Tail link."
    assert [(paragraph["text"][x["start"] : x["end"]], x["target"]) for x in paragraph["links"]] == [
        ("Tail link", "Tail link")
    ]


def test_whole_file_reader_resumes_at_the_next_page_without_a_closing_tag(tmp_path: Path) -> None:
    xml = export_xml(_pages(6)).replace(
        "</revision>\n  </page>\n  <page>\n    <title>Page 3", "<page><title>Page 3", 1
    )
    path = tmp_path / "enwiki-x.xml"
    path.write_text(xml, "utf-8")
    entries = list(read_whole_file(str(path)))
    pages = [e.page_id for e in entries if isinstance(e, RawPage)]
    problems = [(e.reason, e.pages_lost, e.title) for e in entries if isinstance(e, ReadProblem)]
    assert pages == [1, 3, 4, 5, 6] and problems == [("bad_page_xml", 1, "Page 2")]


# ----------------------------------------------------------------------------------------------
# Broken page_props through `mluke-data vocab build`: one Error: line naming the file


@pytest.fixture(scope="module")
def extracted_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    args = ["extract", "--source", "sample", "--langs", "en", "--out", str(root), "--workers", "1"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


def _vocab_with_page_props(workdir: Path, tmp_path: Path, mutate: Any) -> tuple[int, str, Path]:
    copy = tmp_path / "work"
    shutil.copytree(workdir, copy)
    (props,) = copy.glob("dumps/enwiki/*/enwiki-*-page_props.sql.gz")
    props.write_bytes(mutate(props.read_bytes()))
    args = ["vocab", "build", "--out", str(copy), "--min-languages", "1", "--workers", "1"]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output, props


def _one_error_line(output: str, *needles: str) -> None:
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_truncated_page_props_gz_is_one_error(extracted_sample: Path, tmp_path: Path) -> None:  # case 4
    code, output, props = _vocab_with_page_props(
        extracted_sample, tmp_path, lambda data: data[: len(data) // 2]
    )
    assert code == 2
    _one_error_line(output, str(props), "cut off", "mluke-data fetch")


def test_page_props_cut_at_a_row_boundary_is_one_error(
    extracted_sample: Path, tmp_path: Path
) -> None:  # case 12
    def cut_after_fifth_row(data: bytes) -> bytes:
        sql = gzip.decompress(data)
        start = sql.index(b"INSERT INTO `page_props` VALUES ")
        position = start
        for _ in range(5):
            position = sql.index(b"),(", position + 1)
        return gzip.compress(sql[: position + 1], mtime=0)

    code, output, props = _vocab_with_page_props(extracted_sample, tmp_path, cut_after_fifth_row)
    assert code == 2
    _one_error_line(output, str(props), "cut off")

    def cut_after_statement(data: bytes) -> bytes:
        sql = gzip.decompress(data)
        return gzip.compress(sql[: sql.index(b";\n", sql.index(b"INSERT INTO `page_props`")) + 2], mtime=0)

    code, output, _ = _vocab_with_page_props(extracted_sample, tmp_path / "2", cut_after_statement)
    assert code == 2
    _one_error_line(output, "ENABLE KEYS")


# ----------------------------------------------------------------------------------------------
# Hostile mirrors through fetch

FAST = RetrySettings(
    max_attempts=4,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    connect_timeout_s=2.0,
    read_timeout_s=2.0,
    block_size=4096,
    max_unlisted_bytes=1 << 20,
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_pipeline, "RETRY_SETTINGS", FAST)
    monkeypatch.delenv("MLUKE_CONTACT", raising=False)


DUMPSTATUS_SHAPES = {
    "files is a list": {"jobs": {"pagepropstable": {"status": "done", "files": ["a", "b"]}}},
    "files is a string": {"jobs": {"pagepropstable": {"status": "done", "files": "x"}}},
    "files is a number": {"jobs": {"pagepropstable": {"status": "done", "files": 7}}},
    "sha1 is a number": {
        "jobs": {
            "pagepropstable": {"status": "done", "files": {f"enwiki-{DATE}-page_props.sql.gz": {"sha1": 5}}}
        }
    },
    "md5 is a list": {
        "jobs": {
            "pagepropstable": {"status": "done", "files": {f"enwiki-{DATE}-page_props.sql.gz": {"md5": []}}}
        }
    },
}


@pytest.mark.parametrize("shape", [*DUMPSTATUS_SHAPES, "deep nesting"])
def test_dumpstatus_with_wrong_types_is_one_error(
    mirror_server: MirrorServer, tmp_path: Path, shape: str
) -> None:
    folder = mirror_server.root / "enwiki" / DATE  # case 5
    folder.mkdir(parents=True)
    text = "[" * 100_000 + "]" * 100_000 if shape == "deep nesting" else json.dumps(DUMPSTATUS_SHAPES[shape])
    (folder / "dumpstatus.json").write_text(text)
    args = ["fetch", "--langs", "en", "--dump-date", DATE, "--mirror", mirror_server.url]
    result = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "out"), "--what", "pageprops", "--dry-run"]
    )
    assert result.exit_code == 2
    _one_error_line(result.output, "dumpstatus.json", "try another --mirror")


def test_full_disk_during_fetch_is_one_error_and_the_rerun_resumes(tmp_path: Path) -> None:  # case 6
    data = fake_bz2(3)
    with MirrorServer(tmp_path / "mirror") as server:
        write_dump(server.root, "enwiki", DATE, {JOB_ARTICLES_MULTISTREAM: {
            f"enwiki-{DATE}-pages-articles-multistream.xml.bz2": data,
            f"enwiki-{DATE}-pages-articles-multistream-index.txt.bz2": bz2.compress(b"600:1:A\n"),
        }})  # fmt: skip
        command = [sys.executable, "-m", "pipeline.cli", "fetch", "--langs", "en", "--dump-date", DATE,
                   "--mirror", server.url, "--out", str(tmp_path / "out"), "--workers", "1", "--what", "articles",
                   "--contact", "test@example.org"]  # fmt: skip

        def small_disk() -> None:  # every file write past 300 bytes fails, as on a full disk
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))

        full = subprocess.run(command, capture_output=True, text=True, preexec_fn=small_disk, timeout=300)
        assert full.returncode == 2, full.stderr
        _one_error_line(full.stdout + full.stderr, "cannot write", "run the same command again")
        again = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        (placed,) = (tmp_path / "out" / "dumps" / "enwiki" / DATE).glob("*multistream.xml.bz2")
        assert placed.read_bytes() == data


def test_full_disk_during_extract_is_one_error(extracted_sample: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(extracted_sample / "dumps", work / "dumps")
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "extract",
        "--langs",
        "en",
        "--out",
        str(work),
        "--workers",
        "1",
    ]

    def small_disk() -> None:  # the pages shard outgrows what the disk takes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8_000, 8_000))

    full = subprocess.run(command, capture_output=True, text=True, preexec_fn=small_disk, timeout=300)
    assert full.returncode == 2, full.stderr
    _one_error_line(full.stdout + full.stderr, "cannot write", "/pages/en/", "run the same command again")


def _task(
    server: MirrorServer, tmp_path: Path, data: bytes, *, size: int | None, sha1: str | None
) -> FileTask:
    name = f"enwiki-{DATE}-pages-articles-multistream.xml.bz2"
    folder = server.root / "enwiki" / DATE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return FileTask(
        wiki="enwiki",
        date=DATE,
        job=JOB_ARTICLES_MULTISTREAM,
        name=name,
        url=f"{server.url}/enwiki/{DATE}/{name}",
        dest=str(tmp_path / "out" / name),
        size=size,
        sha1=sha1,
    )


def _download(task: FileTask) -> Any:
    with requests.Session() as session:
        return download_file(task, session, FAST, sleep=lambda _: None)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", [True, False])
def test_server_that_ignores_range_with_a_short_body_ends(
    mirror_server: MirrorServer, tmp_path: Path, length: bool
) -> None:  # case 13
    import hashlib

    data = fake_bz2(5)
    task = _task(mirror_server, tmp_path, data, size=len(data), sha1=hashlib.sha1(data).hexdigest())
    path = f"/enwiki/{DATE}/{task.name}"
    mirror_server.add_fault(path, "short", times=-1, after_bytes=len(data) // 3, length=length)
    with pytest.raises(FetchError) as error:
        _download(task)
    assert task.name in str(error.value)
    assert len(mirror_server.hits_for(path)) <= 2 * FAST.max_attempts
    assert not Path(task.dest).exists()


@pytest.mark.timeout(60)
def test_listed_size_larger_than_the_file_fails_fast(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:  # case 13
    data = fake_bz2(6)
    task = _task(mirror_server, tmp_path, data, size=len(data) + 1000, sha1=None)
    with pytest.raises(
        FetchError, match=f"serves {len(data)} bytes but dumpstatus.json lists {len(data) + 1000}"
    ):
        _download(task)
    assert len(mirror_server.hits_for(f"/enwiki/{DATE}/{task.name}")) == 1


def test_redirect_to_another_host_is_refused(mirror_server: MirrorServer, tmp_path: Path) -> None:  # case 13
    data = fake_bz2(8)
    task = _task(mirror_server, tmp_path, data, size=len(data), sha1=None)
    with MirrorServer(tmp_path / "elsewhere") as other:
        (other.root / "evil.bz2").write_bytes(data)
        mirror_server.add_fault(
            f"/enwiki/{DATE}/{task.name}", "redirect", status=302, location=f"{other.url}/evil.bz2"
        )
        with pytest.raises(FetchError, match="redirects to another host"):
            _download(task)
        assert other.hits == []
    # a redirect within the mirror is followed
    mirror_server.add_fault(
        f"/enwiki/{DATE}/{task.name}", "redirect", status=302, location=f"/enwiki/{DATE}/{task.name}"
    )
    assert _download(task).status == "downloaded"


def test_without_size_or_checksum_an_html_page_is_refused(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:  # case 14
    data = fake_bz2(9)
    task = _task(mirror_server, tmp_path, data, size=None, sha1=None)
    mirror_server.add_fault(f"/enwiki/{DATE}/{task.name}", "html", times=-1)
    with pytest.raises(ChecksumError, match="HTML page"):
        _download(task)
    assert not Path(task.dest).exists()
    mirror_server.clear()
    assert _download(task).status == "downloaded" and Path(task.dest).read_bytes() == data


@pytest.mark.timeout(60)
def test_without_size_an_endless_body_is_capped(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:  # case 14
    task = _task(mirror_server, tmp_path, fake_bz2(10), size=None, sha1=None)
    mirror_server.add_fault(f"/enwiki/{DATE}/{task.name}", "endless")
    with pytest.raises(FetchError, match="lists no size"):
        _download(task)
    assert not list(Path(task.dest).parent.glob("*.part-*"))


def test_fetch_command_reports_an_html_page_for_an_unlisted_file(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:
    files = {
        f"enwiki-{DATE}-page_props.sql.gz": gzip.compress(
            b"INSERT INTO `page_props` VALUES (1,'a','b',NULL);\n"
        )
    }
    write_dump(mirror_server.root, "enwiki", DATE, {"pagepropstable": files}, checksums=False, sizes=False)
    mirror_server.add_fault(f"/enwiki/{DATE}/enwiki-{DATE}-page_props.sql.gz", "html", times=-1)
    args = [
        "fetch",
        "--langs",
        "en",
        "--dump-date",
        DATE,
        "--mirror",
        mirror_server.url,
        "--what",
        "pageprops",
    ]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 2
    _one_error_line(result.output, f"enwiki-{DATE}-page_props.sql.gz", "HTML page")


# ----------------------------------------------------------------------------------------------
# Minor points


def test_stray_brackets_do_not_reach_the_text() -> None:
    article = extract_article("Before [[ after {{x|{|\n|a\n|}}}} tail ]] end.", EN)
    assert [p.text for p in article.paragraphs] == ["Before after tail end."]


@pytest.mark.parametrize("raw", ["%2525", "&amp;amp;", "a\x00b", "x&#38;amp;y", "::Foo"])
def test_titles_that_decode_twice_or_hold_nul_are_invalid(raw: str) -> None:
    assert normalize_title(raw, EN) is None
