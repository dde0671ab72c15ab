"""Wikitext -> paragraphs of plain text with hyperlink spans (the extraction rules).

The rules, in short (docs/extract.md has the full list):

- Main-namespace links become spans; the anchor is what a reader sees: the piped text, or the
  target as written, plus a link trail (``[[bus]]es`` -> "buses"). Category links are collected as
  page categories; file/image/media links (with their captions) and interlanguage links vanish;
  links into other namespaces, to sister projects or to sections keep their text without a span.
- Removed with their content: refs, comments, tables, math and other non-prose tags, headings
  (they split paragraphs), magic words, and templates, except a small set of inline templates that
  carry sentence text (``{{lang|de|Berlin}}`` -> "Berlin", ``{{nihongo|Tokyo|東京|Tōkyō}}`` ->
  "Tokyo (東京, Tōkyō)", ``{{nowrap|...}}``, ``{{convert|10|km}}`` -> "10 km", ...).
- Bold/italic quote runs are dropped, HTML entities decoded, ``-{zh-hans:...;zh-hant:...}-``
  conversion markup resolved to its zh-hans (else first) variant.
- Blank lines, headings, list items and tables split paragraphs; a single newline is a space;
  whitespace runs collapse to one space and empty parentheses left behind by removed markup go.

Offsets are Python string indices into the final paragraph text.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import mwparserfromhell
from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Node,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

from transforms.languages import DISAMBIGUATION_TEMPLATES, link_trail_pattern
from transforms.titles import SiteInfo, parse_link_target, upper_first


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


@dataclass(frozen=True)
class ExtractedArticle:
    paragraphs: tuple[Paragraph, ...]
    categories: tuple[str, ...]
    is_disambiguation: bool


# Tags whose content is not running text of the article.
_DROPPED_TAGS = frozenset(
    [
        "ref",
        "references",
        "math",
        "chem",
        "ce",
        "score",
        "gallery",
        "timeline",
        "graph",
        "templatestyles",
        "imagemap",
        "mapframe",
        "maplink",
        "syntaxhighlight",
        "source",
        "hiero",
        "inputbox",
        "categorytree",
        "indicator",
        "includeonly",
        "pre",
        "table",
        "style",
        "script",
        "noinclude",
        "charinsert",
        "section",
        "dynamicpagelist",
    ]
)
_PARAGRAPH_BREAK_TAGS = frozenset({"li", "dt", "dd", "hr", "p", "tr", "td", "th"})
_SPACE_TAGS = frozenset({"br"})

_MAGIC_WORD = re.compile(r"__[A-Z_]{3,}__")
_QUOTE_RUN = re.compile(r"'{2,}")
_WHITESPACE_RUN = re.compile(r"\s+")
_ANY_WHITESPACE = re.compile(r"[^\S ]+")
_SPACE_RUNS = re.compile(r"  +")
# Parentheses left with nothing but spaces and separators once markup inside them is removed.
_EMPTY_PARENS = re.compile(r"\s*[(（][\s,;:、，；]*[)）]")
_CONVERSION = re.compile(r"-\{(.*?)\}-", re.DOTALL)
_CONVERSION_VARIANT = re.compile(r"^\s*([a-z]{2,3}(?:-[a-z]{2,4})?)\s*:(.*)$", re.DOTALL)
_VARIANT_PREFERENCE = ("zh-hans", "zh-cn", "zh-sg", "zh-my", "zh", "zh-hant", "zh-tw", "zh-hk", "zh-mo")
# Markup a quick scan removes before the parser sees it: the parser is the bottleneck, and refs
# and comments are a large share of modern article wikitext.
_PRE_STRIP = re.compile(
    r"<!--.*?(?:-->|\Z)|<ref\b[^>]*/>|<ref\b[^>]*>.*?</ref\s*>"
    r"|<(math|chem|ce|score|syntaxhighlight|source|pre|timeline|graph)\b[^>]*>.*?</\1\s*>",
    re.DOTALL | re.IGNORECASE,
)


def resolve_language_conversion(text: str) -> str:
    """Resolve ``-{...}-`` markup: the zh-hans variant, else the first; ``-{X}-`` -> X."""
    if "-{" not in text:
        return text

    def choose(match: re.Match[str]) -> str:
        body = match.group(1)
        if "|" in body and re.match(r"^\s*[A-Za-z;]{1,6}\s*\|", body):
            flags, body = body.split("|", 1)
            if "H" in flags or "-" in flags.strip():
                return ""  # rule definitions display nothing
        variants: dict[str, str] = {}
        for part in body.split(";"):
            variant = _CONVERSION_VARIANT.match(part)
            if variant is None:
                variants = {}
                break
            variants.setdefault(variant.group(1), variant.group(2).strip())
        if not variants:
            return body
        for name in _VARIANT_PREFERENCE:
            if name in variants:
                return variants[name]
        return next(iter(variants.values()))

    return _CONVERSION.sub(choose, text)


def _template_name(template: Template) -> str:
    name = str(template.name).strip().replace("_", " ")
    name = _WHITESPACE_RUN.sub(" ", name.split("<!--", 1)[0]).strip()
    if ":" in name and name.lower().startswith(("template:", "vorlage:", "modèle:")):
        name = name.split(":", 1)[1].strip()
    return upper_first(name)


def _positional(template: Template) -> list[Wikicode]:
    return [p.value for p in template.params if not p.showkey]


def _render_kept_template(template: Template, name: str) -> list[Wikicode | str] | None:
    """Parts of an inline template that carry sentence text, or None to drop the template."""
    lowered = name.lower()
    args = _positional(template)
    if lowered in ("lang", "lang2", "langx") and len(args) >= 2:
        return [args[1]]
    if lowered.startswith("lang-") and args:
        return [args[0]]
    if lowered == "nihongo" and args:
        parts: list[Wikicode | str] = [args[0]]
        extra = [a for a in args[1:3] if str(a).strip()]
        if extra:
            parts.append(" (")
            for i, value in enumerate(extra):
                if i:
                    parts.append(", ")
                parts.append(value)
            parts.append(")")
        return parts
    if lowered in ("nowrap", "nobr", "small", "smaller", "big", "larger", "resize", "ruby") and args:
        return [args[-1]] if lowered == "resize" else [args[0]]
    if lowered in ("transl", "transliteration") and args:
        return [args[-1]]
    if lowered in ("convert", "cvt") and args:
        parts = [args[0]]
        if len(args) > 1:
            parts += [" ", args[1]]
        return parts
    if lowered in ("abbr",) and args:
        return [args[0]]
    return None


class _ParagraphBuilder:
    """Accumulates text pieces and link spans, split into paragraphs."""

    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self.pieces: list[str] = []
        self.length = 0
        self.links: list[Link] = []
        self.is_lead = True
        self.pending_newlines = 0
        self.after_list_item = False

    def _flush(self) -> None:
        if self.pieces:
            paragraph = finalize_paragraph("".join(self.pieces), self.links, self.is_lead)
            if paragraph is not None:
                self.paragraphs.append(paragraph)
        self.pieces = []
        self.length = 0
        self.links = []

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
        if self.pending_newlines:
            if self.pending_newlines >= 2 or self.after_list_item:
                self.paragraph_break()
            else:
                self.pending_newlines = 0
                self._append(" ")

    def _append(self, text: str) -> None:
        self.pieces.append(text)
        self.length += len(text)

    def text(self, text: str) -> None:
        if not text:
            return
        self._settle_newlines()
        self._append(text)

    def start_link(self) -> int:
        self._settle_newlines()
        return self.length

    def end_link(self, start: int, target: str) -> None:
        if self.length > start:
            self.links.append(Link(start, self.length, target))

    def finish(self) -> tuple[Paragraph, ...]:
        self._flush()
        return tuple(self.paragraphs)


def _deleted_before(position: int, starts: list[int], ends: list[int], cumulative: list[int]) -> int:
    """Characters deleted before ``position`` by sorted, disjoint [start, end) intervals."""
    i = bisect.bisect_right(starts, position) - 1
    if i < 0:
        return 0
    return cumulative[i] + min(ends[i], position) - starts[i]


def finalize_paragraph(raw: str, links: Iterable[Link], is_lead: bool) -> Paragraph | None:
    """Collapse whitespace, drop empty parentheses and strip, keeping link offsets exact."""
    links = list(links)
    # Same length as raw: every whitespace character becomes a plain space.
    text = _ANY_WHITESPACE.sub(lambda m: " " * len(m.group(0)), raw)
    deletions: list[tuple[int, int]] = [(m.start() + 1, m.end()) for m in _SPACE_RUNS.finditer(text)]
    spans = [(link.start, link.end) for link in links]
    for match in _EMPTY_PARENS.finditer(text):
        # Never cut into a link's anchor.
        if not any(start < match.end() and match.start() < end for start, end in spans):
            deletions.append((match.start(), match.end()))
    if text[:1] == " ":
        deletions.append((0, 1))
    if text[-1:] == " ":
        deletions.append((len(text) - 1, len(text)))
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
    if not out:
        return None
    shift = len(joined) - len(joined.lstrip(" "))
    new_links: list[Link] = []
    for link in links:
        start = link.start - _deleted_before(link.start, starts, ends, cumulative) - shift
        end = link.end - _deleted_before(link.end, starts, ends, cumulative) - shift
        start, end = min(max(start, 0), len(out)), min(max(end, 0), len(out))
        while start < end and out[start] == " ":
            start += 1
        while end > start and out[end - 1] == " ":
            end -= 1
        if end > start:
            new_links.append(Link(start, end, link.target))
    return Paragraph(out, is_lead, tuple(new_links))


class _Extractor:
    def __init__(self, site: SiteInfo) -> None:
        self.site = site
        self.trail = link_trail_pattern(site.lang)
        self.categories: list[str] = []
        self.is_disambiguation = False
        disambiguation = DISAMBIGUATION_TEMPLATES.get(site.lang, ()) + DISAMBIGUATION_TEMPLATES["en"]
        self.disambiguation_templates = frozenset(name.casefold() for name in disambiguation)

    def _text(self, out: Callable[[str], None], value: str, builder: _ParagraphBuilder | None) -> None:
        if "__" in value:
            if "__DISAMBIG__" in value:
                self.is_disambiguation = True
            value = _MAGIC_WORD.sub("", value)
        if "''" in value:
            value = _QUOTE_RUN.sub("", value)
        if builder is None or "\n" not in value:
            out(value)
            return
        lines = value.split("\n")
        for i, line in enumerate(lines):
            if i:
                builder.newline()
            if line:
                out(line)

    def walk(self, nodes: list[Node], builder: _ParagraphBuilder) -> None:
        """Walk top-level or nested nodes, writing into the paragraph builder."""
        skip_chars = 0
        for index, node in enumerate(nodes):
            if isinstance(node, Text):
                value = str(node.value)[skip_chars:]
                skip_chars = 0
                self._text(builder.text, value, builder)
            elif isinstance(node, Wikilink):
                skip_chars = self._link(node, nodes, index, builder)
            elif isinstance(node, Heading):
                builder.heading()
            elif isinstance(node, Tag):
                self._tag(node, builder)
            elif isinstance(node, Template):
                self._template(node, builder)
            elif isinstance(node, HTMLEntity):
                builder.text(node.normalize())
            elif isinstance(node, ExternalLink):
                if node.brackets and node.title is not None:
                    self.walk(node.title.nodes, builder)
            elif isinstance(node, Comment | Argument):
                continue

    def _link(self, node: Wikilink, nodes: list[Node], index: int, builder: _ParagraphBuilder) -> int:
        raw_title = str(node.title)
        target = parse_link_target(raw_title, self.site)
        if not target.leading_colon:
            if target.kind == "namespace" and target.namespace == 14:
                self.categories.append(target.title)
                return 0
            if target.kind == "namespace" and target.namespace in (6, -2):
                return 0
            if target.kind == "interlanguage":
                return 0
        start = builder.start_link()
        if node.text is not None:
            if str(node.text).strip():
                self.walk_inline(node.text.nodes, builder)
            else:  # the pipe trick: [[Paris (band)|]] shows "Paris"
                builder.text(re.sub(r"\s*\([^)]*\)\s*$", "", html.unescape(raw_title).lstrip(":")))
        else:
            builder.text(html.unescape(raw_title).lstrip(":").strip())
        consumed = 0
        if self.trail is not None and index + 1 < len(nodes) and isinstance(nodes[index + 1], Text):
            match = self.trail.match(str(nodes[index + 1].value))
            if match:
                builder.text(match.group(0))
                consumed = match.end()
        if target.kind == "article":
            builder.end_link(start, target.title)
        return consumed

    def walk_inline(self, nodes: list[Node], builder: _ParagraphBuilder) -> None:
        """Anchor text: everything but nested links' spans (a link inside a link is not nested)."""
        for node in nodes:
            if isinstance(node, Text):
                self._text(builder.text, str(node.value).replace("\n", " "), None)
            elif isinstance(node, HTMLEntity):
                builder.text(node.normalize())
            elif isinstance(node, Wikilink):
                builder.text(str(node.text if node.text is not None else node.title))
            elif isinstance(node, Tag):
                tag = str(node.tag).strip().lower()
                if tag not in _DROPPED_TAGS and node.contents is not None:
                    self.walk_inline(node.contents.nodes, builder)
            elif isinstance(node, Template):
                parts = _render_kept_template(node, _template_name(node))
                for part in parts or ():
                    if isinstance(part, str):
                        builder.text(part)
                    else:
                        self.walk_inline(part.nodes, builder)

    def _tag(self, node: Tag, builder: _ParagraphBuilder) -> None:
        tag = str(node.tag).strip().lower()
        if tag in _DROPPED_TAGS:
            if tag == "table":
                builder.paragraph_break()
            return
        if tag in _SPACE_TAGS:
            builder.text(" ")
            return
        if tag in _PARAGRAPH_BREAK_TAGS:
            if node.wiki_markup and tag in ("li", "dt", "dd"):
                builder.list_item()
            else:
                builder.paragraph_break()
        if tag == "nowiki":
            if node.contents is not None:
                builder.text(html.unescape(str(node.contents)))
            return
        if node.contents is not None and not node.self_closing:
            self.walk(node.contents.nodes, builder)

    def _template(self, node: Template, builder: _ParagraphBuilder) -> None:
        name = _template_name(node)
        if name.casefold() in self.disambiguation_templates:
            self.is_disambiguation = True
            return
        parts = _render_kept_template(node, name)
        if parts is None:
            return
        for part in parts:
            if isinstance(part, str):
                builder.text(part)
            else:
                self.walk(part.nodes, builder)


