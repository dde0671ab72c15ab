"""Site information and page-title normalization, shared by every stage.

Titles are normalized the way MediaWiki resolves a link: HTML entities decoded, percent-escapes
decoded, underscores to spaces, whitespace collapsed, ``#fragment`` and a leading ``:`` dropped,
namespace prefix recognized case-insensitively, and the first letter upper-cased when the site's
case rule is ``first-letter`` (every Wikipedia but Wiktionary-like sites).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

from transforms.languages import (
    CANONICAL_NAMESPACES,
    INTERWIKI_PREFIXES,
    LOCALIZED_NAMESPACES,
    WIKIPEDIA_LANGUAGES,
)

FIRST_LETTER = "first-letter"
CASE_SENSITIVE = "case-sensitive"

_WHITESPACE = re.compile(r"[\s\u00a0\u200e\u200f\u202a-\u202e]+")
# Characters MediaWiki never allows in a title (control characters included, NUL first).
_INVALID_TITLE_CHARS = re.compile(r"[\[\]{}|<>\ufffd\x00-\x1f\x7f]")
# What is still an escape after one round of decoding: MediaWiki refuses such titles, and
# decoding them again would make normalization depend on how often it runs (``%2525``).
_RESIDUAL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|&[A-Za-z0-9\x80-\U0010ffff]+;|&#[0-9]+;|&#[xX][0-9A-Fa-f]+;")


def _fold(name: str) -> str:
    return _WHITESPACE.sub(" ", name.replace("_", " ")).strip().casefold()


@dataclass(frozen=True)
class SiteInfo:
    """What a wiki's ``<siteinfo>`` says, completed with built-in localized namespace names."""

    lang: str
    dbname: str = ""
    case: str = FIRST_LETTER
    # namespace id -> the site's own (first) name, "" for the main namespace
    namespace_names: dict[int, str] = field(default_factory=dict)
    # case-folded name or alias -> namespace id
    namespace_lookup: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        lang: str,
        dbname: str = "",
        case: str = FIRST_LETTER,
        namespaces: dict[int, str] | None = None,
        aliases: dict[str, int] | None = None,
    ) -> SiteInfo:
        """Merge siteinfo namespaces with canonical English and built-in localized names."""
        lookup: dict[str, int] = {}
        for ns, names in CANONICAL_NAMESPACES.items():
            for name in names:
                lookup[_fold(name)] = ns
        for ns, names in LOCALIZED_NAMESPACES.get(lang, {}).items():
            for name in names:
                lookup[_fold(name)] = ns
        for name, ns in (aliases or {}).items():
            if name:
                lookup[_fold(name)] = ns
        names_by_ns = dict(namespaces or {})
        for ns, name in names_by_ns.items():
            if name:
                lookup[_fold(name)] = ns
        for ns, names in LOCALIZED_NAMESPACES.get(lang, {}).items():
            names_by_ns.setdefault(ns, names[0])
        for ns, names in CANONICAL_NAMESPACES.items():
            names_by_ns.setdefault(ns, names[0])
        names_by_ns[0] = ""
        return cls(
            lang=lang,
            dbname=dbname or lang.replace("-", "_") + "wiki",
            case=case or FIRST_LETTER,
            namespace_names=names_by_ns,
            namespace_lookup=lookup,
        )

    def namespace_of(self, prefix: str) -> int | None:
        return self.namespace_lookup.get(_fold(prefix))


def upper_first(title: str) -> str:
    """Upper-case the first character unless that would change the title's length (ß -> SS)."""
    if not title:
        return title
    first = title[0].upper()
    return first + title[1:] if len(first) == 1 else title


LinkKind = Literal["article", "namespace", "interlanguage", "interwiki", "section", "invalid"]


@dataclass(frozen=True)
class LinkTarget:
    kind: LinkKind
    namespace: int
    # The normalized title without namespace prefix ("Berlin", "Städte in Deutschland").
    title: str
    # True when the link started with ':' ([[:Category:X]] links to the category page).
    leading_colon: bool = False
    # For interlanguage and interwiki links: the prefix ("de", "wikt").
    prefix: str = ""


def _clean(raw: str) -> str:
    text = html.unescape(raw)
    if "%" in text:
        text = urllib.parse.unquote(text)
    return _WHITESPACE.sub(" ", text.replace("_", " ")).strip()


def parse_link_target(raw: str, site: SiteInfo) -> LinkTarget:
    """Classify and normalize the target of ``[[raw|...]]``."""
    text = _clean(raw)
    leading_colon = text.startswith(":")
    if leading_colon:
        text = text[1:].strip()
    text = text.split("#", 1)[0].strip() if not text.startswith("#") else text
    if text.startswith("#") or not text:
        return LinkTarget("section", 0, "", leading_colon)
    if _INVALID_TITLE_CHARS.search(text) or _RESIDUAL_ESCAPE.search(text) or text.startswith(":"):
        return LinkTarget("invalid", 0, text, leading_colon)
    namespace = 0
    if ":" in text:
        prefix, rest = text.split(":", 1)
        prefix_key = prefix.strip()
        ns = site.namespace_of(prefix_key)
        if ns is not None:
            namespace, text = ns, rest.strip()
        else:
            lowered = prefix_key.lower().replace("_", "-")
            if lowered in WIKIPEDIA_LANGUAGES:
                return LinkTarget("interlanguage", 0, rest.strip(), leading_colon, lowered)
            if lowered in INTERWIKI_PREFIXES:
                return LinkTarget("interwiki", 0, rest.strip(), leading_colon, lowered)
    if not text:
        return LinkTarget("invalid", namespace, text, leading_colon)
    if site.case == FIRST_LETTER:
        text = upper_first(text)
    kind: LinkKind = "article" if namespace == 0 else "namespace"
    return LinkTarget(kind, namespace, text, leading_colon)


def normalize_title(raw: str, site: SiteInfo) -> str | None:
    """Normalized title of an article link target, or None when it is not a main-namespace title."""
    target = parse_link_target(raw, site)
    return target.title if target.kind == "article" else None


def split_page_title(title: str, site: SiteInfo) -> tuple[int, str]:
    """Namespace of a page title as written in a dump (``Kategorie:Berlin`` -> (14, "Berlin"))."""
    if ":" in title:
        prefix, rest = title.split(":", 1)
        ns = site.namespace_of(prefix)
        if ns is not None and ns != 0:
            return ns, rest.strip()
    return 0, title
