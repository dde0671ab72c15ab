"""ICU sentence splitting: languages, abbreviations, exact offsets with non-BMP text, link merges."""

from __future__ import annotations

import threading

import pytest

from transforms.sentences import (
    icu_boundaries,
    merge_across_links,
    split_sentences,
    utf16_to_python,
)


def sentences(text: str, lang: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text, lang)]


def test_english_abbreviations_do_not_end_sentences() -> None:
    text = (
        "He met Dr. Smith in the U.S. on Monday. Prof. Jones arrived later, e.g. Mr. Brown came "
        "by train. It rained all day."
    )
    assert sentences(text, "en") == [
        "He met Dr. Smith in the U.S. on Monday.",
        "Prof. Jones arrived later, e.g. Mr. Brown came by train.",
        "It rained all day.",
    ]
    # ICU alone breaks after "Dr." and "e.g.": the suppression is what keeps them together.
    raw = icu_boundaries(text, "en")
    assert text.index("Dr. ") + 4 in raw
    assert text.index("e.g. ") + 5 in raw


def test_an_abbreviation_must_be_a_whole_word() -> None:
    # ICU's own "@ss=standard" filter matches its list as a bare suffix: the German entry "r."
    # would glue every sentence ending in "...r." to the next one.
    text = "Die Stadt hat viele Einwohner. Der Bürgermeister heißt Dr. Müller. Er wohnt hier seit einem Jahr. Sie nicht."
    assert sentences(text, "de") == [
        "Die Stadt hat viele Einwohner.",
        "Der Bürgermeister heißt Dr. Müller.",
        "Er wohnt hier seit einem Jahr.",
        "Sie nicht.",
    ]
    assert sentences("Ele tem um papel. Ela saiu com o Sr. Silva.", "pt") == [
        "Ele tem um papel.",
        "Ela saiu com o Sr. Silva.",
    ]
    # Whole-word only: "XDr." is not "Dr.".
    assert sentences("It was a XDr. Then it ended.", "en") == ["It was a XDr.", "Then it ended."]


def test_german_ordinals_and_spaced_abbreviations() -> None:
    text = "Am 3. Oktober wird gefeiert. Das ist z. B. ein Feiertag. Er lebte 5 v. Chr. in Rom. Es war 1990. Dann kam er."
    assert sentences(text, "de") == [
        "Am 3. Oktober wird gefeiert.",
        "Das ist z. B. ein Feiertag.",
        "Er lebte 5 v. Chr. in Rom.",
        "Es war 1990.",
        "Dann kam er.",
    ]


def test_languages_without_suppressions_keep_icu_breaks() -> None:
    # French is not in mLUKE's suppression set: ICU's break after "M." stays.
    assert sentences("Il a vu M. Dupont. Il est parti.", "fr") == ["Il a vu M.", "Dupont.", "Il est parti."]


def test_japanese() -> None:
    text = "東京都は日本の首都である。人口は約千四百万人。「そうか。」と彼は言った。"
    # The opening bracket ICU leaves at the end of a sentence moves to the sentence it opens;
    # ICU breaks after "。」" even before a particle: that is kept.
    assert sentences(text, "ja") == [
        "東京都は日本の首都である。",
        "人口は約千四百万人。",
        "「そうか。」",
        "と彼は言った。",
    ]


def test_chinese() -> None:
    assert sentences("北京是中国的首都。你去过吗？太好了！我们走吧", "zh") == [
        "北京是中国的首都。",
        "你去过吗？",
        "太好了！",
        "我们走吧",
    ]


def test_thai_has_no_sentence_punctuation_and_icu_does_not_split_it() -> None:
    # Thai separates sentences with spaces, which are also used inside sentences; ICU's sentence
    # rules find no boundary, so a Thai paragraph is one "sentence".
    text = "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีประชากรมากที่สุดในประเทศ เป็นศูนย์กลางเศรษฐกิจ"
    assert split_sentences(text, "th") == [(0, len(text))]


def test_arabic_question_mark_and_full_stop() -> None:
    text = "القاهرة هي عاصمة مصر. هل زرتها؟ نعم، زرتها مرتين."
    assert sentences(text, "ar") == ["القاهرة هي عاصمة مصر.", "هل زرتها؟", "نعم، زرتها مرتين."]