_BRACES = re.compile(r"\{\{|\}\}")
_TABLE_MARKS = re.compile(r"^[ \t]*(\{\||\|\})", re.MULTILINE)
_TEMPLATE_NAME = re.compile(r"\{\{\s*([^|{}<\n]*)")
# Templates the rules read: kept for the parser; every other template is cut before parsing.
_READ_TEMPLATES = frozenset(
    """
    lang lang2 langx nihongo nowrap nobr small smaller big larger resize ruby transl
    transliteration convert cvt abbr
    """.split()
)


def _is_read_template(name: str, disambiguation: frozenset[str]) -> bool:
    key = name.strip().replace("_", " ").casefold()
    if ":" in key and not key.startswith("#"):
        key = (
            key.split(":", 1)[1].strip() if key.split(":", 1)[0] in ("template", "vorlage", "modèle") else key
        )
    return key in _READ_TEMPLATES or key.startswith("lang-") or key in disambiguation


def strip_templates(text: str, disambiguation: frozenset[str] = frozenset()) -> str:
    """Cut top-level templates the rules would drop, by brace matching (no parse).

    mwparserfromhell spends most of its time building template nodes (infoboxes, citations,
    navboxes) that extraction throws away. Unbalanced braces stop the cut; the parser sees the rest.
    """
    if "{{" not in text:
        return text
    pieces: list[str] = []
    position = 0
    depth = 0
    opened = 0
    for match in _BRACES.finditer(text):
        if match.group(0) == "{{":
            if depth == 0:
                opened = match.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                name = _TEMPLATE_NAME.match(text, opened)
                if name is None or not _is_read_template(name.group(1), disambiguation):
                    pieces.append(text[position:opened])
                    position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def strip_tables(text: str) -> str:
    """Cut ``{| ... |}`` tables (nested ones included) before parsing; unclosed ones are left."""
    if "{|" not in text:
        return text
    pieces: list[str] = []
    position = 0
    depth = 0
    opened = 0
    for match in _TABLE_MARKS.finditer(text):
        if match.group(1) == "{|":
            if depth == 0:
                opened = match.start(1)
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                pieces.append(text[position:opened] + "\n")
                position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def pre_strip(wikitext: str, disambiguation: frozenset[str] = frozenset()) -> str:
    """Remove comments, refs, dropped templates and tables before parsing.

    The parser is the bottleneck; what the rules drop anyway need not be parsed. Order matters:
    comments and refs first (they may hold braces), then templates (they may hold tables).
    """
    if "<" in wikitext:
        wikitext = _PRE_STRIP.sub("", wikitext)
    return strip_tables(strip_templates(wikitext, disambiguation))


def extract_article(wikitext: str, site: SiteInfo) -> ExtractedArticle:
    """Extract paragraphs with link spans, categories and the disambiguation flag from wikitext."""
    extractor = _Extractor(site)
    text = resolve_language_conversion(pre_strip(wikitext, extractor.disambiguation_templates))
    code = mwparserfromhell.parse(text, skip_style_tags=True)
    builder = _ParagraphBuilder()
    extractor.walk(code.nodes, builder)
    return ExtractedArticle(
        paragraphs=builder.finish(),
        categories=tuple(dict.fromkeys(extractor.categories)),
        is_disambiguation=extractor.is_disambiguation,
    )


@dataclass
class RedirectMatcher:
    """Detects ``#REDIRECT [[Target]]`` in any of a language's magic words."""

    words: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        alternatives = "|".join(re.escape(word) for word in sorted(set(self.words) | {"REDIRECT"}))
        self._pattern = re.compile(
            rf"^\s*#(?:{alternatives})\s*:?\s*\[\[([^\]|\n]+)(?:\|[^\]]*)?\]\]",
            re.IGNORECASE,
        )

    def target(self, wikitext: str) -> str | None:
        match = self._pattern.match(wikitext)
        return match.group(1) if match else None
