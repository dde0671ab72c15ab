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

How: markup the rules drop anyway is cut before parsing (``pre_strip``, in
``transforms.wikitext_prepass``), then a walk over mwparserfromhell's flat token stream
(``transforms.token_stream``) applies the rules (``_TokenWalker``), writing into a paragraph
builder (``transforms.paragraphs``). It builds no node tree: turning tokens into nodes costs
several times what the C tokenizer does.
"""

from __future__ import annotations

import gc
import html
import re
from dataclasses import dataclass, field
from functools import cache

from mwparserfromhell.parser.errors import ParserError
from mwparserfromhell.parser.tokens import (
    ExternalLinkClose,
    ExternalLinkOpen,
    ExternalLinkSeparator,
    HeadingStart,
    HTMLEntityStart,
    TagCloseSelfclose,
    TagOpenOpen,
    TemplateOpen,
    Text,
    Token,
    WikilinkClose,
    WikilinkOpen,
    WikilinkSeparator,
)

try:
    from mwparserfromhell.parser._tokenizer import CTokenizer as _Tokenizer
except ImportError:  # the library's pure-Python tokenizer: slower, same tokens
    from mwparserfromhell.parser.tokenizer import Tokenizer as _Tokenizer

from transforms.languages import (
    DISAMBIGUATION_TEMPLATES,
    FOREIGN_MEDIA_NAMESPACES,
    link_trail_pattern,
)
from transforms.paragraphs import Link, Paragraph, ParagraphBuilder
from transforms.titles import SiteInfo, parse_link_target
from transforms.token_stream import OPENERS, TokenStream
from transforms.wikitext_prepass import (
    has_media_extension,
    is_image_option,
    kept_template_parts,
    may_keep_template,
    pre_strip,
    resolve_language_conversion,
    strip_tables,
    strip_templates,
)

# Link, Paragraph and the pre-pass functions are named here too: callers import the extraction
# rules from this one module.
__all__ = [
    "ExtractedArticle",
    "Link",
    "Paragraph",
    "RedirectMatcher",
    "extract_article",
    "pre_strip",
    "resolve_language_conversion",
    "strip_tables",
    "strip_templates",
]


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
_PIPE_TRICK = re.compile(r"\s*\([^)]*\)\s*$")


@cache
def _link_trail(lang: str) -> re.Pattern[str] | None:
    return link_trail_pattern(lang)


@cache
def _disambiguation_templates(lang: str) -> frozenset[str]:
    names = DISAMBIGUATION_TEMPLATES.get(lang, ()) + DISAMBIGUATION_TEMPLATES["en"]
    return frozenset(name.casefold() for name in names)


_LINK_PARTS = frozenset({WikilinkSeparator, WikilinkClose})
# What a wikilink does: files the page in a category, vanishes, or shows its text, with a span when
# it links an article.
_CATEGORY, _DROP, _TEXT, _ARTICLE = range(4)


class _TokenWalker(TokenStream):
    """Walks the token stream with the extraction rules, writing paragraphs into a builder."""

    def __init__(self, tokens: list[Token], site: SiteInfo) -> None:
        super().__init__(tokens)
        self.site = site
        self.trail = _link_trail(site.lang)
        self.disambiguation_templates = _disambiguation_templates(site.lang)
        self.categories: list[str] = []
        self.is_disambiguation = False
        self.actions: dict[str, tuple[int, str]] = {}

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

    def walk(self, i: int, builder: ParagraphBuilder) -> int:
        toks = self.toks
        skip_chars = 0
        while True:
            tok = toks[i]
            kind = type(tok)
            if kind is Text:
                value = tok["text"]
                if skip_chars:
                    value = value[skip_chars:]
                    skip_chars = 0
                self._block_text(value, builder)
                i += 1
            elif kind is WikilinkOpen:
                i, skip_chars = self._link(i, builder)
            elif kind is TagOpenOpen:
                i = self._tag(i, builder)
            elif kind is HTMLEntityStart:
                value, i = self.entity(i)
                builder.text(value)
            elif kind is TemplateOpen:
                i = self._template(i, builder)
            elif kind is HeadingStart:
                builder.heading()
                i = self.skip(i)
            elif kind is ExternalLinkOpen:
                i = self._external_link(i, builder)
            elif kind in OPENERS:  # comments, arguments
                i = self.skip(i)
            else:
                return i

    def _block_text(self, value: str, builder: ParagraphBuilder) -> None:
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

    def _link(self, i: int, builder: ParagraphBuilder) -> tuple[int, int]:
        """Handle the wikilink at ``i``; returns the index past it and the link trail's length."""
        toks = self.toks
        j = i + 1
        tok = toks[j]
        if type(tok) is Text and type(toks[j + 1]) in _LINK_PARTS:
            raw_title = tok["text"]
            j += 1
        else:
            j = self.scan(j)
            raw_title = self.source(i + 1, j)
        text_start = -1
        if type(toks[j]) is WikilinkSeparator:
            text_start = j + 1
            j = self.scan(text_start)
        self.expect(j, WikilinkClose)
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
            if self.blank(text_start, j):  # the pipe trick: [[Paris (band)|]] shows "Paris"
                builder.text(_PIPE_TRICK.sub("", html.unescape(raw_title).lstrip(":")))
            else:
                self.walk_inline(text_start, builder)
        else:
            builder.text(html.unescape(raw_title).lstrip(":").strip())
        consumed = 0
        tok = toks[end]
        if type(tok) is Text and self.trail is not None:
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
        return any(is_image_option(option) for option in self.source(text_start, end).split("|"))

    def _tag(self, i: int, builder: ParagraphBuilder) -> int:
        name, j = self.tag_head(i)
        self_closing = type(self.toks[j]) is TagCloseSelfclose
        tag = name.strip().lower()
        if tag in _DROPPED_TAGS or tag in _SPACE_TAGS:  # no text, but a break or a space
            if tag == "table":
                builder.paragraph_break()
            elif tag in _SPACE_TAGS:
                builder.text(" ")
            return j + 1 if self_closing else self.tag_tail(self.scan(j + 1))
        if tag in _PARAGRAPH_BREAK_TAGS:
            if self.toks[i].get("wiki_markup") and tag in ("li", "dt", "dd"):
                builder.list_item()
            else:
                builder.paragraph_break()
        if self_closing:
            return j + 1
        if tag == "nowiki":
            end = self.scan(j + 1)
            builder.text(html.unescape(self.source(j + 1, end)))
            return self.tag_tail(end)
        return self.tag_tail(self.walk(j + 1, builder))

    def _template(self, i: int, builder: ParagraphBuilder) -> int:
        name, j = self.template_head(i)
        if name.casefold() in self.disambiguation_templates:
            self.is_disambiguation = True
            return self.skip(i)
        if not may_keep_template(name):
            return self.skip(i)
        args, end = self.template_args(j)
        for part in kept_template_parts(name, args, self.span_source) or ():
            if isinstance(part, str):
                builder.text(part)
            else:
                self.expect_end(self.walk(part[0], builder), part[1])
        return end

    def _external_link(self, i: int, builder: ParagraphBuilder) -> int:
        brackets = self.toks[i].get("brackets")
        j = self.scan(i + 1)
        if type(self.toks[j]) is ExternalLinkSeparator:
            j = self.walk(j + 1, builder) if brackets else self.scan(j + 1)
        self.expect(j, ExternalLinkClose)
        return j + 1

    # Inline context: a link's anchor text (a link inside a link is not nested).

    def walk_inline(self, i: int, builder: ParagraphBuilder) -> int:
        toks = self.toks
        while True:
            tok = toks[i]
            kind = type(tok)
            if kind is Text:
                value = tok["text"].replace("\n", " ")
                if "__" in value:
                    if "__DISAMBIG__" in value:
                        self.is_disambiguation = True
                    value = _MAGIC_WORD.sub("", value)
                if "''" in value:
                    value = _QUOTE_RUN.sub("", value)
                builder.text(value)
                i += 1
            elif kind is HTMLEntityStart:
                value, i = self.entity(i)
                builder.text(value)
            elif kind is WikilinkOpen:  # printed as written: its text, else its title
                j = self.scan(i + 1)
                if type(toks[j]) is WikilinkSeparator:
                    start = j + 1
                    j = self.scan(start)
                    builder.text(self.source(start, j))
                else:
                    builder.text(self.source(i + 1, j))
                self.expect(j, WikilinkClose)
                i = j + 1
            elif kind is TagOpenOpen:
                name, j = self.tag_head(i)
                if type(toks[j]) is TagCloseSelfclose:
                    i = j + 1
                elif name.strip().lower() in _DROPPED_TAGS:
                    i = self.tag_tail(self.scan(j + 1))
                else:
                    i = self.tag_tail(self.walk_inline(j + 1, builder))
            elif kind is TemplateOpen:
                name, j = self.template_head(i)
                if not may_keep_template(name):
                    i = self.skip(i)
                    continue
                args, i = self.template_args(j)
                for part in kept_template_parts(name, args, self.span_source) or ():
                    if isinstance(part, str):
                        builder.text(part)
                    else:
                        self.expect_end(self.walk_inline(part[0], builder), part[1])
            elif kind in OPENERS:  # external links, headings, comments, arguments
                i = self.skip(i)
            else:
                return i


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
    builder = ParagraphBuilder()
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