def test_hindi_danda() -> None:
    text = "दिल्ली भारत की राजधानी है। यह एक बड़ा शहर है।"
    assert sentences(text, "hi") == ["दिल्ली भारत की राजधानी है।", "यह एक बड़ा शहर है।"]


def test_russian() -> None:
    text = "Москва — столица России. Она очень большая! Правда? Да."
    assert sentences(text, "ru") == ["Москва — столица России.", "Она очень большая!", "Правда?", "Да."]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("I like 😀. You like 𠮷 too! Fine.", "en", ["I like 😀.", "You like 𠮷 too!", "Fine."]),
        (
            "😀😀😀 Start. 𠮷野家は牛丼の店だ。𠀋が好き。",
            "ja",
            ["😀😀😀 Start.", "𠮷野家は牛丼の店だ。", "𠀋が好き。"],
        ),
        ("Emoji at the end 🎉🎉. Next 🎉", "en", ["Emoji at the end 🎉🎉.", "Next 🎉"]),
    ],
)
def test_non_bmp_characters_keep_offsets_exact(text: str, lang: str, expected: list[str]) -> None:
    spans = split_sentences(text, lang)
    assert [text[start:end] for start, end in spans] == expected
    # The text between sentences is whitespace only: nothing is lost or altered.
    previous = 0
    for start, end in spans:
        assert text[previous:start].strip() == ""
        previous = end
    assert text[previous:].strip() == ""


def test_utf16_conversion() -> None:
    text = "a😀b𠮷c"
    # UTF-16 offsets: a=0, 😀=1..3, b=3, 𠮷=4..6, c=6, end=7.
    assert utf16_to_python(text, [0, 1, 3, 4, 6, 7]) == [0, 1, 2, 3, 4, 5]
    assert utf16_to_python("plain", [0, 5]) == [0, 5]


def test_whitespace_is_excluded_and_empty_text() -> None:
    assert split_sentences("", "en") == []
    assert split_sentences("   ", "en") == []
    text = "  First one.   Second one.  "
    assert sentences(text, "en") == ["First one.", "Second one."]


def test_iterators_are_per_thread() -> None:
    texts = [f"Sentence number {i} is here. And another {i} follows! Last {i}?" for i in range(200)]
    expected = [split_sentences(text, "en") for text in texts]
    results: dict[int, list[list[tuple[int, int]]]] = {}

    def work(worker: int) -> None:
        results[worker] = [split_sentences(text, "en") for text in texts]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results.values())


def test_a_link_across_a_boundary_joins_the_sentences() -> None:
    text = "The song Yes! We Can was popular in 2008. It won a prize. Then it was forgotten."
    spans = split_sentences(text, "en")
    assert [text[s:e] for s, e in spans][:2] == ["The song Yes!", "We Can was popular in 2008."]
    link = {"start": text.index("Yes!"), "end": text.index(" was"), "target": "Yes! We Can"}
    merged = merge_across_links(spans, [link])
    assert [text[s:e] for s, e in merged] == [
        "The song Yes! We Can was popular in 2008.",
        "It won a prize.",
        "Then it was forgotten.",
    ]


def test_merge_rule_cases() -> None:
    spans = [(0, 10), (11, 20), (21, 30), (31, 40)]
    # Inside one sentence: nothing changes.
    assert merge_across_links(spans, [(2, 8)]) == spans
    # Ending exactly at a sentence end: nothing changes.
    assert merge_across_links(spans, [(11, 20)]) == spans
    # Across two boundaries: three sentences become one.
    assert merge_across_links(spans, [(5, 25)]) == [(0, 30), (31, 40)]
    # Two links, each across one boundary.
    assert merge_across_links(spans, [(8, 12), (35, 39), (29, 33)]) == [(0, 20), (21, 40)]

    # Link objects with attributes, empty links and no sentences.
    class Link:
        start, end = 18, 22

    assert merge_across_links(spans, [Link(), (4, 4)]) == [(0, 10), (11, 30), (31, 40)]
    assert merge_across_links([], [(0, 3)]) == []
