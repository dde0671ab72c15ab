"""The extract stage end to end through its CLI, on the FnApiRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from dumpfactory import Page, export_xml, write_multistream

from pipeline.cli import cli

ARTICLES = [
    Page("Berlin", 1, "'''Berlin''' is the capital of [[germany]].<ref>x</ref>\n\nIt has [[bus]]es."),
    Page("Germany", 2, "{{Infobox country}}\n'''Germany''' borders [[France]] and [[Poland|its east]]."),
    Page("Capital", 3, "#REDIRECT [[Capital city]]"),
    Page("Hauptstadt", 4, "#REDIRECT [[Berlin#History]]", redirect="Berlin#History"),
    Page("Category:Cities", 5, "[[Category:Places]]", ns=14),
    Page("Gone", 6, None),
    Page("Huge", 7, "word " * 5000),
    Page("Mercury", 8, "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}"),
    Page("Portal redirect", 9, "#REDIRECT [[Portal:Cities]]"),
] + [Page(f"Town {i}", 100 + i, f"Town {i} lies near [[Berlin]] and [[Town {i + 1}]].") for i in range(40)]


def make_mirror(root: Path) -> None:
    folder = root / "dumps" / "enwiki" / "20261101"
    folder.mkdir(parents=True)
    write_multistream(
        str(folder / "enwiki-20261101-pages-articles-multistream.xml.bz2"),
        str(folder / "enwiki-20261101-pages-articles-multistream-index.txt.bz2"),
        ARTICLES,
        per_stream=6,
    )


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def table(root: Path, folder: str, lang: str = "en") -> list[dict]:
    return ds.dataset(str(root / folder / lang), format="parquet").to_table().to_pylist()


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("work")
    make_mirror(root)
    code, output = run(
        [
            "extract",
            "--out",
            str(root),
            "--workers",
            "2",
            "--work-item-mb",
            "0.0001",
            "--max-page-chars",
            "20000",
        ]
    )
    assert code == 0, output
    return root


def test_every_page_is_accounted_for(extracted):
    report = json.loads((extracted / "reports" / "extract.json").read_text())
    stats = report["languages"]["en"]
    assert stats["pages_read"] == len(ARTICLES)
    assert (
        stats["article"]
        + stats["redirect"]
        + stats["skipped_namespace"]
        + stats["skipped_redirect_target"]
        + stats["dead_letter"]
        == stats["pages_read"]
    )
    assert stats["dead_letter.missing_text"] == 1 and stats["dead_letter.too_large"] == 1
    assert stats["skipped_namespace"] == 1 and stats["skipped_redirect_target"] == 1
    assert stats["rows_written.pages"] == stats["article"] == len(table(extracted, "pages"))
    assert stats["rows_written.errors"] == 2


def test_outputs(extracted):
    pages = {row["title"]: row for row in table(extracted, "pages")}
    berlin = pages["Berlin"]["paragraphs"]
    assert [p["text"] for p in berlin] == ["Berlin is the capital of germany.", "It has buses."]
    assert [(p["text"][x["start"] : x["end"]], x["target"]) for p in berlin for x in p["links"]] == [
        ("germany", "Germany"),
        ("buses", "Bus"),
    ]
    assert pages["Mercury"]["is_disambiguation"]
    redirects = {row["title"]: row["target"] for row in table(extracted, "redirects")}
    assert redirects == {"Capital": "Capital city", "Hauptstadt": "Berlin"}
    errors = {row["title"]: row["reason"] for row in table(extracted, "errors")}
    assert errors == {"Gone": "missing_text", "Huge": "too_large"}
    shards = sorted(p.name for p in (extracted / "pages" / "en").iterdir())
    assert len(shards) == 9 and shards[0] == "en-00000-of-00009.parquet"


def test_one_worker_gives_the_same_bytes_as_two(extracted):
    def snapshot() -> dict[str, bytes]:
        return {
            str(path.relative_to(extracted)): path.read_bytes()
            for folder in ("pages", "redirects", "errors")
            for path in sorted((extracted / folder / "en").iterdir())
        }

    two_workers = snapshot()
    code, output = run(
        [
            "extract",
            "--out",
            str(extracted),
            "--workers",
            "1",
            "--work-item-mb",
            "0.0001",
            "--max-page-chars",
            "20000",
        ]
    )
    assert code == 0, output
    assert snapshot() == two_workers


def test_explicit_input_files_in_any_shape(tmp_path):
    xml = export_xml([Page("Straße", 1, "Die [[straße]] in [[Köln]].")], dbname="dewiki", version="0.4")
    plain = tmp_path / "dewiki-latest-pages-articles.xml"
    plain.write_bytes(xml.encode("utf-16"))
    out = tmp_path / "out"
    code, output = run(["extract", "--out", str(out), "--input", str(plain), "--workers", "1", "--json"])
    assert code == 0, output
    (row,) = table(out, "pages", "de")
    assert row["paragraphs"][0]["links"][0]["target"] == "Straße"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--langs", "xx"], "unknown Wikipedia language code 'xx'"),
        (["--input", "en=/nonexistent/file.xml.bz2"], "dump file not found: /nonexistent/file.xml.bz2"),
        (["--input", "=oops"], "--input expects LANG=PATH"),
        (["--input", "/tmp/unnamed.xml"], "cannot tell the language from the file name"),
        (["--lang", "en"], "unknown option --lang"),
        ([], "no dumps under"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["extract", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    import bz2

    many = [
        Page(f"Page {i}", i + 1, f"Text {i} about [[Topic {i}]]. " + "filler " * (i % 50))
        for i in range(3000)
    ]
    data = bz2.compress(export_xml(many).encode(), compresslevel=1)
    truncated = tmp_path / "enwiki-truncated.xml.bz2"
    truncated.write_bytes(data[: len(data) // 2])
    broken = tmp_path / "enwiki-broken.xml"
    broken.write_text(
        export_xml(many[:20]).replace("<title>Page 10</title>", "<title>Page 10</titel>"), "utf-8"
    )
    empty = tmp_path / "enwiki-empty.xml"
    empty.write_bytes(b"")
    no_siteinfo = tmp_path / "dewiki-nosite.xml"
    no_siteinfo.write_text(
        export_xml(
            [Page("Kategorie:Stadt", 1, "x"), Page("Berlin", 2, "[[Köln]]")], siteinfo=False, version="0.5"
        ),
        "utf-8",
    )
    return {
        "truncated": (truncated, "truncated_file"),
        "broken": (broken, "bad_page_xml"),
        "empty": (empty, "empty_file"),
        "no_siteinfo": (no_siteinfo, ""),
    }


@pytest.mark.parametrize("case", ["truncated", "broken", "empty", "no_siteinfo"])
def test_bad_input_files_are_reported_not_fatal(tmp_path, case):
    path, reason = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    code, output = run(["extract", "--out", str(out), "--input", str(path), "--workers", "1", "--json"])
    assert code == 0, output
    report = json.loads(output)
    (lang,) = report["languages"]
    stats = report["languages"][lang]
    errors = table(out, "errors", lang)
    if case == "no_siteinfo":
        # The namespace comes from the title prefix with built-in German names.
        assert stats["skipped_namespace"] == 1 and stats["article"] == 1 and errors == []
        return
    assert stats[f"read_problem.{reason}"] == 1
    assert [row["reason"] for row in errors] == [reason] and errors[0]["error"]
    assert stats.get("pages_read", 0) == stats.get("article", 0) + stats.get("dead_letter", 0)
    if case == "truncated":
        assert 0 < stats["article"] < 3000  # every complete page before the cut is kept
        # The page cut in half is counted as read and lost.
        assert stats["dead_letter.truncated_file"] == 1 and errors[0]["page_id"] == stats["article"] + 1
    if case == "broken":
        assert stats["article"] == 19 and errors[0]["page_id"] == 11
