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

How: markup the rules drop anyway is cut before parsing (``pre_strip``), then a walk over
mwparserfromhell's flat token stream applies the rules (``_TokenWalker``). It builds no node tree:
turning tokens into nodes costs several times what the C tokenizer does.
"""

from __future__ import annotations

import bisect
import gc
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from html.entities import name2codepoint

from mwparserfromhell.parser import tokens as _tokens
from mwparserfromhell.parser.builder import Builder
from mwparserfromhell.parser.errors import ParserError

try:
    from mwparserfromhell.parser._tokenizer import CTokenizer as _Tokenizer
except ImportError:  # the library's pure-Python tokenizer: slower, same tokens
    from mwparserfromhell.parser.tokenizer import Tokenizer as _Tokenizer

from transforms.languages import (
    DISAMBIGUATION_TEMPLATES,
    FOREIGN_MEDIA_NAMESPACES,
    IMAGE_OPTIONS,
    MEDIA_FILE_EXTENSIONS,
    link_trail_pattern,
)
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
_PIPE_TRICK = re.compile(r"\s*\([^)]*\)\s*$")
# Link and template brackets that no markup consumed (an unclosed ``[[``, a table's ``|}`` meeting
# a template's ``}}``): never text a reader sees.
_STRAY_MARKUP = re.compile(r"\[\[+|\]\]+|\{\{+|\}\}+")
_MEDIA_EXTENSION = re.compile(r"\.([A-Za-z0-9]{2,5})\s*$")
_IMAGE_SIZE = re.compile(r"\d*(?:x\d+)?\s*(?:px|пкс|بكسل|픽셀|像素)")
_IMAGE_PARAMETER = re.compile(
    r"(?:upright|alt|link|page|lang|class|thumbtime|start|end|hochkant|redresse|verticale|lien)\s*="
)
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


def _template_name(raw: str) -> str:
    name = raw.strip().replace("_", " ")
    name = _WHITESPACE_RUN.sub(" ", name.split("<!--", 1)[0]).strip()
    if ":" in name and name.lower().startswith(("template:", "vorlage:", "modèle:")):
        name = name.split(":", 1)[1].strip()
    return upper_first(name)


# Inline templates that carry sentence text (their rendering is _kept_template_parts).
_KEPT_TEMPLATES = frozenset(
    """
    lang lang2 langx nihongo nowrap nobr small smaller big larger resize ruby transl
    transliteration convert cvt abbr
    """.split()
)
_Span = tuple[int, int]  # a node list as token indices [start, end)


def _may_keep_template(name: str) -> bool:
    lowered = name.lower()
    return lowered in _KEPT_TEMPLATES or lowered.startswith("lang-")


def _kept_template_parts(
    name: str, args: list[_Span], source: Callable[[_Span], str]
) -> list[_Span | str] | None:
    """Parts of an inline template that carry sentence text, or None to drop the template.

    ``args`` are the positional parameter values; ``source`` gives the wikitext of one.
    """
    lowered = name.lower()
    if lowered in ("lang", "lang2", "langx") and len(args) >= 2:
        return [args[1]]
    if lowered.startswith("lang-") and args:
        return [args[0]]
    if lowered == "nihongo" and args:
        parts: list[_Span | str] = [args[0]]
        extra = [a for a in args[1:3] if source(a).strip()]
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


@cache
def _link_trail(lang: str) -> re.Pattern[str] | None:
    return link_trail_pattern(lang)


@cache
def _disambiguation_templates(lang: str) -> frozenset[str]:
    names = DISAMBIGUATION_TEMPLATES.get(lang, ()) + DISAMBIGUATION_TEMPLATES["en"]
    return frozenset(name.casefold() for name in names)


class _ParagraphBuilder:
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


def is_image_option(option: str) -> bool:
    """Whether one ``|``-separated part of a file link is an image option, not a caption."""
    key = option.strip().casefold()
    return key in IMAGE_OPTIONS or bool(_IMAGE_SIZE.fullmatch(key) or _IMAGE_PARAMETER.match(key))


def has_media_extension(name: str) -> bool:
    match = _MEDIA_EXTENSION.search(name)
    return match is not None and match.group(1).lower() in MEDIA_FILE_EXTENSIONS


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


class _End(_tokens.Token):
    """Sentinel after the last token: ends every node list, so lookahead never runs off the end."""


_END = _End()
_Text = _tokens.Text
_WikilinkOpen = _tokens.WikilinkOpen
_WikilinkSeparator = _tokens.WikilinkSeparator
_WikilinkClose = _tokens.WikilinkClose
_TemplateOpen = _tokens.TemplateOpen
_TemplateParamSeparator = _tokens.TemplateParamSeparator
_TemplateParamEquals = _tokens.TemplateParamEquals
_TemplateClose = _tokens.TemplateClose
_ExternalLinkOpen = _tokens.ExternalLinkOpen
_ExternalLinkSeparator = _tokens.ExternalLinkSeparator
_ExternalLinkClose = _tokens.ExternalLinkClose
_HTMLEntityStart = _tokens.HTMLEntityStart
_HTMLEntityHex = _tokens.HTMLEntityHex
_HeadingStart = _tokens.HeadingStart
_TagOpenOpen = _tokens.TagOpenOpen
_TagCloseOpen = _tokens.TagCloseOpen
_TagCloseSelfclose = _tokens.TagCloseSelfclose
_TagOpenClose = _tokens.TagOpenClose
_TagCloseClose = _tokens.TagCloseClose
# Tokens that open a node, and those that close one: the stream nests them properly.
_NESTING: dict[type, int] = {
    _TemplateOpen: 1,
    _tokens.ArgumentOpen: 1,
    _WikilinkOpen: 1,
    _ExternalLinkOpen: 1,
    _HTMLEntityStart: 1,
    _HeadingStart: 1,
    _tokens.CommentStart: 1,
    _TagOpenOpen: 1,
    _TemplateClose: -1,
    _tokens.ArgumentClose: -1,
    _WikilinkClose: -1,
    _ExternalLinkClose: -1,
    _tokens.HTMLEntityEnd: -1,
    _tokens.HeadingEnd: -1,
    _tokens.CommentEnd: -1,
    _TagCloseSelfclose: -1,
    _TagCloseClose: -1,
}
_OPENERS = frozenset(kind for kind, step in _NESTING.items() if step > 0)
_LINK_PARTS = frozenset({_WikilinkSeparator, _WikilinkClose})
_TEMPLATE_PARTS = frozenset({_TemplateParamSeparator, _TemplateClose})
_TAG_NAME_ENDS = frozenset({_tokens.TagAttrStart, _TagCloseOpen, _TagCloseSelfclose})
# What a wikilink does: files the page in a category, vanishes, or shows its text, with a span when
# it links an article.
_CATEGORY, _DROP, _TEXT, _ARTICLE = range(4)


class _TokenWalker:
    """Walks the tokenizer's flat token stream with the rules, building no node objects.

    A node list is a run of tokens up to the first token that neither is text nor opens a node
    (a separator or close token of the enclosing node, or the end sentinel). Node walks return the
    index just past their node; list walks return the index of the token that ended the list.
    """

    def __init__(self, tokens: list[_tokens.Token], site: SiteInfo) -> None:
        tokens.append(_END)
        self.toks = tokens
        self.site = site
        self.trail = _link_trail(site.lang)
        self.disambiguation_templates = _disambiguation_templates(site.lang)
        self.categories: list[str] = []
        self.is_disambiguation = False
        self.actions: dict[str, tuple[int, str]] = {}

    # Structure: skipping, scanning and source text of token ranges.

    def _skip(self, i: int) -> int:
        """Index just past the node opened at ``i``."""
        toks = self.toks
        nesting = _NESTING
        depth = 0
        for j in range(i, len(toks)):
            step = nesting.get(type(toks[j]), 0)
            if step:
                depth += step
                if depth == 0:
                    return j + 1
        raise ParserError("unclosed node in the token stream")

    def _scan(self, i: int) -> int:
        """Index of the token that ends the node list starting at ``i``."""
        toks = self.toks
        while True:
            kind = type(toks[i])
            if kind is _Text:
                i += 1
            elif kind in _OPENERS:
                i = self._skip(i)
            else:
                return i

    def _expect(self, i: int, kind: type) -> None:
        if type(self.toks[i]) is not kind:
            raise ParserError(f"expected {kind.__name__}, got {type(self.toks[i]).__name__}")

    @staticmethod
    def _expect_end(end: int, expected: int) -> None:
        if end != expected:
            raise ParserError("a node list ended early in the token stream")

    def _source(self, start: int, end: int) -> str:
        """The wikitext of the node list ``[start, end)``, as the parser's nodes would print it."""
        toks = self.toks
        parts: list[str] = []
        i = start
        while i < end:
            tok = toks[i]
            kind = type(tok)
            if kind is _Text:
                parts.append(tok["text"])
                i += 1
            elif kind is _HTMLEntityStart:
                prefix, value, i = self._entity_at(i)
                parts.append(f"&{prefix}{value};")
            else:  # rare: let the library print whatever else is there
                return str(Builder().build(toks[start:end]))
        return "".join(parts)

    def _entity_at(self, i: int) -> tuple[str, str, int]:
        """The entity at ``i`` as (``""``, ``"#"`` or ``"#x"``, its value, the index past it)."""
        toks = self.toks
        end = self._skip(i)
        size = end - i  # & name ; or & # number ; or & # x hex ;
        value = toks[end - 2]
        if (
            type(value) is not _Text
            or not 3 <= size <= 5
            or (size == 5 and type(toks[i + 2]) is not _HTMLEntityHex)
        ):
            raise ParserError("malformed HTML entity in the token stream")
        prefix = "" if size == 3 else "#" if size == 4 else "#" + toks[i + 2]["char"]
        return prefix, value["text"], end

    def _entity(self, i: int) -> tuple[str, int]:
        """The character of the entity at ``i`` and the index past it."""
        prefix, value, end = self._entity_at(i)
        if not prefix:
            return chr(name2codepoint[value]), end
        return chr(int(value) if prefix == "#" else int(value, 16)), end

    def _tag_head(self, i: int) -> tuple[str, int]:
        """Name of the tag opened at ``i`` and the index of its TagCloseOpen/TagCloseSelfclose."""
        toks = self.toks
        j = i + 1
        tok = toks[j]
        if type(tok) is _Text and type(toks[j + 1]) in _TAG_NAME_ENDS:
            name = tok["text"]
            j += 1
        else:
            j = self._scan(j)
            name = self._source(i + 1, j)
        while True:  # attributes: nothing of them is text of the article
            kind = type(toks[j])
            if kind is _TagCloseOpen or kind is _TagCloseSelfclose:
                return name, j
            if kind in _OPENERS:
                j = self._skip(j)
            elif kind is _End:
                raise ParserError("unclosed tag in the token stream")
            else:
                j += 1

    def _tag_tail(self, i: int) -> int:
        """Index past the closing tag whose TagOpenClose is at ``i``."""
        self._expect(i, _TagOpenClose)
        j = self._scan(i + 1)
        self._expect(j, _TagCloseClose)
        return j + 1

    def _template_head(self, i: int) -> tuple[str, int]:
        """Name of the template opened at ``i`` and the index of the token after the name."""
        toks = self.toks
        tok = toks[i + 1]
        if type(tok) is _Text and type(toks[i + 2]) in _TEMPLATE_PARTS:
            return _template_name(tok["text"]), i + 2
        j = self._scan(i + 1)
        return _template_name(self._source(i + 1, j)), j

    def _template_args(self, j: int) -> tuple[list[_Span], int]:
        """Positional parameter values of a template from ``j`` (after its name); index past it."""
        toks = self.toks
        args: list[_Span] = []
        while type(toks[j]) is _TemplateParamSeparator:
            start = j + 1
            j = self._scan(start)
            if type(toks[j]) is _TemplateParamEquals:  # a named parameter
                j = self._scan(j + 1)
            else:
                args.append((start, j))
        self._expect(j, _TemplateClose)
        return args, j + 1

    def _span_source(self, span: _Span) -> str:
        return self._source(span[0], span[1])

    def _link_action(self, raw_title: str) -> tuple[int, str]:
        """What a link to ``raw_title`` does (_CATEGORY, _DROP, _TEXT or _ARTICLE) and its title."""
        target = parse_link_target(raw_title, self.site)
        kind = target.kind
        action = (_ARTICLE if kind == "article" else _TEXT, target.title)
        if not target.leading_colon:
            if kind == "namespace" and target.namespace == 14:
                action = (_CATEGORY, target.title)
            elif kind == "interlanguage" or (kind == "namespace" and target.namespace in (6, -2)):
                action = (_DROP, "")  # files, media and other languages' articles vanish
        self.actions[raw_title] = action
        return action

    # Block context: the article body, tag contents, kept templates' text, external link titles.

    def walk(self, i: int, builder: _ParagraphBuilder) -> int:
        toks = self.toks
        skip_chars = 0
        while True:
            tok = toks[i]
            kind = type(tok)
            if kind is _Text:
                value = tok["text"]
                if skip_chars:
                    value = value[skip_chars:]
                    skip_chars = 0
                self._block_text(value, builder)
                i += 1
            elif kind is _WikilinkOpen:
                i, skip_chars = self._link(i, builder)
            elif kind is _TagOpenOpen:
                i = self._tag(i, builder)
            elif kind is _HTMLEntityStart:
                value, i = self._entity(i)
                builder.text(value)
            elif kind is _TemplateOpen:
                i = self._template(i, builder)
            elif kind is _HeadingStart:
                builder.heading()
                i = self._skip(i)
            elif kind is _ExternalLinkOpen:
                i = self._external_link(i, builder)
            elif kind in _OPENERS:  # comments, arguments
                i = self._skip(i)
            else:
                return i

    def _block_text(self, value: str, builder: _ParagraphBuilder) -> None:
        if "__" in value:
            if "__DISAMBIG__" in value:
                self.is_disambiguation = True
            value = _MAGIC_WORD.sub("", value)
        if "''" in value:
            value = _QUOTE_RUN.sub("", value)
        if "\n" not in value:
            builder.text(value)
            return
        for n, line in enumerate(value.split("\n")):
            if n:
                builder.newline()
            if line:
                builder.text(line)

    def _link(self, i: int, builder: _ParagraphBuilder) -> tuple[int, int]:
        """Handle the wikilink at ``i``; returns the index past it and the link trail's length."""
        toks = self.toks
        j = i + 1
        tok = toks[j]
        if type(tok) is _Text and type(toks[j + 1]) in _LINK_PARTS:
            raw_title = tok["text"]
            j += 1
        else:
            j = self._scan(j)
            raw_title = self._source(i + 1, j)
        text_start = -1
        if type(toks[j]) is _WikilinkSeparator:
            text_start = j + 1
            j = self._scan(text_start)
        self._expect(j, _WikilinkClose)
        end = j + 1
        action, title = self.actions.get(raw_title) or self._link_action(raw_title)
        if action >= _TEXT and ":" in raw_title and self._foreign_file_link(raw_title, text_start, j):
            action = _DROP  # vanishes with its caption, as a file link in the site's own names does
        if action < _TEXT:
            if action == _CATEGORY:
                self.categories.append(title)
            return end, 0
        start = builder.start_link()
        if text_start >= 0:
            if self._blank(text_start, j):  # the pipe trick: [[Paris (band)|]] shows "Paris"
                builder.text(_PIPE_TRICK.sub("", html.unescape(raw_title).lstrip(":")))
            else:
                self.walk_inline(text_start, builder)
        else:
            builder.text(html.unescape(raw_title).lstrip(":").strip())
        consumed = 0
        tok = toks[end]
        if type(tok) is _Text and self.trail is not None:
            match = self.trail.match(tok["text"])
            if match:
                consumed = match.end()
                builder.text(match.group(0))
        if action == _ARTICLE:
            builder.end_link(start, title)
        return end, consumed

    def _foreign_file_link(self, raw_title: str, text_start: int, end: int) -> bool:
        """A file or category link written with another wiki's namespace name
        (``[[Datei:Flag.svg|mini|...]]`` on an Arabic page): it names a media file or has image
        options. Such a link is no article link, whatever this wiki calls the namespace."""
        prefix, _, rest = html.unescape(raw_title).strip().lstrip(":").partition(":")
        if (
            _WHITESPACE_RUN.sub(" ", prefix.replace("_", " ")).strip().casefold()
            not in FOREIGN_MEDIA_NAMESPACES
        ):
            return False
        if has_media_extension(rest):
            return True
        if text_start < 0:
            return False
        return any(is_image_option(option) for option in self._source(text_start, end).split("|"))

    def _blank(self, start: int, end: int) -> bool:
        """Whether the node list prints as whitespace only (every node but text shows markup)."""
        toks = self.toks
        for i in range(start, end):
            tok = toks[i]
            if type(tok) is not _Text or tok["text"].strip():
                return False
        return True

    def _tag(self, i: int, builder: _ParagraphBuilder) -> int:
        name, j = self._tag_head(i)
        self_closing = type(self.toks[j]) is _TagCloseSelfclose
        tag = name.strip().lower()
        if tag in _DROPPED_TAGS or tag in _SPACE_TAGS:  # no text, but a break or a space
            if tag == "table":
                builder.paragraph_break()
            elif tag in _SPACE_TAGS:
                builder.text(" ")
            return j + 1 if self_closing else self._tag_tail(self._scan(j + 1))
        if tag in _PARAGRAPH_BREAK_TAGS:
            if self.toks[i].get("wiki_markup") and tag in ("li", "dt", "dd"):
                builder.list_item()
            else:
                builder.paragraph_break()
        if self_closing:
            return j + 1
        if tag == "nowiki":
            end = self._scan(j + 1)
            builder.text(html.unescape(self._source(j + 1, end)))
            return self._tag_tail(end)
        return self._tag_tail(self.walk(j + 1, builder))

    def _template(self, i: int, builder: _ParagraphBuilder) -> int:
        name, j = self._template_head(i)
        if name.casefold() in self.disambiguation_templates:
            self.is_disambiguation = True
            return self._skip(i)
        if not _may_keep_template(name):
            return self._skip(i)
        args, end = self._template_args(j)
        for part in _kept_template_parts(name, args, self._span_source) or ():
            if isinstance(part, str):
                builder.text(part)
            else:
                self._expect_end(self.walk(part[0], builder), part[1])
        return end

    def _external_link(self, i: int, builder: _ParagraphBuilder) -> int:
        brackets = self.toks[i].get("brackets")
        j = self._scan(i + 1)
        if type(self.toks[j]) is _ExternalLinkSeparator:
            j = self.walk(j + 1, builder) if brackets else self._scan(j + 1)
        self._expect(j, _ExternalLinkClose)
        return j + 1

    # Inline context: a link's anchor text (a link inside a link is not nested).

    def walk_inline(self, i: int, builder: _ParagraphBuilder) -> int:
        toks = self.toks
        while True:
            tok = toks[i]
            kind = type(tok)
            if kind is _Text:
                value = tok["text"].replace("\n", " ")
                if "__" in value:
                    if "__DISAMBIG__" in value:
                        self.is_disambiguation = True
                    value = _MAGIC_WORD.sub("", value)
                if "''" in value:
                    value = _QUOTE_RUN.sub("", value)
                builder.text(value)
                i += 1
            elif kind is _HTMLEntityStart:
                value, i = self._entity(i)
                builder.text(value)
            elif kind is _WikilinkOpen:  # printed as written: its text, else its title
                j = self._scan(i + 1)
                if type(toks[j]) is _WikilinkSeparator:
                    start = j + 1
                    j = self._scan(start)
                    builder.text(self._source(start, j))
                else:
                    builder.text(self._source(i + 1, j))
                self._expect(j, _WikilinkClose)
                i = j + 1
            elif kind is _TagOpenOpen:
                name, j = self._tag_head(i)
                if type(toks[j]) is _TagCloseSelfclose:
                    i = j + 1
                elif name.strip().lower() in _DROPPED_TAGS:
                    i = self._tag_tail(self._scan(j + 1))
                else:
                    i = self._tag_tail(self.walk_inline(j + 1, builder))
            elif kind is _TemplateOpen:
                name, j = self._template_head(i)
                if not _may_keep_template(name):
                    i = self._skip(i)
                    continue
                args, i = self._template_args(j)
                for part in _kept_template_parts(name, args, self._span_source) or ():
                    if isinstance(part, str):
                        builder.text(part)
                    else:
                        self._expect_end(self.walk_inline(part[0], builder), part[1])
            elif kind in _OPENERS:  # external links, headings, comments, arguments
                i = self._skip(i)
            else:
                return i


