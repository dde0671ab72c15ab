"""The XML of a dump's pages: ``<page>`` and ``<siteinfo>`` elements, and runs of pages.

XML is parsed with entity resolution, DTD loading and network access off (no XXE, no billion
laughs). Export schema versions 0.3 to 0.11 are understood; elements are matched by local name.
A run of pages that does not parse is parsed again page by page, so broken XML costs only the
page it is in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from transforms.titles import FIRST_LETTER, SiteInfo


@dataclass
class RawPage:
    """A ``<page>`` as read from the dump, before any wikitext processing."""

    title: str | None
    page_id: int | None
    namespace: int | None
    revision_id: int | None
    redirect_title: str | None  # from <redirect title=...>; "" for a bare <redirect/>
    text: str | None
    source: str
    # Why the page cannot be used although its XML parsed (an id outside the int64 range...).
    problem: str | None = None


@dataclass
class ReadProblem:
    """Pages that could not be read: a damaged stream, a truncated file, broken XML."""

    reason: str  # corrupt_stream, corrupt_file, truncated_file, bad_xml, bad_page_xml, ...
    error: str
    pages_lost: int  # pages known to be lost (from the index, or a page cut in half); 0 when unknown
    source: str
    title: str | None = None
    page_id: int | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
    )


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


_INT64 = 1 << 63
_DIGITS = re.compile(r"-?[0-9]{1,20}")


def _int(text: str | bytes | None) -> int | None:
    """An integer that fits the int64 columns of every output, else None."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _text_of(element: etree._Element) -> str:
    """All text inside ``<text>``, child elements and entity references included.

    A well-formed dump escapes every ``<`` and ``&`` of the wikitext, so ``<text>`` has no
    children; when a broken one has, the text after them is still the page's text.
    """
    parts = [element.text or ""]
    for child in element:
        if isinstance(child, etree._Entity):
            parts.append(child.text or "")
        elif isinstance(child.tag, str):
            parts.append(_text_of(child))
        parts.append(child.tail or "")
    return "".join(parts)


def page_from_element(element: etree._Element, source: str) -> RawPage:
    """Fields of a ``<page>`` element of any export schema version (last revision wins)."""
    title_el = _child(element, "title")
    ns_el = _child(element, "ns")
    id_el = _child(element, "id")
    redirect_el = _child(element, "redirect")
    revision = None
    for child in element:
        if _local(child.tag) == "revision":
            revision = child
    text = None
    revision_id = None
    if revision is not None:
        text_el = _child(revision, "text")
        if text_el is not None and text_el.get("deleted") is None:
            text = _text_of(text_el) if len(text_el) else text_el.text or ""
        revision_id = _int(_child(revision, "id").text) if _child(revision, "id") is not None else None
    page_id = _int(id_el.text) if id_el is not None else None
    problem = None
    if id_el is not None and page_id is None:
        problem = f"page id {(id_el.text or '').strip()[:40]!r} is not an integer below 2^63"
    return RawPage(
        title=title_el.text if title_el is not None else None,
        page_id=page_id,
        namespace=_int(ns_el.text) if ns_el is not None else None,
        revision_id=revision_id,
        redirect_title=(redirect_el.get("title") or "") if redirect_el is not None else None,
        text=text,
        source=source,
        problem=problem,
    )


def siteinfo_from_element(element: etree._Element) -> dict[str, Any]:
    """A plain dict (picklable, JSON-able) of a ``<siteinfo>`` element."""
    info: dict[str, Any] = {"dbname": "", "case": FIRST_LETTER, "namespaces": {}}
    for child in element:
        name = _local(child.tag)
        if name in ("dbname", "sitename", "base", "generator"):
            info[name] = (child.text or "").strip()
        elif name == "case":
            info["case"] = (child.text or FIRST_LETTER).strip()
        elif name == "namespaces":
            for namespace in child:
                key = _int(namespace.get("key"))
                if key is not None:
                    info["namespaces"][str(key)] = (namespace.text or "").strip()
    return info


def site_from_siteinfo(lang: str, info: dict[str, Any] | None) -> SiteInfo:
    info = info or {}
    namespaces = {int(k): v for k, v in (info.get("namespaces") or {}).items()}
    return SiteInfo.build(
        lang, dbname=info.get("dbname", ""), case=info.get("case", FIRST_LETTER), namespaces=namespaces
    )


_SITEINFO = re.compile(rb"<siteinfo[\s>].*?</siteinfo\s*>", re.DOTALL)


def siteinfo_from_header(data: bytes) -> dict[str, Any]:
    """Siteinfo from the bytes before the first page; {} when there is none or it is broken."""
    match = _SITEINFO.search(data)
    if match is None:
        return {}
    try:
        return siteinfo_from_element(etree.fromstring(match.group(0), _parser()))
    except etree.XMLSyntaxError:
        return {}


_PAGE_BLOCK = re.compile(rb"<page>.*?(?:</page>|\Z)", re.DOTALL)
_TAIL = re.compile(rb"</mediawiki>\s*$")
_TITLE = re.compile(rb"<title>(.*?)</title>", re.DOTALL)
_PAGE_ID = re.compile(rb"<id>\s*(-?\d+)\s*</id>")


def bad_page(block: bytes, source: str, reason: str, error: str) -> ReadProblem:
    """A page that could not be parsed, named by what a regex can still find in it."""
    title = _TITLE.search(block)
    page_id = _PAGE_ID.search(block)
    return ReadProblem(
        reason=reason,
        error=error,
        pages_lost=1,
        source=source,
        title=title.group(1).decode("utf-8", "replace")[:1000] if title else None,
        page_id=_int(page_id.group(1)) if page_id else None,
    )


def page_of_block(block: bytes, source: str) -> RawPage | ReadProblem:
    """One ``<page>...</page>`` block parsed on its own: broken XML costs only this page."""
    try:
        element = etree.fromstring(block, _parser())
    except etree.XMLSyntaxError as error:
        return bad_page(block, source, "bad_page_xml", f"XML error: {error}")
    return page_from_element(element, source)


def pages_of_stream(data: bytes, source: str) -> Iterator[RawPage | ReadProblem]:
    """The pages of a run of ``<page>`` elements (one decompressed bz2 stream), in order."""
    data = _TAIL.sub(b"", data)
    try:
        root = etree.fromstring(b"<mediawiki>" + data + b"</mediawiki>", _parser())
    except etree.XMLSyntaxError:
        # One broken page must not take its 99 neighbours with it: parse page by page.
        for block in _PAGE_BLOCK.findall(data):
            yield page_of_block(block, source)
        return
    for element in root:
        if _local(element.tag) == "page":
            yield page_from_element(element, source)
