"""Sentencepiece tokenization: the XLM-R id convention against Hugging Face, segments around links."""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil

import numpy as np
import pytest
import sentencepiece as spm
from spm_fixtures import CORPUS, trained_model_dir, trained_model_file

from schemas.tokens import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from transforms.tokenization import (
    Tokenizer,
    load_tokenizer,
    tokenize_sentence,
    tokenize_sentences,
)

# Sentences the model was not trained on, in several scripts.
HELD_OUT = [
    "The capital of Germany is Berlin, and Tokyo is the capital of Japan.",
    "Der Rhein fließt durch Basel, Straßburg und Köln.",
    "富士山は日本で最も高い山である。",
    "上海是中国最大的城市之一。",
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย",
    "تقع القاهرة على ضفاف نهر النيل.",
    "गंगा भारत की सबसे लंबी नदी है।",
    "Москва расположена на реке Москве.",
    "Zürich  has   odd\tspacing and ＦＵＬＬＷＩＤＴＨ letters and an emoji 😀.",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return load_tokenizer(trained_model_dir())


def link(text: str, anchor: str, occurrence: int = 0) -> dict[str, object]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(anchor, start + 1)
    return {"start": start, "end": start + len(anchor), "target": anchor}


def word_link(text: str, anchor: str) -> dict[str, object]:
    """A link on the whole word ``anchor`` (not a substring of a longer word)."""
    match = re.search(rf"(?<!\S){re.escape(anchor)}(?![^\s.,।])", text)
    assert match is not None
    return {"start": match.start(), "end": match.end(), "target": anchor}


def test_word_ids_match_hugging_face_xlm_roberta(tokenizer: Tokenizer, tmp_path) -> None:
    transformers = pytest.importorskip("transformers")
    shutil.copy(trained_model_file(), tmp_path / "sentencepiece.bpe.model")
    reference = transformers.XLMRobertaTokenizer.from_pretrained(str(tmp_path))
    assert len(reference) == tokenizer.vocab_size
    assert reference.mask_token_id == tokenizer.mask_id
    assert (
        reference.bos_token_id,
        reference.pad_token_id,
        reference.eos_token_id,
        reference.unk_token_id,
    ) == (
        BOS_ID,
        PAD_ID,
        EOS_ID,
        UNK_ID,
    )
    texts = [*HELD_OUT, *(sentences[0] for sentences in CORPUS.values())]
    for text in texts:
        expected = reference.encode(text, add_special_tokens=False)
        assert tokenizer.encode(text) == expected, text
    # The unknown piece maps to <unk>=3 in both.
    assert UNK_ID in tokenizer.encode("ꙮ Ꙭ")
    assert tokenizer.encode("ꙮ Ꙭ") == reference.encode("ꙮ Ꙭ", add_special_tokens=False)


def test_convention_is_applied_to_sentencepiece_ids(tokenizer: Tokenizer) -> None:
    processor = spm.SentencePieceProcessor(model_file=trained_model_file())
    text = HELD_OUT[0]
    pieces = processor.encode(text)
    assert tokenizer.encode(text) == [{0: UNK_ID, 1: BOS_ID, 2: EOS_ID}.get(i, i + 1) for i in pieces]
    assert tokenizer.vocab_size == processor.get_piece_size() + 2
    assert tokenizer.mask_id == processor.get_piece_size() + 1
    assert tokenizer.piece(tokenizer.mask_id) == "<mask>"


@pytest.mark.parametrize("text", HELD_OUT[:2] + HELD_OUT[5:8])
def test_whitespace_delimited_links_give_whole_sentence_ids(tokenizer: Tokenizer, text: str) -> None:
    words = text.rstrip(".।").split()
    links = [word_link(text, words[0]), word_link(text, words[2]), word_link(text, words[-1])]
    sentence = tokenize_sentence(text, 0, len(text), links, tokenizer)
    assert sentence.word_ids == tokenizer.encode(text)
    assert [index for _, _, index in sentence.spans] == [0, 1, 2]
    for start, end, index in sentence.spans:
        anchor = text[links[index]["start"] : links[index]["end"]]
        assert sentence.word_ids[start:end] == tokenizer.encode(anchor)
        if UNK_ID not in sentence.word_ids[start:end]:  # "ß" is not in the test model
            assert tokenizer.decode(sentence.word_ids[start:end]) == anchor


def test_glued_link_has_no_dummy_prefix(tokenizer: Tokenizer) -> None:
    text = "The city of Berlin (Berlin) lies in Germany's north."
    links = [link(text, "Berlin", 1), link(text, "Germany")]
    sentence = tokenize_sentence(text, 0, len(text), links, tokenizer)
    (start, end, _), (g_start, g_end, _) = sentence.spans
    inner = sentence.word_ids[start:end]
    assert not tokenizer.piece(inner[0]).startswith("▁")
    assert inner == tokenizer.encode_segments([("Berlin", True)])[0]
    assert inner != tokenizer.encode("Berlin")
    # The link trail "'s" follows the link glued too; "Germany" follows a space.
    assert tokenizer.piece(sentence.word_ids[g_start]).startswith("▁")
    assert not tokenizer.piece(sentence.word_ids[g_end]).startswith("▁")
    assert tokenizer.decode(sentence.word_ids) == text


@pytest.mark.parametrize(
    ("lang", "text", "anchors"),
    [
        ("ja", "東京都は日本の首都であり、富士山は静岡県にある。", ["東京都", "日本", "富士山", "静岡県"]),
        ("zh", "北京是中华人民共和国的首都。", ["北京", "中华人民共和国"]),
        ("th", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย", ["กรุงเทพมหานคร", "ประเทศไทย"]),
    ],
)
def test_languages_without_spaces(tokenizer: Tokenizer, lang: str, text: str, anchors: list[str]) -> None:
    links = [link(text, anchor) for anchor in anchors]
    sentence = tokenize_sentence(text, 0, len(text), links, tokenizer)
    assert len(sentence.spans) == len(anchors)
    assert tokenizer.decode(sentence.word_ids) == text
    for start, end, index in sentence.spans:
        assert tokenizer.decode(sentence.word_ids[start:end]) == anchors[index]
        # Only a segment that starts the sentence carries the "▁" word start.
        assert tokenizer.piece(sentence.word_ids[start]).startswith("▁") == (links[index]["start"] == 0)


def test_links_at_the_edges_adjacent_overlapping_and_empty(tokenizer: Tokenizer) -> None:
    text = "Berlin and Tokyo Japan meet\u200b in Paris"
    links = [
        link(text, "Berlin"),  # sentence start
        {"start": 11, "end": 16, "target": "Tokyo"},
        {"start": 17, "end": 22, "target": "Japan"},  # adjacent (one space apart)
        {"start": 12, "end": 20, "target": "overlap"},  # overlaps Tokyo: skipped
        {"start": 27, "end": 28, "target": "zwsp"},  # only a zero-width space: no tokens
        link(text, "Paris"),  # sentence end
    ]
    sentence = tokenize_sentence(text, 0, len(text), links, tokenizer)
    assert [index for _, _, index in sentence.spans] == [0, 1, 2, 5]
    assert sentence.skipped_links == [(3, "overlapping"), (4, "empty")]
    assert sentence.spans[0][0] == 0
    assert sentence.spans[-1][1] == len(sentence.word_ids)
    for (_, end, _), (start, _, _) in zip(sentence.spans, sentence.spans[1:], strict=False):
        assert end <= start
    # Directly adjacent links without a space: the second one is glued.
    glued = "BerlinTokyo"
    result = tokenize_sentence(glued, 0, len(glued), [link(glued, "Berlin"), link(glued, "Tokyo")], tokenizer)
    (_, first_end, _), (second_start, _, _) = result.spans
    assert first_end == second_start
    assert not tokenizer.piece(result.word_ids[second_start]).startswith("▁")


def test_sentence_offsets_and_links_outside(tokenizer: Tokenizer) -> None:
    text = "Berlin is big. Tokyo is bigger 😀. Paris is old."
    first = (0, 14)
    second = (15, text.index(". Paris") + 1)
    links = [link(text, "Berlin"), link(text, "Tokyo"), link(text, "Paris")]
    results = tokenize_sentences(text, [first, second], links, tokenizer)
    assert [[index for _, _, index in result.spans] for result in results] == [[0], [1]]
    assert results[1].word_ids == tokenizer.encode("Tokyo is bigger 😀.")


def test_encode_segments_batches_and_empty_segments(tokenizer: Tokenizer) -> None:
    segments = [("The city", False), ("", True), ("   ", False), ("Berlin", True), (" is big", True)]
    result = tokenizer.encode_segments(segments)
    assert result[1] == [] and result[2] == []
    assert result[0] == tokenizer.encode("The city")
    # A segment starting with whitespace follows whitespace, whatever the flag says.
    assert result[4] == tokenizer.encode("is big")
    word_ids, lengths = tokenizer.encode_flat(segments)
    assert word_ids.dtype == np.int32
    assert lengths.tolist() == [len(ids) for ids in result]


def test_word_start_table(tokenizer: Tokenizer) -> None:
    table = tokenizer.is_word_start
    assert table.shape == (tokenizer.vocab_size,) and table.dtype == bool
    assert table[[BOS_ID, PAD_ID, EOS_ID, UNK_ID, tokenizer.mask_id]].all()
    for word_id in range(4, tokenizer.vocab_size - 1):
        assert table[word_id] == tokenizer.piece(word_id).startswith("▁")
    ids = tokenizer.encode("Berlin is the capital of Germany")
    assert int(table[ids].sum()) == 6


def test_decode(tokenizer: Tokenizer) -> None:
    text = "Tokyo is the capital of Japan."
    ids = tokenizer.encode(text)
    assert tokenizer.decode([BOS_ID, *ids, EOS_ID, PAD_ID]) == text
    masked = [*ids[:2], tokenizer.mask_id, *ids[3:]]
    assert "<mask>" in tokenizer.decode(masked)


def test_pickle_round_trip(tokenizer: Tokenizer) -> None:
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy.sha256 == tokenizer.sha256
    assert copy.encode(HELD_OUT[2]) == tokenizer.encode(HELD_OUT[2])


def test_load_tokenizer_paths(tmp_path) -> None:
    model = trained_model_file()
    with open(model, "rb") as handle:
        data = handle.read()
    by_file = load_tokenizer(model)
    assert by_file.source == model
    import hashlib

    assert by_file.sha256 == hashlib.sha256(data).hexdigest()

    single = tmp_path / "single"
    single.mkdir()
    (single / "custom.model").write_bytes(data)
    assert load_tokenizer(str(single)).sha256 == by_file.sha256

    both = tmp_path / "both"
    both.mkdir()
    (both / "a.model").write_bytes(data)
    (both / "b.model").write_bytes(data)
    with pytest.raises(ValueError, match=r"several \.model files"):
        load_tokenizer(str(both))
    (both / "sentencepiece.bpe.model").write_bytes(data)
    assert load_tokenizer(str(both)).source.endswith("sentencepiece.bpe.model")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no sentencepiece\.bpe\.model"):
        load_tokenizer(str(empty))
    with pytest.raises(ValueError, match="not found"):
        load_tokenizer(str(tmp_path / "missing"))
    broken = tmp_path / "broken.model"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a sentencepiece model"):
        load_tokenizer(str(broken))


def test_a_model_with_another_special_layout_is_refused(tmp_path) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS["en"] * 3),
        model_writer=model,
        vocab_size=120,
        hard_vocab_limit=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        minloglevel=2,
    )
    path = os.path.join(tmp_path, "t5like.model")
    with open(path, "wb") as handle:
        handle.write(model.getvalue())
    with pytest.raises(ValueError, match="XLM-R id convention"):
        load_tokenizer(path)
