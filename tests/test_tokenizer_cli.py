"""``mluke-data tokenizer train`` on a small multilingual pages fixture."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
from click.testing import CliRunner
from spm_fixtures import CORPUS

from pipeline.tokenizer import (
    language_quotas,
    sample_paragraphs,
    text_bytes,
    tokenizer_group,
)
from schemas.pages import PAGE_SCHEMA
from schemas.tokens import UNK_ID
from transforms.tokenization import load_tokenizer

# English gets many pages (variants of its sentences), the others one page each.
ENGLISH_COPIES = 12


def pages_of(lang: str, copies: int) -> list[dict[str, Any]]:
    sentences = CORPUS[lang]
    rows = []
    for copy in range(copies):
        paragraphs = []
        for i in range(0, len(sentences), 2):
            text = " ".join(sentences[i : i + 2])
            if copy:
                text = f"{text} ({copy})"
            paragraphs.append({"text": text, "is_lead": i == 0, "links": []})
        rows.append(
            {
                "lang": lang,
                "page_id": copy + 1,
                "revision_id": 1,
                "title": f"Page {copy}",
                "namespace": 0,
                "is_disambiguation": False,
                "categories": [],
                "paragraphs": paragraphs,
            }
        )
    return rows


def write_pages(workdir: Path, langs: dict[str, int]) -> None:
    for lang, copies in langs.items():
        folder = workdir / "pages" / lang
        folder.mkdir(parents=True, exist_ok=True)
        rows = pages_of(lang, copies)
        # Two shards per language, to read several files.
        half = max(1, len(rows) // 2)
        for index, chunk in enumerate([rows[:half], rows[half:]]):
            if chunk:
                table = pa.Table.from_pylist(chunk, schema=PAGE_SCHEMA)
                pq.write_table(table, folder / f"{lang}-{index:05d}-of-00002.parquet", row_group_size=3)


LANGS = {"en": ENGLISH_COPIES, "de": 1, "ja": 1, "th": 1}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_pages(tmp_path / "work", LANGS)
    return tmp_path / "work"


def train(workdir: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        tokenizer_group,
        ["train", "--out", str(workdir), "--vocab-size", "400", "--sample-sentences", "40", "--json", *args],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # progress lines go to stderr


def test_language_quotas() -> None:
    sizes = {"en": 900, "de": 100, "xx": 0}
    assert language_quotas(sizes, 100, 1.0) == {"en": 90, "de": 10, "xx": 0}
    assert language_quotas(sizes, 100, 0.0) == {"en": 50, "de": 50, "xx": 0}
    smoothed = language_quotas(sizes, 1000, 0.7)
    # q_de = 0.1^0.7 / (0.9^0.7 + 0.1^0.7) = 0.1995 / 1.1284 = 0.1768
    assert smoothed == {"en": 823, "de": 177, "xx": 0}
    assert sum(language_quotas({"a": 1, "b": 1, "c": 1}, 10, 0.7).values()) == 10
    assert language_quotas({"a": 0}, 10, 0.7) == {"a": 0}


def test_sample_paragraphs_is_bounded_uniform_and_seeded(workdir: Path) -> None:
    files = sorted(str(p) for p in (workdir / "pages" / "en").glob("*.parquet"))
    everything, read = sample_paragraphs(files, 10_000, 0, "en")
    assert read == len(everything) == ENGLISH_COPIES * 7
    sample, read = sample_paragraphs(files, 5, 0, "en")
    assert read == ENGLISH_COPIES * 7 and len(sample) == 5 and len(set(sample)) == 5
    assert set(sample) <= set(everything)
    assert sample_paragraphs(files, 5, 0, "en")[0] == sample
    assert sample_paragraphs(files, 5, 1, "en")[0] != sample
    # Paragraphs from both files and from late pages get picked.
    picked = {p for seed in range(20) for p in sample_paragraphs(files, 5, seed, "en")[0]}
    assert any(f"({ENGLISH_COPIES - 1})" in p for p in picked)
    assert sample_paragraphs(files, 0, 0, "en") == ([], 0)


def test_train_writes_model_vocab_and_metadata(workdir: Path) -> None:
    metadata = train(workdir, "--seed", "3")
    folder = workdir / "tokenizer"
    model = (folder / "sentencepiece.bpe.model").read_bytes()
    assert metadata == json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    assert metadata["sha256"] == hashlib.sha256(model).hexdigest()
    processor = spm.SentencePieceProcessor(model_proto=model)
    assert metadata["pieces"] == processor.get_piece_size() <= 400
    assert metadata["word_vocab_size"] == metadata["pieces"] + 2
    assert metadata["mask_id"] == metadata["pieces"] + 1
    assert (processor.unk_id(), processor.bos_id(), processor.eos_id(), processor.pad_id()) == (0, 1, 2, -1)
    vocab_lines = (folder / "sentencepiece.bpe.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab_lines) == metadata["pieces"] and vocab_lines[0].startswith("<unk>\t")
    assert metadata["settings"]["vocab_size"] == 400 and metadata["settings"]["seed"] == 3
    assert metadata["settings"]["character_coverage"] == 0.9999
    assert metadata["settings"]["byte_fallback"] is False
    languages = metadata["languages"]
    assert sorted(languages) == ["de", "en", "ja", "th"]
    assert sum(info["quota"] for info in languages.values()) == 40
    assert metadata["sample_sentences"] == sum(info["sentences"] for info in languages.values())
    for lang, info in languages.items():
        assert info["text_bytes"] > 0 and info["files"] == (2 if LANGS[lang] > 1 else 1)
        assert info["sentences"] <= info["quota"]
        assert info["paragraphs_read"] == LANGS[lang] * ((len(CORPUS[lang]) + 1) // 2)
    # English has ~12x the text but, smoothed, less than 12x the sentences of German.
    assert languages["en"]["text_bytes"] > 8 * languages["de"]["text_bytes"]
    assert languages["en"]["quota"] < 8 * languages["de"]["quota"]
    # The model loads with our id convention and covers every script of the sample (characters
    # not in the 40 sampled sentences, or beyond the coverage, become <unk>).
    tokenizer = load_tokenizer(str(folder))
    assert tokenizer.sha256 == metadata["sha256"]
    for lang in LANGS:
        ids = [i for sentence in CORPUS[lang] for i in tokenizer.encode(sentence)]
        assert ids.count(UNK_ID) < (0.02 if lang == "en" else 0.25) * len(ids), lang


def test_coverage_options_reach_no_unk(workdir: Path) -> None:
    """--byte-fallback spells every character the model has no piece for in bytes: no <unk> on
    any language, even for characters outside the training sample."""
    metadata = train(workdir, "--vocab-size", "1500", "--byte-fallback", "--character-coverage", "0.999")
    assert metadata["settings"]["byte_fallback"] is True
    assert metadata["settings"]["character_coverage"] == 0.999
    tokenizer = load_tokenizer(str(workdir / "tokenizer"))
    for lang in LANGS:
        text = " ".join(CORPUS[lang])
        ids = tokenizer.encode(text)
        assert ids and UNK_ID not in ids, lang


def test_same_pages_and_flags_give_identical_files(workdir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(workdir, other)
    train(workdir)
    train(other)
    for name in ("sentencepiece.bpe.model", "sentencepiece.bpe.vocab", "tokenizer.json"):
        assert (workdir / "tokenizer" / name).read_bytes() == (other / "tokenizer" / name).read_bytes()
    reseeded = train(other, "--seed", "5")
    first = json.loads((workdir / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))
    assert reseeded["sha256"] != first["sha256"]


def test_langs_and_summary_table(workdir: Path) -> None:
    result = CliRunner().invoke(
        tokenizer_group,
        [
            "train",
            "--out",
            str(workdir),
            "--langs",
            "ja,de",
            "--vocab-size",
            "300",
            "--sample-sentences",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ja" in result.output and "sentencepiece.bpe.model" in result.output
    metadata = json.loads((workdir / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8"))
    assert sorted(metadata["languages"]) == ["de", "ja"]


def test_user_errors(tmp_path: Path, workdir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(tokenizer_group, ["train", "--out", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "run `mluke-data extract` first" in result.output
    result = runner.invoke(tokenizer_group, ["train", "--out", str(workdir), "--langs", "en,ko"])
    assert result.exit_code == 2 and "no pages for ko" in result.output
    result = runner.invoke(tokenizer_group, ["train", "--out", str(workdir), "--langs", "xx-nope"])
    assert result.exit_code == 2 and "--langs" in result.output


def test_text_bytes_reads_footers_only(workdir: Path) -> None:
    files = sorted(str(p) for p in (workdir / "pages" / "de").glob("*.parquet"))
    text = sum(len(p["text"].encode()) for page in pages_of("de", 1) for p in page["paragraphs"])
    # Uncompressed column bytes: the text plus per-value lengths and page headers.
    assert text <= text_bytes(files) <= text * 2 + 1000
