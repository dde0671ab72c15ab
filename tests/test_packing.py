"""build_examples on realistic pages: mentions land on their anchors, every rule and limit counted."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace
from typing import Any

import pyarrow as pa
import pytest
from spm_fixtures import trained_model_dir

from schemas.shards import SHARD_SCHEMA, ShardSettings
from schemas.tokens import BOS_ID, EOS_ID
from schemas.vocab import ENTITY_UNK_ID
from transforms.packing import COUNTERS, build_examples
from transforms.tokenization import Tokenizer, load_tokenizer

ENTITIES = {
    title: 4 + index
    for index, title in enumerate(
        [
            "Berlin", "Germany", "Spree", "Havel", "Tokyo", "Japan", "Yes! We Can", "Fireworks",
            "Harbour", "東京都", "日本", "富士山", "静岡県", "𠮷野家", "牛丼", "北京", "中华人民共和国",
            "长江", "上海", "กรุงเทพมหานคร", "ประเทศไทย", "แม่น้ำเจ้าพระยา", "القاهرة", "مصر", "نهر النيل",
            "دمشق", "Moscow", "Volga",
        ]
    )
}  # fmt: skip

LINK = re.compile(r"\[\[([^|\]]+)(?:\|([^\]]+))?\]\]")


def paragraph(markup: str) -> dict[str, Any]:
    """``[[Target]]`` / ``[[Target|anchor]]`` markup -> a PAGE_SCHEMA paragraph with Python offsets."""
    text_parts: list[str] = []
    links: list[dict[str, Any]] = []
    position = 0
    length = 0
    for match in LINK.finditer(markup):
        plain = markup[position : match.start()]
        text_parts.append(plain)
        length += len(plain)
        anchor = match.group(2) or match.group(1)
        links.append({"start": length, "end": length + len(anchor), "target": match.group(1)})
        text_parts.append(anchor)
        length += len(anchor)
        position = match.end()
    text_parts.append(markup[position:])
    return {"text": "".join(text_parts), "is_lead": True, "links": links}


def page(lang: str, *paragraphs: str, page_id: int = 7) -> dict[str, Any]:
    return {
        "lang": lang,
        "page_id": page_id,
        "revision_id": 1,
        "title": "Test",
        "namespace": 0,
        "is_disambiguation": False,
        "categories": [],
        "paragraphs": [paragraph(p) for p in paragraphs],
    }


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return load_tokenizer(trained_model_dir())


def run(
    tokenizer: Tokenizer, the_page: dict[str, Any], settings: ShardSettings | None = None, entity: int = 9
) -> tuple[list[dict[str, Any]], Counter[str]]:
    examples, stats = build_examples(the_page, ENTITIES.get, tokenizer, settings or ShardSettings(), entity)
    check_identities(stats)
    check_examples(examples, settings or ShardSettings())
    return examples, stats


def check_identities(stats: Counter[str]) -> None:
    assert set(COUNTERS) <= set(stats)
    assert stats["links"] == (
        stats["links_outside_vocab"]
        + stats["links_overlapping"]
        + stats["links_empty"]
        + stats["links_outside_sentences"]
        + stats["mentions_too_long"]
        + stats["mentions_in_dropped_sentences"]
        + stats["mentions_over_entity_limit"]
        + stats["mentions"]
    )
    assert (
        stats["sentences"]
        == stats["sentences_too_short"] + stats["sentences_too_long"] + stats["sentences_kept"]
    )
    assert stats["sequences"] == stats["examples"] + stats["sequences_without_entities"]


def check_examples(examples: list[dict[str, Any]], settings: ShardSettings) -> None:
    table = pa.Table.from_pylist(examples, schema=SHARD_SCHEMA)
    assert table.num_rows == len(examples)
    for example in examples:
        words = example["word_ids"]
        assert words[0] == BOS_ID and words[-1] == EOS_ID
        assert BOS_ID not in words[1:-1] and EOS_ID not in words[1:-1]
        assert len(words) <= settings.max_seq_length
        assert 0 < len(example["entity_ids"]) <= settings.max_entity_length
        previous_end = 1
        for start, end in zip(example["entity_starts"], example["entity_ends"], strict=True):
            assert previous_end <= start < end <= len(words) - 1
            assert end - start <= settings.max_mention_length
            previous_end = end


def mentions(tokenizer: Tokenizer, examples: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(decoded mention text, entity id) of every mention, in order."""
    found = []
    for example in examples:
        for entity_id, start, end in zip(
            example["entity_ids"], example["entity_starts"], example["entity_ends"], strict=True
        ):
            found.append((tokenizer.decode(example["word_ids"][start:end]), entity_id))
    return found


