"""Mention occurrences: the shared mention rule, the matcher, and doc_count / link_doc_count /
link_prob of the vocab stage checked against a recount done here, independently of the stage's
code (its own normalization and a boundary test on characters instead of tokens)."""

from __future__ import annotations

import random
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from schemas.mentions import LongestMatch, mention_tokens, normalize_mention, text_tokens
from schemas.pages import PAGE_SCHEMA
from schemas.vocab_tables import MENTIONS_SCHEMA
from transforms.mentions import MentionMatcher, count_page_mentions, pass_of, passes_for, table_pages

# ---------------------------------------------------------------------------------------------
# The independent recount


_INVISIBLE = set("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e")
_NO_SPACE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "MYANMAR", "KHMER", "BOPOMOFO",
                     "HALFWIDTH KATAKANA", "IDEOGRAPHIC")  # fmt: skip


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if c.isspace() or c in _INVISIBLE else c for c in text)
    return " ".join(text.split()).lower()


def _mark(c: str) -> bool:
    return unicodedata.category(c).startswith("M")


def _no_space(c: str) -> bool:
    return unicodedata.name(c, "").startswith(_NO_SPACE_SCRIPTS) or c in "々〆〇"


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _boundary(before: str, after: str) -> bool:
    """May a mention start or end between these two characters of a normalized text?"""
    if before == " " or after == " ":
        return True
    if _mark(after):
        return not (_word(before) or _mark(before) or _no_space(before))
    if _no_space(before) or _no_space(after):
        return True
    return not ((_word(before) or _mark(before)) and _word(after))


def occurs(key: str, text: str) -> bool:
    start = text.find(key)
    while start >= 0:
        end = start + len(key)
        if (start == 0 or _boundary(text[start - 1], text[start])) and (
            end == len(text) or _boundary(text[end - 1], text[end])
        ):
            return True
        start = text.find(key, start + 1)
    return False


def recount(pages: list[dict[str, Any]], keys: set[str]) -> dict[str, tuple[int, int]]:
    docs: Counter[str] = Counter()
    link_docs: Counter[str] = Counter()
    for page in pages:
        texts = [_norm(p["text"]) for p in page["paragraphs"]]
        linked = {
            _norm(p["text"][link["start"] : link["end"]]) for p in page["paragraphs"] for link in p["links"]
        } & keys
        found = {key for key in keys if any(occurs(key, text) for text in texts)} | linked
        docs.update(found)
        link_docs.update(linked)
    return {key: (docs[key], link_docs[key]) for key in keys}


# ---------------------------------------------------------------------------------------------
# The rule and the matcher


def test_normalize_mention_is_shared() -> None:
    from training import qa
    from transforms import link_counts

    assert link_counts.normalize_mention is normalize_mention
    assert qa.normalize_mention is normalize_mention
    assert normalize_mention("  The  Federal\nRepublic ") == "the federal republic"
    assert normalize_mention("ＩＰｈｏｎｅ") == "iphone"
    assert normalize_mention("a\u200bb\u200e") == "a b"


def test_word_boundaries_in_spaced_scripts() -> None:
    matcher = MentionMatcher(["york", "new york", "berlin", "rhein", "hindi", "हिन्दी", "ελλάδα"])
    found = matcher.find(normalize_mention("New York, Yorkshire and the Berliner Rheinland; हिन्दी भाषा"))
    assert {matcher.keys[i] for i in found} == {"york", "new york", "हिन्दी"}
    assert {matcher.keys[i] for i in matcher.find(normalize_mention("ΕΛΛΆΔΑ."))} == {"ελλάδα"}
    assert matcher.find(normalize_mention("newyork yorkshire")) == set()


@pytest.mark.parametrize(
    ("lang", "text", "inside", "not_inside"),
    [
        ("ja", "東京都庁は新宿区にある。ベルリンの壁。", ["東京", "東京都", "京都", "ベルリン", "新宿"], ["大阪", "ベルリン市"]),
        ("zh", "北京市是中华人民共和国的首都。", ["北京", "北京市", "中华人民共和国", "首都", "人民"], ["上海", "首都圈"]),
        ("th", "ภาษาไทยเป็นภาษาราชการของประเทศไทย", ["ภาษา", "ภาษาไทย", "ไทย", "ประเทศไทย"], ["ลาว", "ภาษาลาว"]),
    ],
)  # fmt: skip
def test_substring_matching_without_spaces(
    lang: str, text: str, inside: list[str], not_inside: list[str]
) -> None:
    matcher = MentionMatcher(inside + not_inside)
    found = {matcher.keys[i] for i in matcher.find(normalize_mention(text))}
    assert found == set(inside), lang
    assert all(occurs(key, normalize_mention(text)) for key in inside)  # the recount agrees
    # longest match at fine-tuning time takes the longest candidate at each position
    linker = LongestMatch([(key, key) for key in inside])
    detected = [d.mention for d in linker.detect(text)]
    assert detected and all(len(m) >= 2 for m in detected)
    assert "東京都" in detected or lang != "ja"
    assert "北京市" in detected or lang != "zh"
    assert "ภาษาไทย" in detected or lang != "th"
    for detection in linker.detect(text):
        assert normalize_mention(text[detection.start : detection.end]) == detection.mention


