"""Wikitext before tokenizing: language conversion, the template and table cut, and the rules
that read raw markup text (which inline templates are kept and how they render, file-link options).

The parser is the bottleneck of extraction; markup the rules drop anyway is cut here by cheap scans
(``pre_strip``) so that the tokenizer never sees it. The kept-template rules live here too: the cut
keeps exactly the templates whose text the token walk renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from transforms.languages import IMAGE_OPTIONS, MEDIA_FILE_EXTENSIONS
from transforms.titles import upper_first

_WHITESPACE_RUN = re.compile(r"\s+")
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


def template_name(raw: str) -> str:
    name = raw.strip().replace("_", " ")
    name = _WHITESPACE_RUN.sub(" ", name.split("<!--", 1)[0]).strip()
    if ":" in name and name.lower().startswith(("template:", "vorlage:", "modèle:")):
        name = name.split(":", 1)[1].strip()
    return upper_first(name)


# Inline templates that carry sentence text (their rendering is kept_template_parts).
_KEPT_TEMPLATES = frozenset(
    """
    lang lang2 langx nihongo nowrap nobr small smaller big larger resize ruby transl
    transliteration convert cvt abbr
    """.split()
)
Span = tuple[int, int]  # a node list as token indices [start, end)


def may_keep_template(name: str) -> bool:
    lowered = name.lower()
    return lowered in _KEPT_TEMPLATES or lowered.startswith("lang-")


def kept_template_parts(
    name: str, args: list[Span], source: Callable[[Span], str]
) -> list[Span | str] | None:
    """Parts of an inline template that carry sentence text, or None to drop the template.

    ``args`` are the positional parameter values; ``source`` gives the wikitext of one.
    """
    lowered = name.lower()
    if lowered in ("lang", "lang2", "langx") and len(args) >= 2:
        return [args[1]]
    if lowered.startswith("lang-") and args:
        return [args[0]]
    if lowered == "nihongo" and args:
        parts: list[Span | str] = [args[0]]
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


def is_image_option(option: str) -> bool:
    """Whether one ``|``-separated part of a file link is an image option, not a caption."""
    key = option.strip().casefold()
    return key in IMAGE_OPTIONS or bool(_IMAGE_SIZE.fullmatch(key) or _IMAGE_PARAMETER.match(key))


def has_media_extension(name: str) -> bool:
    match = _MEDIA_EXTENSION.search(name)
    return match is not None and match.group(1).lower() in MEDIA_FILE_EXTENSIONS


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