def test_english_page(tokenizer: Tokenizer) -> None:
    the_page = page(
        "en",
        "[[Berlin]] is the capital and largest city of [[Germany]]. The city lies on the banks of the "
        "rivers [[Spree]] and [[Havel]] in the northeast of the [[Germany|country]].",
        "[[Tokyo]] is the capital of [[Japan]] (see [[Tokyo]]). It is not in [[Atlantis]].",
    )
    examples, stats = run(tokenizer, the_page)
    assert len(examples) == 1
    (example,) = examples
    assert example["page_id"] == 7 and example["page_entity_id"] == 9
    assert mentions(tokenizer, examples) == [
        ("Berlin", ENTITIES["Berlin"]),
        ("Germany", ENTITIES["Germany"]),
        ("Spree", ENTITIES["Spree"]),
        ("Havel", ENTITIES["Havel"]),
        ("country", ENTITIES["Germany"]),
        ("Tokyo", ENTITIES["Tokyo"]),
        ("Japan", ENTITIES["Japan"]),
        ("Tokyo", ENTITIES["Tokyo"]),
    ]
    # A link at the very start of a sentence is the first token after <s>.
    assert example["entity_starts"][0] == 1
    assert tokenizer.decode(example["word_ids"]) == " ".join(p["text"] for p in the_page["paragraphs"])
    assert stats["links"] == 9 and stats["links_outside_vocab"] == 1
    assert stats["sentences"] == 4 and stats["sentences_kept"] == 4
    assert stats["examples"] == 1 and stats["mentions"] == 8
    assert stats["tokens"] == len(example["word_ids"])


@pytest.mark.parametrize(
    ("lang", "markups", "expected"),
    [
        (
            "ja",
            [
                "[[東京都]]は[[日本]]の首都であり、[[富士山]]は[[静岡県]]にある。",
                "[[𠮷野家]]は[[牛丼]]を主力商品とする飲食店のチェーンである。",
            ],
            ["東京都", "日本", "富士山", "静岡県", "𠮷野家", "牛丼"],
        ),
        (
            "zh",
            [
                "[[北京]]是[[中华人民共和国]]的首都。[[长江]]是亚洲最长的河流。上海位于长江入海口，是中国最大的经济中心之一[[上海|。]]"
            ],
            ["北京", "中华人民共和国", "长江", "上海|。"],
        ),
        (
            "th",
            ["[[กรุงเทพมหานคร]]เป็นเมืองหลวงของ[[ประเทศไทย]] [[แม่น้ำเจ้าพระยา]]ไหลผ่านใจกลางกรุงเทพมหานคร"],
            ["กรุงเทพมหานคร", "ประเทศไทย", "แม่น้ำเจ้าพระยา"],
        ),
        (
            "ar",
            [
                "[[القاهرة]] هي عاصمة جمهورية [[مصر]] العربية. يعد [[نهر النيل]] أطول نهر في العالم. تقع مدينة [[دمشق]]"
            ],
            ["القاهرة", "مصر", "نهر النيل", "دمشق"],
        ),
    ],
)
def test_pages_in_other_scripts(
    tokenizer: Tokenizer, lang: str, markups: list[str], expected: list[str]
) -> None:
    examples, stats = run(tokenizer, page(lang, *markups))
    targets = [item.split("|")[0] for item in expected]
    anchors = [item.split("|")[-1] for item in expected]
    # Decoding gives the model's normalized text (NFKC: Thai SARA AM is decomposed).
    assert mentions(tokenizer, examples) == [
        (unicodedata.normalize("NFKC", anchor), ENTITIES[target])
        for anchor, target in zip(anchors, targets, strict=True)
    ]
    # The last link of the zh paragraph ends the sentence; the first starts the page's sequence.
    assert examples[0]["entity_starts"][0] == 1
    if lang == "th":
        # ICU finds no sentence boundary in Thai: the whole paragraph is one sentence.
        assert stats["sentences"] == 1


