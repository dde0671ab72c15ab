"""The small markup language the sample articles are written in.

An article is a list of blocks (:class:`P` paragraphs, :class:`H` headings, :class:`UL` bullet
lists, removed :class:`Block` s, :class:`Cats` and :class:`Langlinks`), and a paragraph is a list of
inline parts (:class:`T` text, :class:`L` links, :class:`B`/:class:`I` bold and italic, refs,
templates, ...). Every part renders twice: to wikitext, and to what a reader sees (text segments,
links marked with their normalized target). :func:`render_article` turns the visible side into an
:class:`ExpectedPage` with these rules:

- bold/italic quotes are removed; refs, comments, tables, math, file links, category links,
  interlanguage links and templates contribute no text, except ``{{lang|xx|TEXT}}`` -> ``TEXT`` and
  ``{{nihongo|p1|p2|p3}}`` -> ``p1 (p2, p3)`` (``p1 (p2)`` without p3);
- HTML entities are decoded; zh ``-{zh-hans:A;zh-hant:B}-`` shows ``A`` and ``-{X}-`` shows ``X``;
- paragraphs are split by blank lines, headings and list items (a list item is its own paragraph,
  without its ``*``); heading text belongs to no paragraph;
- whitespace is collapsed the way ``re.sub(r"\\s+", " ", text).strip()`` does it (so ``&nbsp;`` and a
  single newline become one space) and a paragraph that ends up empty is not listed;
- a link's anchor is what a reader sees (link trail included); its target has the first letter
  upper-cased, underscores turned into spaces and the ``#fragment`` dropped; a link to a sister
  project (``[[wikt:market|market]]``) shows its text but is no link.

The parts validate themselves (no stray markup in plain text, no link trail letters glued to a link
unless declared, no ``'`` touching a bold/italic quote) so the expected extraction stays unambiguous.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from transforms.languages import CANONICAL_NAMESPACES, LOCALIZED_NAMESPACES, link_trail_pattern
from transforms.titles import upper_first

_WS = re.compile(r"\s+")
# Characters and sequences that would turn plain text into markup.
_FORBIDDEN_IN_TEXT = ("[", "]", "{", "}", "|", "<", ">", "''", "&", "~~~", "__", "\n", "\t", "-{", "}-")
_FORBIDDEN_IN_TARGET = ("[", "]", "{", "}", "|", "<", ">", "\n")
# Lines of a paragraph must not start like a list, a heading, an indented or preformatted line.
_LINE_START_MARKUP = (" ", "*", "#", ":", ";", "=", "{|", "|", "!", "----")
# Wikis where letters right before ``[[`` join the anchor (MediaWiki's link prefix); the sample
# keeps a non-letter there so the anchor is the same with or without that rule.
_LINK_PREFIX_LANGS = frozenset({"ar"})

Segment = tuple[str, str | None]  # (visible text, normalized link target or None)


# Namespace names of the sample wikis that the shared table does not have (talk namespaces, en's
# project namespace).
EXTRA_NAMESPACES: dict[str, dict[int, str]] = {
    "en": {4: "Wikipedia", 5: "Wikipedia talk"},
    "de": {1: "Diskussion", 3: "Benutzer Diskussion"},
    "fr": {1: "Discussion", 3: "Discussion utilisateur"},
    "es": {1: "Discusión", 3: "Usuario discusión"},
    "ja": {1: "ノート", 3: "利用者‐会話"},
    "ar": {1: "نقاش", 3: "نقاش المستخدم"},
    "hi": {1: "वार्ता", 3: "सदस्य वार्ता"},
    "ru": {1: "Обсуждение", 3: "Обсуждение участника"},
    "th": {1: "พูดคุย", 3: "คุยกับผู้ใช้"},
}


def namespace_name(lang: str, ns: int) -> str:
    """The name a sample wiki uses for a namespace: its localized name, else the canonical one."""
    if ns == 0:
        return ""
    if ns in EXTRA_NAMESPACES.get(lang, {}):
        return EXTRA_NAMESPACES[lang][ns]
    localized = LOCALIZED_NAMESPACES.get(lang, {}).get(ns)
    if localized:
        return localized[0]
    return CANONICAL_NAMESPACES[ns][0]


def normalize_target(target: str) -> str:
    """``berlin_wall#History`` -> ``Berlin wall``."""
    title = target.split("#", 1)[0].replace("_", " ")
    return upper_first(_WS.sub(" ", title).strip())


