"""Sentence splitting with ICU, with exact Python offsets, and the rule for links across sentences.

- ``split_sentences`` runs ICU's sentence ``BreakIterator`` with the language's locale. ICU reports
  boundaries in UTF-16 code units; they are converted exactly to Python string indices (a non-BMP
  character such as 😀 or 𠮷 is one Python character but two UTF-16 units). The text is never
  altered. Spans exclude the whitespace between sentences.
- Abbreviation suppressions (mLUKE used ``@ss=standard`` for en de es it pt): ICU's own filtered
  iterator matches its abbreviation list as a bare suffix of the preceding text, so the German entry
  ``r.`` suppresses the break after every word ending in "r." ("Einwohner. Der ...", "Jahr. Sie
  ...") and the Portuguese ``f.``/``l.`` entries likewise. We take the same abbreviation list from
  ICU's data, add a few common ones it lacks (``Dr.``, ``e.g.``, ``i.e.`` in English, ...), and
  suppress a break only when a whole abbreviation ends right before it (the abbreviation starts
  the text or follows a space or an opening bracket/quote). German ordinals ("am 3. Oktober") keep
  their sentence too.
- An opening bracket or quote that ICU leaves at the end of a sentence (``。「``: UAX #29 treats
  opening punctuation like closing) moves to the sentence it opens.
- ``merge_across_links``: a link crossing a sentence boundary joins the two sentences, so every
  link lies inside one sentence and becomes one entity mention.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import icu
import numpy as np

Span = tuple[int, int]

# Languages whose abbreviation list is applied (the mLUKE setting: ICU's ``@ss=standard``).
SUPPRESSION_LANGUAGES = frozenset({"en", "de", "es", "it", "pt"})

# Common abbreviations that ICU's lists lack; only breaks before an upper-case word need them
# (ICU does not break before lower-case text or digits anyway).
EXTRA_SUPPRESSIONS: dict[str, tuple[str, ...]] = {
    "en": (
        "Dr.", "Drs.", "St.", "Ste.", "Ft.", "Gen.", "Gov.", "Sen.", "Pres.", "Supt.", "Cmdr.",
        "Adm.", "Brig.", "Cpl.", "Pte.", "Fr.", "Sr.", "Mme.", "Mlle.", "Messrs.", "e.g.", "i.e.",
        "cf.", "viz.", "approx.", "ca.", "c.", "No.", "Nos.", "Vol.", "vol.", "Fig.", "fig.", "Ch.",
    ),
    "de": ("ca.", "bzw.", "Prof.", "Hl.", "Bd.", "Jh.", "d. h.", "u. a.", "z. T.", "v. a.", "z. B."),
    "es": ("Sr.", "Sra.", "Srta.", "Dr.", "Dra.", "Ud.", "Uds.", "p. ej.", "aprox.", "núm."),
    "it": ("Sig.", "Sigg.", "Sig.ra", "Dott.", "Prof.", "Avv.", "Ing.", "S.", "ca.", "es."),
    "pt": ("Sr.", "Sra.", "Dr.", "Dra.", "Prof.", "p. ex.", "aprox.", "n.º"),
}  # fmt: skip

# A German ordinal number: "am 3. Oktober", "im 19. Jahrhundert".
_ORDINAL_LANGUAGES = frozenset({"de"})
_ORDINAL = re.compile(r"(?<![\w.])\d{1,2}\.$")

# Characters after which an abbreviation may start (besides whitespace and the text start).
_OPENERS = frozenset("([{\"'«»„“”‘’‹›¿¡/—–")

_local = threading.local()
_logger = logging.getLogger(__name__)


def icu_locale_name(lang: str) -> str:
    """ICU locale id of a Wikipedia language code (``zh-yue`` -> ``zh_yue``)."""
    return lang.replace("-", "_")


def _iterator(lang: str) -> Any:
    """This thread's sentence break iterator for ``lang`` (ICU iterators are not thread-safe)."""
    cache: dict[str, Any] | None = getattr(_local, "iterators", None)
    if cache is None:
        cache = _local.iterators = {}
    iterator = cache.get(lang)
    if iterator is None:
        iterator = icu.BreakIterator.createSentenceInstance(icu.Locale(icu_locale_name(lang)))
        cache[lang] = iterator
    return iterator


def _icu_exceptions(lang: str) -> list[str]:
    """ICU's sentence-break abbreviation list of a language (what ``@ss=standard`` uses)."""
    data = f"icudt{icu.ICU_VERSION.split('.')[0]}{'l' if sys.byteorder == 'little' else 'b'}-brkitr"
    try:
        bundle = icu.ResourceBundle(icu.UnicodeString(data), icu.Locale(icu_locale_name(lang)))
        table = bundle.get("exceptions").get("SentenceBreak")
        return [table.getStringEx(i) for i in range(table.getSize())]
    except Exception as error:  # missing data in a trimmed ICU build
        _logger.warning("no ICU sentence-break exceptions for %s (%s); using the built-in list", lang, error)
        return []