def test_text_tokens_agree_with_tokens_of_the_normalized_text() -> None:
    """The raw-text tokens used for detection are the tokens of the normalized text (realistic text)."""
    samples = [
        "Ｔｏｋｙｏ　Ｔｏｗｅｒ は東京都港区にある。",
        "The ﬁrst iPhone™ cost $499 (2007).",
        "ｶﾞｽﾀﾝｸ と ｱﾊﾟｰﾄ",
        "Ελλάδα ΟΔΟΣ Σ",
        "हिन्दी भाषा, ภาษาไทย ๑๒๓",
        "Köln\u00a0liegt am Rhein\u200b.\u200e Straße",
        "서울특별시는 대한민국의 수도이다.",
        "e\u0301cole ① ⑴ Ⅻ",
        "العربية الفصحى",
    ]
    rng = random.Random(3)
    words = " ".join(samples).split()
    samples += [" ".join(rng.choice(words) for _ in range(8)) for _ in range(300)]
    for text in samples:
        tokens, spans = text_tokens(text)
        assert tokens == mention_tokens(normalize_mention(text)), text
        assert len(spans) == len(tokens)


def test_count_page_mentions_counts_pages_not_occurrences() -> None:
    matcher = MentionMatcher(["paris", "the", "city"])
    pages = [
        (["Paris is the city of light. Paris!", "The city."], [(0, 0, 5)]),  # linked once, 2x in text
        (["Parisian food is the best."], []),
        (["un", "xparis"], [(1, 1, 6)]),  # an anchor inside a word still counts as an occurrence
    ]
    counts = {matcher.keys[i]: tuple(v) for i, v in count_page_mentions(pages, matcher).items()}
    assert counts == {"paris": (2, 2), "the": (2, 0), "city": (1, 0)}


def test_passes_split_by_hash() -> None:
    keys = [f"mention {i}" for i in range(1000)]
    assert passes_for(1000, 300) == 4 and passes_for(0, 300) == 1
    sizes = Counter(pass_of(key, 4) for key in keys)
    assert set(sizes) == {0, 1, 2, 3} and max(sizes.values()) < 300
    assert all(pass_of(key, 1) == 0 for key in keys)


def test_table_pages_reads_sliced_tables() -> None:
    from test_vocab import page_records

    table = pa.Table.from_pylist(page_records("en"), schema=PAGE_SCHEMA).slice(2, 3)
    pages = list(table_pages(table))
    records = page_records("en")[2:5]
    assert [texts for texts, _ in pages] == [[p["text"] for p in r["paragraphs"]] for r in records]
    assert [links for _, links in pages] == [
        [(i, link["start"], link["end"]) for i, p in enumerate(r["paragraphs"]) for link in p["links"]]
        for r in records
    ]


# ---------------------------------------------------------------------------------------------
# The pipeline


def _check_against_recount(vocab_dir: Path, pages_by_lang: dict[str, list[dict[str, Any]]]) -> int:
    checked = 0
    for lang, pages in pages_by_lang.items():
        table = pq.read_table(vocab_dir / "mentions" / f"{lang}.parquet")
        assert table.schema.equals(MENTIONS_SCHEMA)
        rows = table.to_pylist()
        per_mention = {r["mention"]: (r["doc_count"], r["link_doc_count"]) for r in rows}
        for row in rows:  # the same on every row of a mention
            assert (row["doc_count"], row["link_doc_count"]) == per_mention[row["mention"]]
            assert row["link_prob"] == pytest.approx(row["link_doc_count"] / row["doc_count"])
            assert row["entity"].startswith(f"{lang}:") and row["wikidata_id"].startswith("Q")
        expected = recount(pages, set(per_mention))
        assert per_mention == expected, lang
        checked += len(per_mention)
    return checked


