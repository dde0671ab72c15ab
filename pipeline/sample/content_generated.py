"""Articles generated from the entity table and a per-language :class:`Lexicon` of sentences.

Sentence templates are plain text with placeholders:

- ``{self}`` the entity's label in bold, ``{name}`` the label as plain text, ``{name:lc}`` lower-cased;
- ``{ATTR}`` a link to the first entity of attribute ATTR (``country``, ``capital``, ...) that has a
  title in the language (piped when the label differs from the title), ``{ATTR:lc}`` the same link
  with a lower-case first letter, ``{ATTR:name}`` the label without link, ``{ATTR:FORM}`` an
  inflected form from ``Lexicon.forms`` (``(prefix, anchor or None, link trail)``);
- ``{year}``, ``{noun}`` (through ``Lexicon.nouns``), ``{ref:NAME}`` a named ref (``Lexicon.refs``),
  written in full the first time and reused after.

A sentence whose placeholders cannot be filled is skipped; a tuple of sentences means "the first one
that can be filled".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.sample.content_base import (
    UL,
    B,
    Blk,
    Block,
    Cats,
    Comment,
    H,
    L,
    Langlinks,
    P,
    Part,
    Ref,
    RefUse,
    T,
)
from pipeline.sample.entities import ENTITIES, ENTITY_BY_QID, Entity, label_of, title_of
from transforms.titles import upper_first

Form = tuple[str, str | None, str]  # (text before the link, anchor or None for the title, link trail)
Sentence = str | tuple[str, ...]
_PLACEHOLDER = re.compile(r"(\{[^{}]+\})")


@dataclass(frozen=True)
class Lexicon:
    lang: str
    headings: dict[str, str]  # history, see_also, references
    reflist: str
    refs: dict[str, str]
    infobox: dict[str, str]
    categories: dict[str, str]
    lead: dict[str, list[Sentence]]
    body: dict[str, list[Sentence]]
    nouns: dict[str, str] = field(default_factory=dict)
    forms: dict[str, dict[str, Form]] = field(default_factory=dict)
    # Prefix used for a form when the entity has no entry (None: the form is unavailable).
    form_defaults: dict[str, str] = field(default_factory=dict)
    table_headers: tuple[str, str] = ("Capital", "River")
    comment: str = "please add sources"
    sep: str = " "
    # Letters that may not directly precede a link (languages with link prefixes, like ar).
    no_prefix_letters: bool = False


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


class _Unavailable(Exception):
    pass


@dataclass
class _Article:
    entity: Entity
    lex: Lexicon
    title_for: Callable[[str], str]
    refs_used: set[str] = field(default_factory=set)

    @property
    def lang(self) -> str:
        return self.lex.lang

    def label(self, qid: str) -> str:
        title = title_of(qid, self.lang)
        assert title is not None
        return label_of(title, self.lang)

    def link(self, qid: str, anchor: str | None = None, trail: str = "") -> L:
        title = self.title_for(qid)
        shown = self.label(qid) if anchor is None else anchor
        if upper_first(shown) == title:
            return L(shown, trail=trail)
        return L(title, shown, trail=trail)

    def attr(self, name: str) -> str:
        for qid in self.entity.attrs.get(name, ()):
            if title_of(qid, self.lang) is not None:
                return qid
        raise _Unavailable(name)

    def placeholder(self, key: str) -> list[Part]:
        name, _, form = key.partition(":")
        if name == "self":
            return [B(self.label(self.entity.qid))]
        if name == "name":
            label = self.label(self.entity.qid)
            return [T(lower_first(label) if form == "lc" else label)]
        if name == "year":
            if self.entity.year is None:
                raise _Unavailable(name)
            return [T(str(self.entity.year))]
        if name == "noun":
            if self.entity.noun not in self.lex.nouns:
                raise _Unavailable(name)
            return [T(self.lex.nouns[self.entity.noun])]
        if name == "ref":
            if form in self.refs_used:
                return [RefUse(form)]
            self.refs_used.add(form)
            return [Ref(self.lex.refs[form], name=form)]
        qid = self.attr(name)
        if not form:
            return [self.link(qid)]
        if form == "lc":
            return [self.link(qid, lower_first(self.label(qid)))]
        if form == "name":
            return [T(self.label(qid))]
        entry = self.lex.forms.get(form, {}).get(qid)
        if entry is None:
            if form not in self.lex.form_defaults:
                raise _Unavailable(key)
            entry = (self.lex.form_defaults[form], None, "")
        prefix, anchor, trail = entry
        parts: list[Part] = [T(prefix)] if prefix else []
        return [*parts, self.link(qid, anchor, trail)]

    def sentence(self, template: Sentence) -> list[Part] | None:
        options = (template,) if isinstance(template, str) else template
        for option in options:
            try:
                parts: list[Part] = []
                saved = set(self.refs_used)
                for piece in _PLACEHOLDER.split(option):
                    if not piece:
                        continue
                    if piece.startswith("{"):
                        parts.extend(self.placeholder(piece[1:-1]))
                    else:
                        parts.append(T(piece))
                return parts
            except _Unavailable:
                self.refs_used = saved
                continue
        return None

    def paragraph(self, templates: Sequence[Sentence]) -> P | None:
        sentences = [s for s in (self.sentence(t) for t in templates) if s]
        if not sentences:
            return None
        parts: list[Part] = []
        for i, sentence in enumerate(sentences):
            if i and self.lex.sep:
                parts.append(T(self.lex.sep))
            parts.extend(sentence)
        return P(*parts)


def _infobox(article: _Article) -> str:
    entity, lex = article.entity, article.lex
    lines = [f"{{{{{lex.infobox[entity.kind]}", f"| name = {article.label(entity.qid)}"]
    for attr in sorted(entity.attrs):
        try:
            qid = article.attr(attr)
        except _Unavailable:
            continue
        lines.append(f"| {attr} = [[{article.title_for(qid)}]]")
    if entity.year is not None:
        lines.append(f"| year = {entity.year}")
    lines.append("}}")
    return "\n".join(lines)


def _table(article: _Article) -> str | None:
    entity, lex = article.entity, article.lex
    cells = []
    for attr, header in zip(("capital", "river"), lex.table_headers, strict=True):
        try:
            cells.append((header, f"[[{article.title_for(article.attr(attr))}]]"))
        except _Unavailable:
            continue
    if entity.kind != "country" or not cells:
        return None
    head = " !! ".join(h for h, _ in cells)
    row = " || ".join(c for _, c in cells)
    return f'{{| class="wikitable"\n! {head}\n|-\n| {row}\n|}}'


def entities_in(lang: str) -> list[Entity]:
    return [e for e in ENTITIES if lang in e.titles]


def generated_blocks(
    entity: Entity, lex: Lexicon, title_for: Callable[[str], str], with_langlinks: bool = True
) -> list[Blk]:
    """The blocks of the generated article about an entity."""
    lang = lex.lang
    article = _Article(entity, lex, title_for)
    blocks: list[Blk] = [Block(_infobox(article), glue=True)]
    lead = article.paragraph(lex.lead[entity.kind])
    if lead is None:
        raise ValueError(f"no lead sentence for {entity.qid} in {lang}")
    blocks.append(lead)
    blocks.append(H(lex.headings["history"]))
    body = article.paragraph(lex.body[entity.kind])
    if body is not None:
        blocks.append(body)
    table = _table(article)
    if table is not None:
        blocks.append(Block(table))
    blocks.append(Block(Comment(lex.comment)))
    # "See also": the next entities of this language, so every entity gets incoming links.
    others = entities_in(lang)
    index = others.index(entity)
    neighbours = [others[(index + step) % len(others)] for step in (1, 2, 3)]
    blocks.append(H(lex.headings["see_also"]))
    blocks.append(UL(*[article.link(n.qid) for n in neighbours if n.qid != entity.qid]))
    blocks.append(H(lex.headings["references"]))
    blocks.append(Block(lex.reflist))
    own_title = title_for(entity.qid)
    label = article.label(entity.qid)
    category = lex.categories[entity.kind]
    blocks.append(Cats((category, label)) if label != own_title else Cats(category))
    if with_langlinks:
        links = {code: title for code, title in entity.titles.items() if code != lang}
        if links:
            blocks.append(Langlinks(links))
    return blocks


def langlinks(qid: str, lang: str) -> Langlinks:
    """Interlanguage links of an entity's article to its articles in the other sample languages."""
    entity = ENTITY_BY_QID[qid]
    return Langlinks({code: title for code, title in entity.titles.items() if code != lang})
