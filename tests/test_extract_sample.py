"""Extract on the bundled sample wiki: every structured page comes out exactly as the sample says."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.sample import SAMPLE_LANGS, sample_pages


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    result = CliRunner().invoke(cli, ["extract", "--source", "sample", "--out", str(root), "--workers", "2"])
    assert result.exit_code == 0, result.output
    return root


def rows(root: Path, folder: str, lang: str) -> list[dict]:
    return ds.dataset(str(root / folder / lang), format="parquet").to_table().to_pylist()


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_articles_match_the_sample_truth(workdir, lang):
    extracted = {row["page_id"]: row for row in rows(workdir, "pages", lang)}
    checked = 0
    for page in sample_pages(lang):
        if page.expected is None:
            continue
        row = extracted[page.page_id]
        got = [
            (p["text"], [(p["text"][x["start"] : x["end"]], x["target"]) for x in p["links"]])
            for p in row["paragraphs"]
        ]
        assert got == [(text, list(links)) for text, links in page.expected.paragraphs], page.title
        assert sum(p["is_lead"] for p in row["paragraphs"]) == page.expected.lead_count, page.title
        assert row["categories"] == list(page.expected.categories), page.title
        assert row["is_disambiguation"] == page.is_disambiguation, page.title
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_redirects_namespaces_and_accounting(workdir, lang):
    pages = sample_pages(lang)
    report = json.loads((workdir / "reports" / "extract.json").read_text())["languages"][lang]
    assert report["pages_read"] == len(pages)
    assert report["skipped_namespace"] == sum(p.namespace != 0 for p in pages)
    redirects = {row["title"]: row["target"] for row in rows(workdir, "redirects", lang)}
    expected = {p.title: p.redirect_to for p in pages if p.redirect_to and p.namespace == 0}
    assert {title: target.split("#")[0] for title, target in expected.items()} == redirects
    articles = {row["page_id"] for row in rows(workdir, "pages", lang)}
    errors = rows(workdir, "errors", lang)
    assert len(articles) + len(redirects) + len(errors) + report["skipped_namespace"] + report.get(
        "skipped_redirect_target", 0
    ) == len(pages)