def _check_text(text: str, what: str) -> None:
    for bad in _FORBIDDEN_IN_TEXT:
        if bad in text:
            raise ValueError(f"{what} {text!r} contains {bad!r}")


@dataclass
class _Ctx:
    lang: str


class Part:
    """An inline piece of a paragraph."""

    def wikitext(self, ctx: _Ctx) -> str:
        raise NotImplementedError

    def segments(self) -> list[Segment]:
        return []


def _as_part(value: Part | str) -> Part:
    return T(value) if isinstance(value, str) else value


def _ambiguous_after_link(ch: str, trail: re.Pattern[str] | None, lang: str) -> bool:
    """Would a wiki (with this project's or MediaWiki's own trail rule) glue ``ch`` to a link?"""
    if trail is not None and trail.match(ch):
        return True
    # MediaWiki's default trail is ASCII lower case; ar glues Arabic letters too.
    return ("a" <= ch <= "z") or (lang in _LINK_PREFIX_LANGS and ch.isalpha())


def _render_sequence(parts: Sequence[Part], ctx: _Ctx) -> str:
    """Render parts one after the other, checking the boundaries between them."""
    rendered = [p.wikitext(ctx) for p in parts]
    trail = link_trail_pattern(ctx.lang)
    for i, part in enumerate(parts):
        nxt = rendered[i + 1] if i + 1 < len(rendered) else ""
        before = rendered[i - 1] if i else ""
        if isinstance(part, L) and ctx.lang in _LINK_PREFIX_LANGS and before and before[-1].isalpha():
            raise ValueError(f"letter {before[-1]!r} right before [[{part.target}]] would be a link prefix")
        if isinstance(part, L) and nxt and _ambiguous_after_link(nxt[0], trail, ctx.lang):
            raise ValueError(f"text {nxt[:20]!r} after [[{part.target}]] may be a link trail; use trail=")
        if rendered[i].endswith("'") and nxt.startswith("'"):
            raise ValueError(f"apostrophes touch between {rendered[i][-10:]!r} and {nxt[:10]!r}")
    return "".join(rendered)


class T(Part):
    """Plain text, shown as it is."""

    def __init__(self, text: str) -> None:
        _check_text(text, "text")
        self.text = text

    def wikitext(self, ctx: _Ctx) -> str:
        return self.text

    def segments(self) -> list[Segment]:
        return [(self.text, None)]


class L(Part):
    """``[[target]]``, ``[[target|anchor]]``, optionally followed by a link trail (``[[bus]]es``)."""

    def __init__(self, target: str, anchor: str | None = None, trail: str = "") -> None:
        for bad in _FORBIDDEN_IN_TARGET:
            if bad in target:
                raise ValueError(f"link target {target!r} contains {bad!r}")
        if anchor is None and ("#" in target or "_" in target):
            raise ValueError(f"unpiped [[{target}]] would show markup; give an anchor")
        if anchor is not None:
            _check_text(anchor, "anchor")
            if anchor != anchor.strip() or not anchor:
                raise ValueError(f"anchor {anchor!r} must be stripped and non-empty")
        if not normalize_target(target):
            raise ValueError(f"empty link target {target!r}")
        self.target = target
        self.anchor = anchor
        self.trail = trail

    def wikitext(self, ctx: _Ctx) -> str:
        if self.trail:
            pattern = link_trail_pattern(ctx.lang)
            if pattern is None or not pattern.fullmatch(self.trail):
                raise ValueError(f"{self.trail!r} is not a link trail in {ctx.lang}")
        inner = self.target if self.anchor is None else f"{self.target}|{self.anchor}"
        return f"[[{inner}]]{self.trail}"

    def segments(self) -> list[Segment]:
        shown = (self.target if self.anchor is None else self.anchor) + self.trail
        return [(shown, normalize_target(self.target))]


class _Wrap(Part):
    quotes = ""

    def __init__(self, *parts: Part | str) -> None:
        self.parts = [_as_part(p) for p in parts]

    def wikitext(self, ctx: _Ctx) -> str:
        return f"{self.quotes}{_render_sequence(self.parts, ctx)}{self.quotes}"

    def segments(self) -> list[Segment]:
        return [s for p in self.parts for s in p.segments()]


class B(_Wrap):
    """Bold: ``'''...'''``."""

    quotes = "'''"


