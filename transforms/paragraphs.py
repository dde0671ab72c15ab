"""Paragraphs of plain text with link spans: the builder the token walk writes into, and the
final clean-up of each paragraph (whitespace, stray brackets, empty parentheses) that keeps the
link offsets exact.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    start: int
    end: int
    target: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    is_lead: bool
    links: tuple[Link, ...]


_ANY_WHITESPACE = re.compile(r"[^\S ]+")
_SPACE_RUNS = re.compile(r"  +")
# Parentheses left with nothing but spaces and separators once markup inside them is removed.
_EMPTY_PARENS = re.compile(r"\s*[(（][\s,;:、，；]*[)）]")
# Link and template brackets that no markup consumed (an unclosed ``[[``, a table's ``|}`` meeting
# a template's ``}}``): never text a reader sees.
_STRAY_MARKUP = re.compile(r"\[\[+|\]\]+|\{\{+|\}\}+")


class ParagraphBuilder:
    """Accumulates text pieces and link spans, split into paragraphs."""

    __slots__ = ("after_list_item", "is_lead", "length", "links", "paragraphs", "pending_newlines", "pieces")

    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self.pieces: list[str] = []
        self.length = 0
        self.links: list[tuple[int, int, str]] = []
        self.is_lead = True
        self.pending_newlines = 0
        self.after_list_item = False

    def _flush(self) -> None:
        if self.pieces:
            paragraph = _finalize("".join(self.pieces), self.links, self.is_lead)
            if paragraph is not None:
                self.paragraphs.append(paragraph)
            self.pieces = []
            self.length = 0
            self.links = []  # links only ever span text, so none are left when pieces are empty

    def paragraph_break(self) -> None:
        self._flush()
        self.pending_newlines = 0
        self.after_list_item = False

    def heading(self) -> None:
        self.paragraph_break()
        self.is_lead = False

    def list_item(self) -> None:
        self.paragraph_break()
        self.after_list_item = True

    def newline(self) -> None:
        self.pending_newlines += 1

    def _settle_newlines(self) -> None:
        if self.pending_newlines >= 2 or self.after_list_item:
            self.paragraph_break()
        else:
            self.pending_newlines = 0
            self.pieces.append(" ")
            self.length += 1

    def text(self, text: str) -> None:
        if text:
            if self.pending_newlines:
                self._settle_newlines()
            self.pieces.append(text)
            self.length += len(text)

    def start_link(self) -> int:
        if self.pending_newlines:
            self._settle_newlines()
        return self.length

    def end_link(self, start: int, target: str) -> None:
        if self.length > start:
            self.links.append((start, self.length, target))

    def finish(self) -> tuple[Paragraph, ...]:
        self._flush()
        return tuple(self.paragraphs)


def _deleted_before(position: int, starts: list[int], ends: list[int], cumulative: list[int]) -> int:
    """Characters deleted before ``position`` by sorted, disjoint [start, end) intervals."""
    i = bisect.bisect_right(starts, position) - 1
    if i < 0:
        return 0
    return cumulative[i] + min(ends[i], position) - starts[i]


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _has_stray_markup(text: str) -> bool:
    return "[[" in text or "]]" in text or "{{" in text or "}}" in text


def _finalize(raw: str, links: list[tuple[int, int, str]], is_lead: bool) -> Paragraph | None:
    # Same length as raw: every whitespace character becomes a plain space (all of them but the
    # space are unprintable, so printable text, the common case, has none).
    text = raw if raw.isprintable() else _ANY_WHITESPACE.sub(_spaces, raw)
    if _has_stray_markup(text):
        text = _STRAY_MARKUP.sub(_spaces, text)  # same length: link offsets stay valid
    deletions: list[tuple[int, int]] = []
    if "  " in text:
        deletions = [(m.start() + 1, m.end()) for m in _SPACE_RUNS.finditer(text)]
    if "(" in text or "（" in text:
        for match in _EMPTY_PARENS.finditer(text):
            # Never cut into a link's anchor.
            if not any(start < match.end() and match.start() < end for start, end, _ in links):
                deletions.append((match.start(), match.end()))
    lead, trail = text[:1] == " ", text[-1:] == " "
    if deletions:
        if lead:
            deletions.append((0, 1))
        if trail:
            deletions.append((len(text) - 1, len(text)))
        out, moved = _cut(text, deletions, links)
    elif lead:  # the common cut, a space at either end only (list items start with one)
        out = text[1 : len(text) - trail]
        moved = [(start - 1, end - 1, target) for start, end, target in links]
    else:
        out = text[: len(text) - trail]
        moved = links
    if not out:
        return None
    length = len(out)
    new_links: list[Link] = []
    for start, end, target in moved:
        start, end = min(max(start, 0), length), min(max(end, 0), length)
        while start < end and out[start] == " ":
            start += 1
        while end > start and out[end - 1] == " ":
            end -= 1
        if end > start:
            new_links.append(Link(start, end, target))
    return Paragraph(out, is_lead, tuple(new_links))


def _cut(
    text: str, deletions: list[tuple[int, int]], links: list[tuple[int, int, str]]
) -> tuple[str, list[tuple[int, int, str]]]:
    """Delete the intervals and strip; link offsets move with the text (not yet clamped)."""
    merged: list[list[int]] = []
    for start, end in sorted(deletions):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [start for start, _ in merged]
    ends = [end for _, end in merged]
    cumulative = [0] * len(merged)
    for i in range(1, len(merged)):
        cumulative[i] = cumulative[i - 1] + ends[i - 1] - starts[i - 1]
    pieces = []
    previous = 0
    for start, end in merged:
        pieces.append(text[previous:start])
        previous = end
    pieces.append(text[previous:])
    joined = "".join(pieces)
    out = joined.strip(" ")
    shift = len(joined) - len(joined.lstrip(" "))
    moved = [
        (
            start - _deleted_before(start, starts, ends, cumulative) - shift,
            end - _deleted_before(end, starts, ends, cumulative) - shift,
            target,
        )
        for start, end, target in links
    ]
    return out, moved