def test_links_at_sentence_edges_adjacent_and_non_bmp(tokenizer: Tokenizer) -> None:
    the_page = page(
        "en",
        "The festival ended with [[Fireworks|fireworks 🎉]] over the [[Harbour|harbour]][[Berlin|Berlin]]. "
        "Everyone smiled 😀 at [[Tokyo]] and [[Japan]]",
    )
    examples, stats = run(tokenizer, the_page)
    assert mentions(tokenizer, examples) == [
        ("fireworks 🎉", ENTITIES["Fireworks"]),
        ("harbour", ENTITIES["Harbour"]),
        ("Berlin", ENTITIES["Berlin"]),
        ("Tokyo", ENTITIES["Tokyo"]),
        ("Japan", ENTITIES["Japan"]),
    ]
    (example,) = examples
    starts, ends = example["entity_starts"], example["entity_ends"]
    # Adjacent links: "harbour" ends where "Berlin" starts, the latter glued (no "▁").
    assert ends[1] == starts[2]
    assert not tokenizer.piece(example["word_ids"][starts[2]]).startswith("▁")
    # A link at the very end of the paragraph ends right before </s>.
    assert ends[-1] == len(example["word_ids"]) - 1
    assert stats["sentences"] == 2


def test_a_link_crossing_a_sentence_boundary_joins_the_sentences(tokenizer: Tokenizer) -> None:
    the_page = page("en", "The song [[Yes! We Can]] was popular in Berlin in 2008. It won a prize in Tokyo.")
    examples, stats = run(tokenizer, the_page)
    assert mentions(tokenizer, examples) == [("Yes! We Can", ENTITIES["Yes! We Can"])]
    assert stats["sentences_split"] == 3 and stats["sentence_merges"] == 1 and stats["sentences"] == 2


def test_outside_vocab_links_are_dropped_or_unk(tokenizer: Tokenizer) -> None:
    the_page = page("en", "[[Berlin]] is far from [[Atlantis]] and [[Lemuria]].")
    examples, stats = run(tokenizer, the_page)
    assert [e for _, e in mentions(tokenizer, examples)] == [ENTITIES["Berlin"]]
    assert stats["links_outside_vocab"] == 2 and stats["links_unk"] == 0
    settings = ShardSettings(include_unk_entities=True)
    examples, stats = run(tokenizer, the_page, settings)
    assert [e for _, e in mentions(tokenizer, examples)] == [ENTITIES["Berlin"], ENTITY_UNK_ID, ENTITY_UNK_ID]
    assert stats["links_outside_vocab"] == 0 and stats["links_unk"] == 2


def test_sequences_without_entities_are_dropped(tokenizer: Tokenizer) -> None:
    the_page = page("en", "There are no links in this sentence at all. Nor in this one.")
    examples, stats = run(tokenizer, the_page)
    assert examples == []
    assert stats["sequences"] == 1 and stats["sequences_without_entities"] == 1
    assert stats["tokens_without_entities"] > 0 and stats["examples"] == 0


def sentence_length(tokenizer: Tokenizer, markup: str) -> int:
    return len(tokenizer.encode(paragraph(markup)["text"]))


FIRST = "The city of [[Berlin]] lies on the [[Spree]]."
SECOND = "The capital of [[Japan]] is [[Tokyo]] and the [[Havel]] is a river."