class I(_Wrap):  # noqa: E742 - the markup's own name
    """Italic: ``''...''``."""

    quotes = "''"


class Ref(Part):
    """``<ref>content</ref>`` or ``<ref name="n">content</ref>``; shows nothing."""

    def __init__(self, content: str, name: str | None = None) -> None:
        self.content = content
        self.name = name

    def wikitext(self, ctx: _Ctx) -> str:
        if self.name is None:
            return f"<ref>{self.content}</ref>"
        return f'<ref name="{self.name}">{self.content}</ref>'


class RefUse(Part):
    """A reuse of a named ref: ``<ref name="n"/>``; shows nothing."""

    def __init__(self, name: str, spaced: bool = False) -> None:
        self.name = name
        self.spaced = spaced

    def wikitext(self, ctx: _Ctx) -> str:
        return f'<ref name="{self.name}"{" " if self.spaced else ""}/>'


class Tpl(Part):
    """A template the extraction drops (``{{Citation needed|date=...}}``)."""

    def __init__(self, wikitext: str) -> None:
        if not (wikitext.startswith("{{") and wikitext.endswith("}}")):
            raise ValueError(f"not a template: {wikitext!r}")
        self.text = wikitext

    def wikitext(self, ctx: _Ctx) -> str:
        return self.text


class Lang(Part):
    """``{{lang|code|text}}``: shows ``text``."""

    def __init__(self, code: str, text: str) -> None:
        _check_text(text, "lang text")
        self.code = code
        self.text = text

    def wikitext(self, ctx: _Ctx) -> str:
        return f"{{{{lang|{self.code}|{self.text}}}}}"

    def segments(self) -> list[Segment]:
        return [(self.text, None)]


class Nihongo(Part):
    """``{{nihongo|p1|p2|p3}}``: shows ``p1 (p2, p3)``, or ``p1 (p2)`` without p3."""

    def __init__(self, english: str, kanji: str, romaji: str | None = None) -> None:
        for value in (english, kanji, romaji or ""):
            _check_text(value, "nihongo parameter")
        self.english, self.kanji, self.romaji = english, kanji, romaji

    def wikitext(self, ctx: _Ctx) -> str:
        params = [self.english, self.kanji] + ([self.romaji] if self.romaji else [])
        return "{{nihongo|" + "|".join(params) + "}}"

    def segments(self) -> list[Segment]:
        inner = f"{self.kanji}, {self.romaji}" if self.romaji else self.kanji
        return [(f"{self.english} ({inner})", None)]


class Comment(Part):
    """``<!-- text -->``; shows nothing."""

    def __init__(self, text: str) -> None:
        if "--" in text:
            raise ValueError("a comment cannot contain '--'")
        self.text = text

    def wikitext(self, ctx: _Ctx) -> str:
        return f"<!-- {self.text} -->"


class Math(Part):
    """``<math>tex</math>``; shows nothing."""

    def __init__(self, tex: str) -> None:
        self.tex = tex

    def wikitext(self, ctx: _Ctx) -> str:
        return f"<math>{self.tex}</math>"


class Ent(Part):
    """An HTML entity (``&amp;``, ``&nbsp;``, ``&eacute;``): shows the decoded character."""

    def __init__(self, name: str) -> None:
        decoded = html.unescape(f"&{name};")
        if decoded == f"&{name};":
            raise ValueError(f"unknown entity {name!r}")
        self.name = name
        self.decoded = decoded

    def wikitext(self, ctx: _Ctx) -> str:
        return f"&{self.name};"

    def segments(self) -> list[Segment]:
        return [(self.decoded, None)]


class Conv(Part):
    """zh conversion markup ``-{zh-hans:A;zh-hant:B}-`` (shows A) or ``-{X}-`` (shows X)."""

    def __init__(self, hans: str, hant: str | None = None) -> None:
        for value in (hans, hant or ""):
            _check_text(value, "conversion text")
            if ";" in value or ":" in value:
                raise ValueError(f"conversion text {value!r} contains ';' or ':'")
        self.hans, self.hant = hans, hant

    def wikitext(self, ctx: _Ctx) -> str:
        if self.hant is None:
            return f"-{{{self.hans}}}-"
        return f"-{{zh-hans:{self.hans};zh-hant:{self.hant}}}-"

    def segments(self) -> list[Segment]:
        return [(self.hans, None)]