@cache
def abbreviations(lang: str) -> frozenset[str]:
    """The abbreviations after which a sentence break is suppressed (empty for most languages)."""
    if lang not in SUPPRESSION_LANGUAGES:
        return frozenset()
    return frozenset(_icu_exceptions(lang)) | frozenset(EXTRA_SUPPRESSIONS.get(lang, ()))


@cache
def _suppression_tables(lang: str) -> tuple[frozenset[str], tuple[int, ...], dict[str, tuple[str, ...]]]:
    """Whole entries, their lengths, and for entries with a space ("d. h."): head -> tails."""
    entries = abbreviations(lang)
    lengths = tuple(sorted({len(entry) for entry in entries}, reverse=True))
    partial: dict[str, list[str]] = {}
    for entry in entries:
        for match in re.finditer(r"\. ", entry):
            head, tail = entry[: match.start() + 1], entry[match.end() :]
            partial.setdefault(head, []).append(tail)
    return entries, lengths, {head: tuple(tails) for head, tails in partial.items()}


def _starts_word(text: str, index: int) -> bool:
    if index == 0:
        return True
    before = text[index - 1]
    return before.isspace() or before in _OPENERS


def _is_suppressed(text: str, boundary: int, lang: str) -> bool:
    """Whether the break at ``boundary`` follows a whole abbreviation (or a German ordinal)."""
    end = boundary
    while end > 0 and text[end - 1].isspace():
        end -= 1
    if end == 0 or end == boundary:
        # Only a break after "abbreviation + whitespace" is suppressed.
        return False
    entries, lengths, partial = _suppression_tables(lang)
    for length in lengths:
        start = end - length
        if start >= 0 and text[start:end] in entries and _starts_word(text, start):
            return True
    for head, tails in partial.items():
        start = end - len(head)
        if (
            start >= 0
            and text[start:end] == head
            and _starts_word(text, start)
            and any(text.startswith(tail, boundary) for tail in tails)
        ):
            return True
    return lang in _ORDINAL_LANGUAGES and _ORDINAL.search(text, max(0, end - 4), end) is not None


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def utf16_to_python(text: str, offsets: Sequence[int]) -> list[int]:
    """Convert UTF-16 code-unit offsets into ``text`` to Python string indices."""
    if text.isascii() or _ASTRAL.search(text) is None:  # (a regex scan: ~10x faster than max())
        return list(offsets)
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    units = np.concatenate(([0], np.cumsum(1 + (codepoints > 0xFFFF))))
    indices = np.searchsorted(units, np.asarray(offsets, dtype=np.int64))
    return [int(i) for i in indices]


def icu_boundaries(text: str, lang: str) -> list[int]:
    """ICU's sentence boundaries (no suppressions) as Python indices, 0 and len(text) included."""
    iterator = _iterator(lang)
    unicode_text = icu.UnicodeString(text)  # referenced until iteration ends
    iterator.setText(unicode_text)
    offsets = [iterator.first(), *iterator]
    return utf16_to_python(text, offsets)


def split_sentences(text: str, lang: str) -> list[Span]:
    """Sentence spans ``(start, end)`` of ``text``, Python indices, whitespace around them excluded."""
    if not text:
        return []
    boundaries = icu_boundaries(text, lang)
    if lang in SUPPRESSION_LANGUAGES and len(boundaries) > 2:
        boundaries = [b for b in boundaries if b in (0, len(text)) or not _is_suppressed(text, b, lang)]
    for i in range(1, len(boundaries) - 1):
        # UAX #29 counts opening brackets as "Close", so "。「" ends a sentence with the bracket
        # that opens the next one; move such brackets to the sentence they open.
        while boundaries[i] > boundaries[i - 1] and unicodedata.category(text[boundaries[i] - 1]) == "Ps":
            boundaries[i] -= 1
    spans: list[Span] = []
    for start, end in itertools.pairwise(boundaries):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def link_bounds(link: Any) -> Span:
    """(start, end) of a link given as a PAGE_SCHEMA dict, a (start, end, ...) tuple or an object."""
    if type(link) is dict or isinstance(link, Mapping):
        return link["start"], link["end"]
    if isinstance(link, tuple):
        return int(link[0]), int(link[1])
    return int(link.start), int(link.end)


def merge_across_links(spans: Sequence[Span], links: Iterable[Any]) -> list[Span]:
    """Join consecutive sentences when a link crosses the boundary between them.

    A link that starts in sentence i and ends in sentence j > i joins sentences i..j into one, so
    the link stays one entity mention. Spans must be sorted and disjoint (as split_sentences gives).
    """
    if len(spans) < 2:
        return list(spans)
    starts = [start for start, _ in spans]
    join = [False] * (len(spans) - 1)  # join[i]: sentence i continues into sentence i + 1
    for link in links:
        start, end = link_bounds(link)
        if end <= start:
            continue
        first = max(bisect.bisect_right(starts, start) - 1, 0)
        last = bisect.bisect_right(starts, end - 1) - 1
        for i in range(first, last):
            join[i] = True
    merged: list[Span] = []
    current_start, current_end = spans[0]
    for i in range(1, len(spans)):
        if join[i - 1]:
            current_end = spans[i][1]
        else:
            merged.append((current_start, current_end))
            current_start, current_end = spans[i]
    merged.append((current_start, current_end))
    return merged