def test_max_mention_length_exactly(tokenizer: Tokenizer) -> None:
    markup = "The song [[Yes! We Can]] was popular in [[Berlin]]."
    anchor_tokens = len(tokenizer.encode("Yes! We Can"))
    assert anchor_tokens > 1
    settings = ShardSettings(max_mention_length=anchor_tokens)
    examples, stats = run(tokenizer, page("en", markup), settings)
    assert stats["mentions_too_long"] == 0 and stats["mentions"] == 2
    settings = replace(settings, max_mention_length=anchor_tokens - 1)
    shorter, stats = run(tokenizer, page("en", markup), settings)
    assert stats["mentions_too_long"] == 1 and stats["mentions"] == 1
    # The mention is dropped, its tokens stay.
    assert shorter[0]["word_ids"] == examples[0]["word_ids"]


def test_min_sentence_length_exactly(tokenizer: Tokenizer) -> None:
    short = "See [[Berlin]]."
    n = sentence_length(tokenizer, short)
    examples, stats = run(tokenizer, page("en", short), ShardSettings(min_sentence_length=n))
    assert stats["sentences_kept"] == 1 and len(examples) == 1
    examples, stats = run(
        tokenizer, page("en", short + " " + FIRST), ShardSettings(min_sentence_length=n + 1)
    )
    assert stats["sentences_too_short"] == 1 and stats["mentions_in_dropped_sentences"] == 1
    # The sequence goes on with the next kept sentence.
    assert mentions(tokenizer, examples) == [("Berlin", ENTITIES["Berlin"]), ("Spree", ENTITIES["Spree"])]


def test_max_seq_length_exactly(tokenizer: Tokenizer) -> None:
    n = sentence_length(tokenizer, FIRST)
    examples, stats = run(tokenizer, page("en", FIRST), ShardSettings(max_seq_length=n + 2))
    assert len(examples[0]["word_ids"]) == n + 2 and stats["sentences_too_long"] == 0
    examples, stats = run(tokenizer, page("en", FIRST), ShardSettings(max_seq_length=n + 1))
    assert examples == [] and stats["sentences_too_long"] == 1 and stats["mentions_in_dropped_sentences"] == 2


def test_packing_by_tokens_exactly(tokenizer: Tokenizer) -> None:
    n1, n2 = sentence_length(tokenizer, FIRST), sentence_length(tokenizer, SECOND)
    # Sentences of different paragraphs are packed together.
    the_page = page("en", FIRST, SECOND)
    examples, stats = run(tokenizer, the_page, ShardSettings(max_seq_length=n1 + n2 + 2))
    assert len(examples) == 1 and len(examples[0]["word_ids"]) == n1 + n2 + 2
    assert examples[0]["entity_starts"][2] > n1
    examples, stats = run(tokenizer, the_page, ShardSettings(max_seq_length=n1 + n2 + 1))
    assert len(examples) == 2 and stats["sequences"] == 2
    assert [len(e["entity_ids"]) for e in examples] == [2, 3]
    assert examples[1]["entity_starts"][0] == 1 + sentence_length(tokenizer, "The capital of")


def test_packing_by_entities_exactly(tokenizer: Tokenizer) -> None:
    the_page = page("en", FIRST, SECOND)
    examples, stats = run(tokenizer, the_page, ShardSettings(max_entity_length=5))
    assert len(examples) == 1 and len(examples[0]["entity_ids"]) == 5
    examples, stats = run(tokenizer, the_page, ShardSettings(max_entity_length=4))
    assert [len(e["entity_ids"]) for e in examples] == [2, 3]
    # One sentence with more mentions than allowed keeps the first ones.
    examples, stats = run(tokenizer, page("en", SECOND), ShardSettings(max_entity_length=2))
    assert [t for t, _ in mentions(tokenizer, examples)] == ["Japan", "Tokyo"]
    assert stats["mentions_over_entity_limit"] == 1


def test_deterministic_and_page_entity(tokenizer: Tokenizer) -> None:
    the_page = page("en", FIRST, SECOND, page_id=123)
    first = run(tokenizer, the_page, entity=-1)
    second = run(tokenizer, the_page, entity=-1)
    assert first == second
    assert all(e["page_id"] == 123 and e["page_entity_id"] == -1 for e in first[0])


def test_empty_page(tokenizer: Tokenizer) -> None:
    examples, stats = run(tokenizer, page("en"))
    assert examples == [] and stats["paragraphs"] == 0 and stats["sequences"] == 0