class File(Part):
    """``[[File:name|options|caption]]`` (localized prefix); removed with its caption's links."""

    def __init__(self, name: str, caption: Sequence[Part | str] = (), options: str = "thumb") -> None:
        self.name = name
        self.caption = [_as_part(p) for p in caption]
        self.options = options

    def wikitext(self, ctx: _Ctx) -> str:
        inner = [f"{namespace_name(ctx.lang, 6)}:{self.name}"]
        if self.options:
            inner.append(self.options)
        if self.caption:
            inner.append(_render_sequence(self.caption, ctx))
        return "[[" + "|".join(inner) + "]]"


class NL(Part):
    """A single newline inside a paragraph: a space for the reader."""

    def wikitext(self, ctx: _Ctx) -> str:
        return "\n"

    def segments(self) -> list[Segment]:
        return [(" ", None)]


class Raw(Part):
    """Literal wikitext with a declared visible text (for markup the other parts do not cover)."""

    def __init__(self, wikitext: str, visible: str = "") -> None:
        self.text = wikitext
        self.visible = visible

    def wikitext(self, ctx: _Ctx) -> str:
        return self.text

    def segments(self) -> list[Segment]:
        return [(self.visible, None)] if self.visible else []


# ---- blocks ---------------------------------------------------------------------------------------


class Blk:
    """A block of an article. ``glue`` means a single newline (not a blank line) follows it."""

    glue = False


class P(Blk):
    """A paragraph."""

    def __init__(self, *parts: Part | str) -> None:
        self.parts = [_as_part(p) for p in parts]


class H(Blk):
    """A heading ``== title ==``; it ends the lead and starts a new paragraph."""

    glue = True

    def __init__(self, title: str, level: int = 2) -> None:
        _check_text(title, "heading")
        self.title = title
        self.level = level


class UL(Blk):
    """A bullet list; every item is its own paragraph."""

    def __init__(self, *items: Part | str | Sequence[Part | str]) -> None:
        self.items: list[list[Part]] = []
        for item in items:
            parts = [item] if isinstance(item, Part | str) else list(item)
            self.items.append([_as_part(p) for p in parts])


class Block(Blk):
    """Wikitext that shows no text (infobox, table, file, ``{{Reflist}}``, a comment)."""

    def __init__(self, content: str | Part, glue: bool = False) -> None:
        self.content = content
        self.glue = glue


class Cats(Blk):
    """Category links at the bottom: names, or (name, sort key) pairs."""

    glue = True

    def __init__(self, *entries: str | tuple[str, str]) -> None:
        self.entries = [(e, None) if isinstance(e, str) else e for e in entries]


class Langlinks(Blk):
    """Interlanguage links ``[[de:Berlin]]`` at the very bottom (sorted by language)."""

    glue = True

    def __init__(self, links: dict[str, str]) -> None:
        self.links = dict(sorted(links.items()))


# ---- expected extraction ---------------------------------------------------------------------------


@dataclass
class ExpectedPage:
    """What extracting an article must give.

    ``paragraphs``: ``[(text, [(anchor_text, target), ...]), ...]`` in page order. ``spans`` has
    the same links as ``(start, end, target)`` Python string offsets into each paragraph's text
    (``text[start:end] == anchor_text``). ``lead_count`` paragraphs come before the first heading.
    ``categories``: the category titles without namespace prefix or sort key, in page order.
    """

    paragraphs: list[tuple[str, list[tuple[str, str]]]]
    spans: list[list[tuple[int, int, str]]] = field(default_factory=list)
    lead_count: int = 0
    categories: list[str] = field(default_factory=list)


