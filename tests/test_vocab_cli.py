"""``mluke-data vocab build|stats|lookup|compare`` through click's CliRunner on the hand-made work
directory of test_vocab.py, and the Hugging Face MLukeTokenizer reading our entity_vocab.json."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_vocab import ARTICLES, LANGS, expected_vocab, render, write_workdir

from pipeline.vocab import vocab_group


def invoke(*args: str) -> Result:
    return CliRunner().invoke(vocab_group, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vocab_cli")
    write_workdir(root)
    result = invoke("build", "--out", str(root), "--workers", "1")
    assert result.exit_code == 0, result.output
    return root


def hf_vocab(workdir: Path) -> dict[str, int]:
    return json.loads((workdir / "vocab" / "entity_vocab.json").read_text())


def test_build_prints_a_summary(workdir: Path) -> None:
    result = invoke("build", "--out", str(workdir), "--workers", "1", "--langs", "en,ja,fr,de,ar")
    assert result.exit_code == 0
    assert f"{len(expected_vocab())} entities" in result.output
    for lang in LANGS:
        assert f"\n│ {lang} " in result.output or f"┃ {lang}" in result.output or f"│ {lang}" in result.output
    assert "total" in result.output


def test_build_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(vocab_group, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "run `mluke-data extract" in result.output
    write_workdir(tmp_path)
    result = CliRunner().invoke(vocab_group, ["build", "--out", str(tmp_path), "--interwiki", "bogus"])
    assert result.exit_code == 2 and "--interwiki must be one of" in result.output
    result = CliRunner().invoke(vocab_group, ["build", "--out", str(tmp_path), "--langs", "xx"])
    assert result.exit_code == 2 and "unknown Wikipedia language code 'xx'" in result.output
    result = CliRunner().invoke(vocab_group, ["build", "--out", str(tmp_path), "--min-languagess", "2"])
    assert result.exit_code == 2 and "--min-languages" in result.output  # did you mean


@pytest.mark.parametrize("command", ["stats", "lookup", "compare"])
def test_inspection_without_a_vocab_says_to_build_first(tmp_path: Path, command: str) -> None:
    args = [command, str(tmp_path)] + {"stats": [], "lookup": ["Berlin"], "compare": [str(tmp_path)]}[command]
    result = CliRunner().invoke(vocab_group, args)
    assert result.exit_code == 2
    assert "run `mluke-data vocab build" in result.output
    assert "Traceback" not in result.output


def test_stats_table(workdir: Path) -> None:
    result = invoke("stats", str(workdir), "--top", "3")
    assert result.exit_code == 0
    out = result.output
    assert f"{len(expected_vocab())} entities" in out
    assert "Per language" in out and "coverage" in out
    assert "Languages per entity" in out and "Links per entity (quantiles)" in out
    assert "Top 3 entities" in out
    assert "Mentions by link probability" in out
    top_qid = expected_vocab()[0][0]
    assert top_qid in out
    # default title columns: the three languages with most entities (ties by code)
    assert "Germany" in out or "Deutschland" in out


def test_stats_json_and_langs(workdir: Path) -> None:
    result = invoke("stats", str(workdir), "--json", "--langs", "ja,ar", "--top", "2")
    data = json.loads(result.output)
    assert set(data["per_language"]) == {"ja", "ar"}
    assert data["entities"] == len(expected_vocab())
    assert [row["wikidata_id"] for row in data["top"]] == [qid for qid, _ in expected_vocab()[:2]]
    assert set(data["top"][0]["titles"]) == {"ja", "ar"}
    ja = data["per_language"]["ja"]
    assert 0 < ja["coverage"] <= 1 and ja["links_in_vocab"] <= ja["links"]
    # link probabilities: one value per mention, recounted here from the mention table
    import pyarrow.parquet as pq

    rows = pq.read_table(workdir / "vocab" / "mentions" / "ja.parquet").to_pylist()
    per_mention = {row["mention"]: row["link_prob"] for row in rows}
    link = data["link_prob"]["ja"]
    assert link["mentions"] == len(per_mention) == sum(n for _, n in link["bins"])
    assert link["quantiles"]["max"] == max(per_mention.values())
    assert link["quantiles"]["min"] == min(per_mention.values())
    assert link["below_0.01"] == sum(1 for p in per_mention.values() if p < 0.01)
    bad = CliRunner().invoke(vocab_group, ["stats", str(workdir), "--langs", "ko"])
    assert bad.exit_code == 2 and "ko not in this vocabulary" in bad.output


def test_stats_plot(workdir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "stats.png"
    result = invoke("stats", str(workdir), "--plot", str(png), "--top", "0")
    assert result.exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def _lookup(workdir: Path, *args: str) -> list[dict[str, Any]]:
    result = invoke("lookup", str(workdir), *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_lookup_by_title_qid_id_and_redirect(workdir: Path) -> None:
    hf = hf_vocab(workdir)
    berlin = hf["en:Berlin"]
    by_title = _lookup(workdir, "ベルリン")
    assert [hit["id"] for hit in by_title] == [berlin]
    assert by_title[0]["wikidata_id"] == "Q64"
    assert {t["lang"] for t in by_title[0]["titles"]} == set(LANGS)
    assert _lookup(workdir, "Q64")[0]["id"] == berlin
    assert _lookup(workdir, str(berlin))[0]["wikidata_id"] == "Q64"
    assert _lookup(workdir, "de:Berlin")[0]["id"] == berlin
    # a redirect two hops away, and a lower-case first letter
    frg = _lookup(workdir, "fRG", "--lang", "en")
    assert frg[0]["id"] == hf["en:Germany"] and "redirect" in frg[0]["matched"]
    # "Berlin" is the title in four languages: one entity
    assert len(_lookup(workdir, "Berlin")) == 1


def test_lookup_shows_top_mentions(workdir: Path) -> None:
    hit = _lookup(workdir, "Germany", "--lang", "en", "--mentions", "3")[0]
    mentions = hit["mentions"]["en"]
    assert mentions[0]["mention"] == "germany" and mentions[0]["count"] == 5
    assert {m["mention"] for m in mentions} >= {"germany", "federal republic"}
    table = invoke("lookup", str(workdir), "Q183")
    assert "Deutschland" in table.output and "germany (5, 1.00)" in table.output


def test_lookup_errors(workdir: Path) -> None:
    for query in ("Earth", "Q2", "Nowhere at all"):
        result = CliRunner().invoke(vocab_group, ["lookup", str(workdir), query])
        assert result.exit_code == 2 and "no vocabulary entity matches" in result.output
    result = CliRunner().invoke(vocab_group, ["lookup", str(workdir), "2"])
    assert result.exit_code == 2 and "[MASK]" in result.output


def test_compare_with_itself_and_other_formats(workdir: Path, tmp_path: Path) -> None:
    result = json.loads(invoke("compare", str(workdir), str(workdir), "--json").output)
    n = len(expected_vocab())
    assert result["wikidata_ids_in_both"] == n
    assert result["only_ours"]["entities"] == result["only_other"]["entities"] == 0

    # luke's jsonl: ours minus its first entity
    lines = (workdir / "vocab" / "entity_vocab.jsonl").read_text().splitlines()
    luke = tmp_path / "entity_vocab.jsonl"
    luke.write_text("\n".join(lines[:4] + lines[5:]) + "\n")
    result = json.loads(invoke("compare", str(workdir), str(luke), "--json").output)
    assert result["other"]["kind"] == "luke-jsonl"
    assert result["entities_matched_by_title"] == {"ours": n - 1, "other": n - 1}
    assert result["only_ours"]["top"][0]["wikidata_id"] == expected_vocab()[0][0]
    assert result["only_other"]["entities"] == 0

    # a Hugging Face entity_vocab.json like mluke-base's: other ids, partial overlap, an extra entity
    hf = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3, "en:Berlin": 4, "ja:ベルリン": 4,
          "en:Tokyo": 5, "fr:Tokyo": 5, "en:Moon": 6, "de:Mond": 6}  # fmt: skip
    hf_path = tmp_path / "entity_vocab.json"
    hf_path.write_text(json.dumps(hf, ensure_ascii=False))
    result = json.loads(invoke("compare", str(workdir), str(hf_path), "--json").output)
    assert result["other"] == {"path": str(hf_path), "kind": "hf-json", "entities": 3, "titles": 6}
    assert result["titles_in_both"] == 4
    assert result["entities_matched_by_title"] == {"ours": 2, "other": 2}
    assert result["only_other"]["top"][0]["title"] == "Moon"
    assert result["per_language"]["ja"]["both"] == 1
    table = invoke("compare", str(workdir), str(hf_path))
    assert "Only in the other: 1 entities" in table.output and "Moon" in table.output


def test_compare_other_missing(workdir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(vocab_group, ["compare", str(workdir), str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "no such file" in result.output


@pytest.mark.train
def test_mluke_tokenizer_reads_our_entity_vocab(workdir: Path, tmp_path: Path) -> None:
    """Hugging Face's MLukeTokenizer loads entity_vocab.json next to a sentencepiece model, and the
    titles of one entity in two languages get the same entity id."""
    transformers = pytest.importorskip("transformers")
    spm = pytest.importorskip("sentencepiece")
    text = [render(p, lang)["text"] for lang in LANGS for _, _, _, paras in ARTICLES[lang] for p in paras]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text * 10),
        model_writer=model,
        vocab_size=300,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    shutil.copy(workdir / "vocab" / "entity_vocab.json", folder / "entity_vocab.json")
    tokenizer = transformers.MLukeTokenizer.from_pretrained(str(folder))
    hf = hf_vocab(workdir)
    assert tokenizer.entity_vocab == hf
    assert [tokenizer.entity_pad_token_id, tokenizer.entity_unk_token_id, tokenizer.entity_mask_token_id] == [
        0,
        1,
        2,
    ]
    en = tokenizer("Berlin is the capital of Germany.", entities=["en:Berlin", "en:Germany"],
                   entity_spans=[(0, 6), (25, 32)])  # fmt: skip
    ja = tokenizer(
        "ベルリンはドイツの首都である。", entities=["ja:ベルリン", "ja:ドイツ"], entity_spans=[(0, 4), (5, 8)]
    )
    assert en["entity_ids"] == ja["entity_ids"] == [hf["en:Berlin"], hf["en:Germany"]]
    assert hf["en:Berlin"] != hf["en:Germany"]
    unknown = tokenizer("Mars", entities=["en:Mars"], entity_spans=[(0, 4)])
    assert unknown["entity_ids"] == [tokenizer.entity_unk_token_id]
