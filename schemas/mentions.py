"""The mention rule: how anchor texts become mention-dictionary keys and where a key occurs in text.

One definition, used by the vocab stage (building the dictionary, counting in how many pages a
mention occurs) and by fine-tuning and ``mluke-data mentions detect`` (finding mentions in
questions and contexts). Pure functions on ``str``; no dependency beyond the standard library.

- **Key** (:func:`normalize_mention`): NFKC, then every run of whitespace and invisible
  direction marks becomes one space, trimmed, then lower-cased.
- **Tokens** (:func:`mention_tokens`): a normalized text is cut into units: in scripts written
  without spaces (Thai, Lao, Myanmar, Khmer, kana, Han, bopomofo) each character with the
  combining marks after it; elsewhere a run of letters, digits and combining marks; any other
  visible character alone; and the single spaces between them.
- **Occurrence**: a key occurs in a text where its tokens equal a run of the text's tokens. So a
  mention matches on word boundaries in scripts with spaces ("york" is not in "yorkshire") and
  as a substring in zh, ja and th (one unit per character: "東京" is in "東京都").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

_WHITESPACE = re.compile(r"[\s\u00a0\u200b\u200e\u200f\u202a-\u202e]+")
_INVISIBLE = "\u200b\u200e\u200f\u202a-\u202e"

# Scripts written without spaces between words: every character is a unit.
_CHARACTER_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035"
    "\u3040-\u30ff"  # kana
    "\u3100-\u312f\u31a0-\u31ff"  # bopomofo, katakana extension
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han
    "\uff66-\uff9d"  # half-width katakana
    "\U00020000-\U0003134f"  # Han extensions
)


def _mark_class() -> str:
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


# Combining marks, and the half-width voicing marks that NFKC composes with the kana before them.
_MARKS = _mark_class() + "\uff9e\uff9f"
_UNIT_PATTERN = (
    rf"[{_CHARACTER_SCRIPTS}][{_MARKS}]*"
    rf"|(?:[^\W{_CHARACTER_SCRIPTS}][{_MARKS}]*)+"
    rf"|[^\s{_INVISIBLE}]"
)
_UNIT = re.compile(_UNIT_PATTERN)
_TOKEN = re.compile(_UNIT_PATTERN + "| ")

SPACE = " "
# Tokens of a mention longer than this (spaces not counted) are not matched at fine-tuning time.
DEFAULT_MAX_TOKENS = 16


def normalize_mention(text: str) -> str:
    """Key of the mention dictionary: NFKC, whitespace collapsed and trimmed, lower-cased.

    NFKC folds full-width Latin and compatibility forms (common in ja/zh anchors); lower-casing
    merges sentence-initial capitals with the same name mid-sentence.
    """
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text).strip().lower()


def mention_tokens(normalized: str) -> list[str]:
    """Tokens of an already normalized text (a key, or a whole normalized paragraph)."""
    return _TOKEN.findall(normalized)


def text_units(text: str) -> list[tuple[int, int]]:
    """Character spans of the units of a raw (not normalized) text."""
    return [match.span() for match in _UNIT.finditer(text)]


def text_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of ``normalize_mention(text)`` with the span of raw text each comes from.

    Each unit of the raw text is normalized on its own (a character never combines with its
    neighbour across a unit boundary, and the kana voicing marks are part of their unit), so the
    tokens are those of the whole normalized text and every token knows its origin. A space token
    spans the gap it stands for.
    """
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    previous_end = 0
    for match in _UNIT.finditer(text):
        start, end = match.span()
        adjacent = start == previous_end
        if not adjacent and tokens and tokens[-1] != SPACE:
            tokens.append(SPACE)
            spans.append((previous_end, start))
        previous_end = end
        unit = match.group()
        if not unit.isascii():  # ASCII is its own NFKC and a unit holds no whitespace
            unit = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", unit))
        pieces = _TOKEN.findall(unit.lower())
        if pieces and adjacent and tokens and tokens[-1] != SPACE:
            # Normalization can turn a symbol into letters ("a™" -> "atm") or leave a mark that
            # belongs to the unit before: join them where the normalized text is one token.
            joined = tokens[-1] + pieces[0]
            if _TOKEN.match(joined).end() == len(joined):  # type: ignore[union-attr]
                tokens[-1] = joined
                spans[-1] = (spans[-1][0], end)
                pieces = pieces[1:]
        for piece in pieces:
            if piece == SPACE and (not tokens or tokens[-1] == SPACE):
                continue
            tokens.append(piece)
            spans.append((start, end))
    if tokens and tokens[-1] == SPACE:
        tokens.pop()
        spans.pop()
    return tokens, spans