def collapse_paragraph(segments: Iterable[Segment]) -> tuple[str, list[tuple[int, int, str]]]:
    """Join segments, collapse whitespace runs to one space, strip; keep link offsets right."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pending_space = False
    for text, target in segments:
        start: int | None = None
        for ch in text:
            if ch.isspace() or _WS.match(ch):
                pending_space = True
                continue
            if pending_space and out:
                out.append(" ")
            pending_space = False
            if start is None:
                start = len(out)
            out.append(ch)
        if target is not None:
            if start is None:
                raise ValueError(f"link to {target!r} shows no text")
            spans.append((start, len(out), target))
    return "".join(out), spans


def _paragraph_wikitext(parts: Sequence[Part], ctx: _Ctx) -> str:
    text = _render_sequence(parts, ctx)
    for line in text.split("\n"):
        if not line.strip():
            raise ValueError(f"empty line inside a paragraph: {text[:60]!r}")
        if line.startswith(_LINE_START_MARKUP):
            raise ValueError(f"paragraph line starts with markup: {line[:40]!r}")
    return text


def render_article(lang: str, blocks: Sequence[Blk]) -> tuple[str, ExpectedPage]:
    """Wikitext of an article and its expected extraction."""
    ctx = _Ctx(lang)
    chunks: list[tuple[str, bool]] = []  # (wikitext, glue)
    expected = ExpectedPage(paragraphs=[])
    seen_heading = False

    def add_paragraph(parts: Sequence[Part]) -> None:
        text, spans = collapse_paragraph(s for p in parts for s in p.segments())
        if not text:
            return
        expected.paragraphs.append((text, [(text[a:b], t) for a, b, t in spans]))
        expected.spans.append(spans)
        if not seen_heading:
            expected.lead_count += 1

    for block in blocks:
        if isinstance(block, P):
            chunks.append((_paragraph_wikitext(block.parts, ctx), False))
            add_paragraph(block.parts)
        elif isinstance(block, H):
            marks = "=" * block.level
            chunks.append((f"{marks} {block.title} {marks}", True))
            seen_heading = True
        elif isinstance(block, UL):
            lines = []
            for item in block.items:
                body = _paragraph_wikitext(item, ctx)
                if "\n" in body:
                    raise ValueError("a list item cannot span lines")
                lines.append(f"* {body}")
                add_paragraph(item)
            chunks.append(("\n".join(lines), False))
        elif isinstance(block, Block):
            content = block.content
            chunks.append((content if isinstance(content, str) else content.wikitext(ctx), block.glue))
        elif isinstance(block, Cats):
            prefix = namespace_name(lang, 14)
            lines = []
            for name, sortkey in block.entries:
                lines.append(f"[[{prefix}:{name}]]" if sortkey is None else f"[[{prefix}:{name}|{sortkey}]]")
                expected.categories.append(normalize_target(name))
            chunks.append(("\n".join(lines), False))
        elif isinstance(block, Langlinks):
            chunks.append(("\n".join(f"[[{code}:{title}]]" for code, title in block.links.items()), False))
        else:
            raise TypeError(f"not a block: {block!r}")

    wikitext = ""
    for i, (text, glue) in enumerate(chunks):
        wikitext += text
        if i + 1 < len(chunks):
            wikitext += "\n" if glue else "\n\n"
    return wikitext + "\n", expected


# ---- page specifications -------------------------------------------------------------------------


@dataclass
class PageSpec:
    """A page before it gets an id: structured (``blocks``) or literal (``wikitext``)."""

    title: str
    namespace: int = 0
    blocks: list[Blk] | None = None
    wikitext: str | None = None
    qid: str | None = None
    redirect_to: str | None = None
    is_disambiguation: bool = False
    # Extra page_props: wikibase-shortdesc and page_image_free values.
    shortdesc: str | None = None
    image: str | None = None
    generated: bool = False


def article(
    title: str,
    qid: str | None,
    blocks: list[Blk],
    *,
    disambiguation: bool = False,
    shortdesc: str | None = None,
    image: str | None = None,
) -> PageSpec:
    return PageSpec(
        title=title,
        blocks=blocks,
        qid=qid,
        is_disambiguation=disambiguation,
        shortdesc=shortdesc,
        image=image,
    )


def redirect(title: str, magic: str, target: str, tail: str = "") -> PageSpec:
    """``#MAGIC [[target]]`` plus optional text after it (redirect category templates)."""
    return PageSpec(
        title=title,
        wikitext=f"{magic} [[{target}]]{tail}\n",
        redirect_to=normalize_target(target),
    )


def literal(title: str, wikitext: str, namespace: int = 0, qid: str | None = None) -> PageSpec:
    """A page whose wikitext is written out (other namespaces, malformed markup)."""
    return PageSpec(title=title, namespace=namespace, wikitext=wikitext, qid=qid)


def ns_title(lang: str, namespace: int, name: str) -> str:
    """``ns_title("de", 14, "Stadt")`` -> ``Kategorie:Stadt`` (the wiki's own namespace name)."""
    return f"{namespace_name(lang, namespace)}:{name}"