_BRACES = re.compile(r"\{\{|\}\}")
_TABLE_MARKS = re.compile(r"^[ \t]*(\{\||\|\})", re.MULTILINE)
_TEMPLATE_NAME = re.compile(r"\{\{\s*([^|{}<\n]*)")
# Templates the rules read are kept for the parser; every other template is cut before parsing.
_READ_TEMPLATES = _KEPT_TEMPLATES


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
    # The tokenizer allocates thousands of short-lived, acyclic tokens per page. With the cyclic
    # collector on, they live long enough to be promoted and trigger full collections of the whole
    # process, which cost as much as the extraction itself; reference counting frees them anyway.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _extract(wikitext, site)
    finally:
        if collecting:
            gc.enable()


def _extract(wikitext: str, site: SiteInfo) -> ExtractedArticle:
    text = resolve_language_conversion(pre_strip(wikitext, _disambiguation_templates(site.lang)))
    walker = _TokenWalker(_Tokenizer().tokenize(text, 0, True), site)
    builder = _ParagraphBuilder()
    if walker.walk(0, builder) != len(walker.toks) - 1:
        raise ParserError("stray token at the top level of the token stream")
    return ExtractedArticle(
        paragraphs=builder.finish(),
        categories=tuple(dict.fromkeys(walker.categories)),
        is_disambiguation=walker.is_disambiguation,
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