def test_pipeline_doc_counts_match_a_recount(tmp_path: Path) -> None:
    from test_vocab import LANGS, page_records, write_workdir

    from pipeline.vocab import run_vocab_build
    from transforms.vocab import VocabSettings

    write_workdir(tmp_path)
    # two passes for the larger languages: the split must not change a count
    run_vocab_build(str(tmp_path), settings=VocabSettings(max_matcher_mentions=6), workers=1)
    report = __import__("json").loads((tmp_path / "vocab" / "report.json").read_text())
    assert report["languages"]["en"]["mention_scan_passes"] >= 2
    checked = _check_against_recount(tmp_path / "vocab", {lang: page_records(lang) for lang in LANGS})
    assert checked >= 20
    en = {r["mention"]: r for r in pq.read_table(tmp_path / "vocab" / "mentions" / "en.parquet").to_pylist()}
    # "paris" is linked on 3 pages and written without a link on more
    assert en["paris"]["link_doc_count"] == 3 and en["paris"]["doc_count"] > 3
    assert en["paris"]["link_prob"] < 1.0
    ja = {r["mention"]: r for r in pq.read_table(tmp_path / "vocab" / "mentions" / "ja.parquet").to_pylist()}
    # 東京 is found inside 東京都 (substring matching in Japanese)
    assert ja["東京"]["doc_count"] > ja["東京"]["link_doc_count"]


def test_pipeline_doc_counts_on_the_bundled_sample(tmp_path: Path) -> None:
    """The sample's real-article-like en pages (and de, ja, zh, th, ...): every mention's counts
    equal the recount from the extracted paragraphs."""
    from test_vocab import _sample_workdir

    from pipeline.vocab import run_vocab_build

    _sample_workdir(tmp_path)
    run_vocab_build(str(tmp_path), workers=1)
    pages_by_lang = {}
    for folder in sorted((tmp_path / "pages").iterdir()):
        records = [r for path in sorted(folder.glob("*.parquet")) for r in pq.read_table(path).to_pylist()]
        pages_by_lang[folder.name] = [r for r in records if r["namespace"] == 0]
    assert {"en", "ja", "zh", "th"} <= set(pages_by_lang)
    checked = _check_against_recount(tmp_path / "vocab", pages_by_lang)
    assert checked >= 100
    en = pq.read_table(tmp_path / "vocab" / "mentions" / "en.parquet").to_pylist()
    assert any(r["link_prob"] < 0.5 for r in en) and any(r["link_prob"] == 1.0 for r in en)


def test_mentions_detect_cli_is_the_fine_tuning_detection(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner
    from test_vocab import write_workdir

    from pipeline.cli import cli
    from pipeline.vocab import run_vocab_build
    from training.qa import load_mention_dictionary

    write_workdir(tmp_path)
    run_vocab_build(str(tmp_path), workers=1)
    text = "Flights from Paris to Tokyo; the iPhone is popular in Japan and Germany."
    args = ["mentions", "detect", str(tmp_path), "--lang", "en", "--text", text, "--min-mention-count", "1"]
    result = CliRunner().invoke(cli, [*args, "--min-link-prob", "0.8", "--all", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    detected = [(f["start"], f["end"], f["entity_id"]) for f in found if f["detected"]]
    dropped = {f["text"]: f["why"] for f in found if not f["detected"]}
    assert dropped["Paris"].startswith("link_prob 0.7500 < 0.8")  # linked on 3 of the 4 pages with it
    assert all(f["entity"].startswith("en:") and f["wikidata_id"].startswith("Q") for f in found)

    hf = json.loads((tmp_path / "vocab" / "entity_vocab.json").read_text())
    identity = {i: i for i in set(hf.values())}
    linker = load_mention_dictionary(tmp_path / "vocab", "en", identity, 0.3, 1, min_link_prob=0.8)
    assert detected == [(m.start, m.end, m.entity_id) for m in linker.detect(text)]
    assert {text[s:e] for s, e, _ in detected} >= {"Germany"}

    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0 and "Paris" in table.output and "link prob" in table.output
    missing = CliRunner().invoke(cli, ["mentions", "detect", str(tmp_path), "--lang", "ko", "--text", "x"])
    assert missing.exit_code != 0 and "no mention dictionary for 'ko'" in missing.output


def test_fine_tuning_gets_the_rule_without_beam() -> None:
    """training/ imports the mention rule from schemas/, never Beam or transforms/."""
    import subprocess

    code = (
        "import sys; import training.qa, schemas.mentions; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'transforms', 'ahocorasick')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