V = TypeVar("V")


@dataclass(frozen=True)
class Detection(Generic[V]):
    start: int  # character offsets in the raw text
    end: int
    mention: str  # the dictionary key that matched
    value: V


class LongestMatch(Generic[V]):
    """Dictionary keys -> values, found in text by longest match, left to right.

    At each token the longest run of tokens that spells a key is taken and the search resumes
    after it; a run starts and ends on a unit, never on a space.
    """

    def __init__(self, items: Iterable[tuple[str, V]], max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self.max_tokens = max_tokens
        self.values: dict[str, V] = {}
        self._prefixes: set[str] = set()
        for key, value in items:
            tokens = mention_tokens(key)
            units = sum(1 for token in tokens if token != SPACE)
            if not units or units > max_tokens or key in self.values or "".join(tokens) != key:
                continue
            self.values[key] = value
            prefix = ""
            for token in tokens:
                prefix += token
                self._prefixes.add(prefix)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def detect(self, text: str) -> list[Detection[V]]:
        tokens, spans = text_tokens(text)
        found: list[Detection[V]] = []
        i = 0
        while i < len(tokens):
            if tokens[i] == SPACE:
                i += 1
                continue
            best = -1
            key = ""
            best_key = ""
            units = 0
            j = i
            while j < len(tokens):
                key += tokens[j]
                if key not in self._prefixes:
                    break
                if tokens[j] != SPACE:
                    units += 1
                    if units > self.max_tokens:
                        break
                    if key in self.values:
                        best, best_key = j, key
                j += 1
            if best >= 0:
                found.append(Detection(spans[i][0], spans[best][1], best_key, self.values[best_key]))
                i = best + 1
            else:
                i += 1
        return found


# ---------------------------------------------------------------------------------------------
# Which dictionary rows become candidates (fine-tuning and ``mluke-data mentions detect``)

DEFAULT_MIN_COMMONNESS = 0.3
DEFAULT_MIN_MENTION_COUNT = 2
DEFAULT_MIN_LINK_PROB = 0.01  # luke's candidate generator keeps mentions linked >= 1% of the time


def rejection(
    row: Mapping[str, Any], min_commonness: float, min_mention_count: int, min_link_prob: float
) -> str | None:
    """Why a mention-dictionary row is not a candidate, or None when it is one.

    A row is kept when its mention is a link often enough (``link_prob``), has been a link
    often enough (``mention_count``) and the row's entity is common enough for it
    (``commonness``); of the kept rows of a mention, the highest commonness wins (then the
    lowest entity id).
    """
    if float(row.get("link_prob", 1.0)) < min_link_prob:
        return f"link_prob {float(row['link_prob']):.4f} < {min_link_prob}"
    if int(row["mention_count"]) < min_mention_count:
        return f"mention_count {row['mention_count']} < {min_mention_count}"
    if float(row["commonness"]) < min_commonness:
        return f"commonness {float(row['commonness']):.3f} < {min_commonness}"
    return None


def candidate_order(row: Mapping[str, Any]) -> tuple[float, int]:
    """Sort key of the rows of one mention: the first kept row is its entity."""
    return -float(row["commonness"]), int(row["entity_id"])


def candidate_keys(text: str, max_tokens: int = DEFAULT_MAX_TOKENS) -> set[str]:
    """Every key that could match in ``text``: runs of up to ``max_tokens`` units on unit boundaries."""
    tokens, _ = text_tokens(text)
    keys: set[str] = set()
    for i, first in enumerate(tokens):
        if first == SPACE:
            continue
        key = ""
        units = 0
        for token in tokens[i:]:
            key += token
            if token == SPACE:
                continue
            units += 1
            if units > max_tokens:
                break
            keys.add(key)
    return keys
