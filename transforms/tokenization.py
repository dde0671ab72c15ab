"""Sentencepiece tokenization with the XLM-R word-id convention, around hyperlink spans.

Word ids follow ``schemas.tokens.WordIdConvention``: ``<s>=0 <pad>=1 </s>=2 <unk>=3``, piece
``i -> i + 1``, ``<mask> = N + 1`` for a model of N pieces, so shards built with XLM-R's
``sentencepiece.bpe.model`` hold exactly the ids ``xlm-roberta-base`` expects.

The rules of ``tokenize_sentence`` (each link becomes a whole token span):

1. The sentence ``text[start:end]`` is cut into segments at the link boundaries: text, link, text,
   link, ... Only links lying entirely inside the sentence take part. Links are taken in order of
   their start; a link overlapping an earlier one is skipped (reason ``overlapping``).
2. Each segment is tokenized on its own, so no piece crosses a link boundary.
3. A segment that starts the sentence, starts with whitespace or follows whitespace gets
   sentencepiece's dummy "▁" prefix, exactly as whole-text tokenization gives the first word after
   a space. A segment glued to the text before it (``(`` + link, a link trail, any segment in
   Japanese, Chinese or Thai) is tokenized without the prefix (a second processor built from the
   same model with ``add_dummy_prefix = False``), so it is not split into a new word. Hence for a
   link delimited by whitespace the ids equal those of the whole sentence.
4. Whitespace at the ends of a segment carries no token (sentencepiece drops it): a segment of
   only whitespace gives no tokens.
5. A link whose text gives no tokens at all (e.g. only characters the normalizer removes) is
   skipped (reason ``empty``).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sentencepiece as spm
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from sentencepiece import sentencepiece_model_pb2

from schemas.tokens import BOS_ID, EOS_ID, MASK_TOKEN, PAD_ID, UNK_ID, WordIdConvention
from transforms.files import path_exists
from transforms.sentences import Span, link_bounds

# The file name XLM-R uses (its model is a unigram model despite the name).
MODEL_FILE_NAME = "sentencepiece.bpe.model"
WORD_START = "▁"


@dataclass
class TokenizedSentence:
    word_ids: list[int]
    # (token_start, token_end, link_index): token positions in word_ids, end exclusive; link_index
    # indexes the links passed in.
    spans: list[tuple[int, int, int]]
    # Links inside the sentence that got no span: (link_index, "overlapping" | "empty").
    skipped_links: list[tuple[int, str]] = field(default_factory=list)


# sentencepiece's list input starts a thread pool on every call (~50 us): below this many texts
# one call per text is faster.
_BATCH_MIN = 64


# Segment kinds: which processor encodes a segment (an empty one gives no tokens).
_EMPTY, _SPACED, _GLUED = 0, 1, 2


def _encode_many(processor: spm.SentencePieceProcessor, texts: list[str]) -> list[list[int]]:
    if len(texts) >= _BATCH_MIN:
        return processor.encode(texts, num_threads=1)
    encode = processor.encode
    return [encode(text) for text in texts]


class Tokenizer:
    """A sentencepiece model with the XLM-R word-id convention. Picklable (holds the model bytes)."""

    def __init__(self, model_proto: bytes, source: str = "") -> None:
        self.source = source
        self._model_proto = bytes(model_proto)
        self.sha256 = hashlib.sha256(self._model_proto).hexdigest()
        try:
            self._spaced = spm.SentencePieceProcessor(model_proto=self._model_proto)
            proto = sentencepiece_model_pb2.ModelProto()
            proto.ParseFromString(self._model_proto)
        except Exception as error:
            raise ValueError(f"not a sentencepiece model: {source or '<bytes>'} ({error})") from error
        special = (self._spaced.unk_id(), self._spaced.bos_id(), self._spaced.eos_id())
        if special != (0, 1, 2):
            raise ValueError(
                f"{source or 'the model'}: the XLM-R id convention needs <unk>=0 <s>=1 </s>=2, "
                f"the model has <unk>={special[0]} <s>={special[1]} </s>={special[2]}"
            )
        proto.normalizer_spec.add_dummy_prefix = False
        self._glued = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
        self.piece_count = self._spaced.get_piece_size()
        self.convention = WordIdConvention(self.piece_count)
        table = np.arange(self.piece_count, dtype=np.int32) + 1
        table[:3] = [self.convention.to_word_id(i) for i in range(3)]
        self._word_of_piece = table
        self.is_word_start = self._word_start_table()

    def _word_start_table(self) -> np.ndarray:
        """Bool per word id: the piece begins a word ("▁..."). Special ids and <unk> count as
        word starts so that whole-word masking never joins them to a neighbouring word."""
        starts = np.ones(self.vocab_size, dtype=bool)
        pieces = self._spaced.id_to_piece(list(range(3, self.piece_count)))
        starts[4 : self.piece_count + 1] = [piece.startswith(WORD_START) for piece in pieces]
        return starts

    # -- the convention ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.convention.vocab_size

    @property
    def mask_id(self) -> int:
        return self.convention.mask_id

    @property
    def model_proto(self) -> bytes:
        return self._model_proto

    def __getstate__(self) -> dict[str, Any]:
        return {"model_proto": self._model_proto, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_proto"], state["source"])  # type: ignore[misc]

    # -- encoding ------------------------------------------------------------------------------
    def encode_flat(self, segments: Sequence[tuple[str, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """Word ids of all segments concatenated (int32) and the token count of each segment."""
        kinds: list[int] = []
        spaced: list[str] = []
        glued: list[str] = []
        for text, is_glued in segments:
            if not text:
                kinds.append(_EMPTY)
            # A segment starting with whitespace is never glued: the whitespace separates it.
            elif is_glued and not text[0].isspace():
                kinds.append(_GLUED)
                glued.append(text)
            else:
                kinds.append(_SPACED)
                spaced.append(text)
        word_ids, offsets = self._encode_kinds(kinds, spaced, glued)
        return word_ids, np.diff(np.asarray(offsets, dtype=np.int64))

    def _encode_kinds(
        self, kinds: Sequence[int], spaced: list[str], glued: list[str]
    ) -> tuple[np.ndarray, list[int]]:
        """Encode the segments of ``kinds`` (the texts of each kind in ``spaced`` and ``glued``, in
        order), one sentencepiece call per processor. Returns their word ids concatenated in
        segment order (int32) and the token offset of each segment, the total last."""
        spaced_ids = iter(_encode_many(self._spaced, spaced))
        glued_ids = iter(_encode_many(self._glued, glued))
        empty: list[int] = []
        pieces = [
            next(spaced_ids) if kind == _SPACED else next(glued_ids) if kind else empty for kind in kinds
        ]
        offsets = list(itertools.accumulate(map(len, pieces), initial=0))
        flat = np.fromiter(itertools.chain.from_iterable(pieces), dtype=np.int64, count=offsets[-1])
        return self._word_of_piece[flat], offsets

    def encode_segments(self, segments: Sequence[tuple[str, bool]]) -> list[list[int]]:
        """Word ids of each ``(text, glued)`` segment; ``glued``: it directly follows non-space text."""
        word_ids, lengths = self.encode_flat(segments)
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        values = word_ids.tolist()
        return [values[bounds[i] : bounds[i + 1]] for i in range(len(segments))]

    def encode(self, text: str) -> list[int]:
        """Word ids of a whole text, as sentencepiece tokenizes it (no <s> or </s>)."""
        return self.encode_segments([(text, False)])[0]

    def decode(self, word_ids: Sequence[int]) -> str:
        """Text of word ids; <s>, </s> and <pad> are left out, <mask> is shown as "<mask>"."""
        parts: list[str] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                text = self._spaced.decode(run)
                if parts and self._spaced.id_to_piece(run[0]).startswith(WORD_START):
                    text = " " + text
                parts.append(text)
                run.clear()

        for word_id in word_ids:
            word_id = int(word_id)
            if word_id in (BOS_ID, EOS_ID, PAD_ID):
                continue
            if word_id == self.mask_id:
                flush()
                parts.append((" " if parts else "") + MASK_TOKEN)
                continue
            run.append(self.convention.to_piece_id(word_id))
        flush()
        return "".join(parts)

    def piece(self, word_id: int) -> str:
        """The piece string of a word id (special tokens by name)."""
        names = {BOS_ID: "<s>", PAD_ID: "<pad>", EOS_ID: "</s>", UNK_ID: "<unk>", self.mask_id: MASK_TOKEN}
        if word_id in names:
            return names[word_id]
        return self._spaced.id_to_piece(self.convention.to_piece_id(word_id))


def find_model_file(path: str) -> str:
    """The model file of ``path``: a ``.model`` file, or a directory holding ``sentencepiece.bpe.model``
    or exactly one ``*.model``."""
    if os.path.isfile(path):
        return path
    is_remote = "://" in path
    if is_remote and not path.endswith("/") and path_exists(path) and not _is_dir(path):
        return path
    if not is_remote and not os.path.isdir(path):
        raise ValueError(f"tokenizer not found: {path} (expected a sentencepiece .model file or a directory)")
    directory = path.rstrip("/")
    preferred = f"{directory}/{MODEL_FILE_NAME}"
    if path_exists(preferred):
        return preferred
    try:
        found = sorted(m.path for m in FileSystems.match([f"{directory}/*.model"])[0].metadata_list)
    except Exception:
        found = []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"no {MODEL_FILE_NAME} or other *.model file in {path}")
    names = ", ".join(name.rsplit("/", 1)[-1] for name in found)
    raise ValueError(f"several .model files in {path} ({names}); pass the file itself")


def _is_dir(path: str) -> bool:
    try:
        return bool(FileSystems.match([path.rstrip("/") + "/*"])[0].metadata_list)
    except Exception:
        return False


def load_tokenizer(path: str) -> Tokenizer:
    """Load a sentencepiece model (file or directory, local or any Beam filesystem)."""
    model_file = find_model_file(path)
    with FileSystems.open(model_file, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        data = handle.read()
    return Tokenizer(data, source=model_file)


# -- sentences around links --------------------------------------------------------------------


def _links_by_sentence(sentences: Sequence[Span], links: Sequence[Any]) -> list[list[tuple[int, int, int]]]:
    """For each sentence, the non-empty links lying entirely inside it, sorted by (start, end)."""
    ordered = sorted(
        (link_start, link_end, index)
        for index, (link_start, link_end) in enumerate(map(link_bounds, links))
        if link_start < link_end
    )
    if not ordered:
        return [[] for _ in sentences]
    starts = [link_start for link_start, _, _ in ordered]
    result = []
    for start, end in sentences:
        first = bisect.bisect_left(starts, start)
        last = bisect.bisect_left(starts, end, first)
        result.append([link for link in ordered[first:last] if link[1] <= end] if last > first else [])
    return result


class SentenceBatch:
    """Sentences of one or more texts, tokenized around their links with one sentencepiece call
    per processor for the whole batch (a page, say) instead of one per segment or paragraph.

    ``add`` plans a text's sentences (rules 1 and 3) and returns the positions its sentences will
    have in ``tokenize()``'s result; ``tokenize`` encodes every planned segment.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._kinds: list[int] = []  # per segment: _EMPTY, _SPACED or _GLUED
        self._spaced: list[str] = []
        self._glued: list[str] = []
        # Per sentence: first segment, segment count, (segment, link index) of its link
        # segments, and the links skipped as overlapping.
        self._sentences: list[tuple[int, int, list[tuple[int, int]], list[tuple[int, str]]]] = []

    def add(self, text: str, sentences: Sequence[Span], links: Sequence[Any]) -> range:
        first_sentence = len(self._sentences)
        kinds, spaced, glued = self._kinds, self._spaced, self._glued

        def put(position: int, stop: int, sentence_start: int) -> None:
            """Segment ``text[position:stop]`` (non-empty): glued when it follows non-space text of
            its sentence and does not start with whitespace itself (rule 3)."""
            if (
                position > sentence_start
                and not text[position - 1].isspace()
                and not text[position].isspace()
            ):
                kinds.append(_GLUED)
                glued.append(text[position:stop])
            else:
                kinds.append(_SPACED)
                spaced.append(text[position:stop])

        for (start, end), sentence_links in zip(sentences, _links_by_sentence(sentences, links), strict=True):
            first = len(kinds)
            if not sentence_links:  # one segment; at the sentence start it is never glued
                if end > start:
                    kinds.append(_SPACED)
                    spaced.append(text[start:end])
                else:
                    kinds.append(_EMPTY)
                self._sentences.append((first, 1, [], []))
                continue
            # Rule 1: cut at the link boundaries, links in order of start, overlapping ones skipped.
            link_segments: list[tuple[int, int]] = []
            overlapping: list[tuple[int, str]] = []
            cursor = start
            for link_start, link_end, index in sentence_links:
                if link_start < cursor:
                    overlapping.append((index, "overlapping"))
                    continue
                if link_start > cursor:
                    put(cursor, link_start, start)
                link_segments.append((len(kinds) - first, index))
                put(link_start, link_end, start)
                cursor = link_end
            if cursor < end:
                put(cursor, end, start)
            self._sentences.append((first, len(kinds) - first, link_segments, overlapping))
        return range(first_sentence, len(self._sentences))

    def tokenize(self) -> list[TokenizedSentence]:
        word_ids, offsets = self._tokenizer._encode_kinds(self._kinds, self._spaced, self._glued)
        values: list[int] = word_ids.tolist()
        results: list[TokenizedSentence] = []
        for first, count, link_segments, overlapping in self._sentences:
            base = offsets[first]
            if not link_segments and not overlapping:
                results.append(TokenizedSentence(values[base : offsets[first + count]], [], []))
                continue
            spans: list[tuple[int, int, int]] = []
            skipped = list(overlapping)
            for segment_index, link_index in link_segments:
                token_start = offsets[first + segment_index] - base
                token_end = offsets[first + segment_index + 1] - base
                if token_end > token_start:
                    spans.append((token_start, token_end, link_index))
                else:
                    skipped.append((link_index, "empty"))
            if len(skipped) > 1:
                skipped.sort()
            results.append(TokenizedSentence(values[base : offsets[first + count]], spans, skipped))
        return results


def tokenize_sentences(
    text: str, sentences: Sequence[Span], links: Sequence[Any], tokenizer: Tokenizer
) -> list[TokenizedSentence]:
    """``tokenize_sentence`` for several sentences of one text, in one sentencepiece batch."""
    batch = SentenceBatch(tokenizer)
    batch.add(text, sentences, links)
    return batch.tokenize()


def tokenize_sentence(
    text: str, start: int, end: int, links: Sequence[Any], tokenizer: Tokenizer
) -> TokenizedSentence:
    """Word ids of ``text[start:end]`` with each link inside it as a whole token span.

    ``links`` are PAGE_SCHEMA link dicts (or ``(start, end, ...)`` tuples) with offsets into
    ``text``; see the module docstring for the rules.
    """
    return tokenize_sentences(text, [(start, end)], links, tokenizer)[0]
