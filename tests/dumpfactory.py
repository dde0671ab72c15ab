"""Builds small MediaWiki export files in the shapes real dumps come in (for tests)."""

from __future__ import annotations

import bz2
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

SCHEMA_NS = "http://www.mediawiki.org/xml/export-{version}/"


@dataclass
class Page:
    title: str
    page_id: int
    text: str | None
    ns: int = 0
    redirect: str | None = None
    revision_id: int | None = None


def siteinfo_xml(dbname: str = "enwiki", namespaces: dict[int, str] | None = None) -> str:
    namespaces = namespaces if namespaces is not None else {0: "", 6: "File", 10: "Template", 14: "Category"}
    ns_xml = "".join(
        f'      <namespace key="{key}" case="first-letter">{escape(name)}</namespace>\n'
        if name
        else f'      <namespace key="{key}" case="first-letter" />\n'
        for key, name in sorted(namespaces.items())
    )
    return (
        "  <siteinfo>\n"
        f"    <sitename>Wikipedia</sitename>\n    <dbname>{dbname}</dbname>\n"
        "    <base>https://example.org/wiki/Main_Page</base>\n    <generator>MediaWiki 1.42</generator>\n"
        "    <case>first-letter</case>\n"
        f"    <namespaces>\n{ns_xml}    </namespaces>\n"
        "  </siteinfo>\n"
    )


def page_xml(page: Page, version: str = "0.11") -> str:
    old = version in ("0.3", "0.4", "0.5")
    parts = [f"  <page>\n    <title>{escape(page.title)}</title>\n"]
    if not old:
        parts.append(f"    <ns>{page.ns}</ns>\n")
    parts.append(f"    <id>{page.page_id}</id>\n")
    if page.redirect is not None and version not in ("0.3",):
        parts.append(
            f"    <redirect title={quoteattr(page.redirect)} />\n"
            if version != "0.4"
            else "    <redirect />\n"
        )
    parts.append(f"    <revision>\n      <id>{page.revision_id or page.page_id * 10}</id>\n")
    parts.append("      <timestamp>2026-10-01T00:00:00Z</timestamp>\n")
    if page.text is None:
        parts.append('      <text deleted="deleted" />\n')
    else:
        parts.append(f'      <text xml:space="preserve">{escape(page.text)}</text>\n')
    parts.append("    </revision>\n  </page>\n")
    return "".join(parts)


def export_xml(
    pages: list[Page],
    version: str = "0.11",
    dbname: str = "enwiki",
    siteinfo: bool = True,
    namespaces: dict[int, str] | None = None,
) -> str:
    header = (
        f'<mediawiki xmlns="{SCHEMA_NS.format(version=version)}" version="{version}" xml:lang="en">\n'
        + (siteinfo_xml(dbname, namespaces) if siteinfo else "")
    )
    return header + "".join(page_xml(p, version) for p in pages) + "</mediawiki>\n"


def write_multistream(
    path: str,
    index_path: str,
    pages: list[Page],
    per_stream: int = 100,
    dbname: str = "enwiki",
    namespaces: dict[int, str] | None = None,
) -> list[int]:
    """A real multistream dump + index; returns the stream offsets of the page streams."""
    header = f'<mediawiki xmlns="{SCHEMA_NS.format(version="0.11")}" version="0.11" xml:lang="en">\n'
    header += siteinfo_xml(dbname, namespaces)
    blobs = [bz2.compress(header.encode())]
    offsets = []
    index_lines = []
    position = len(blobs[0])
    for start in range(0, len(pages), per_stream):
        chunk = pages[start : start + per_stream]
        blob = bz2.compress("".join(page_xml(p) for p in chunk).encode())
        offsets.append(position)
        index_lines += [f"{position}:{p.page_id}:{p.title}" for p in chunk]
        blobs.append(blob)
        position += len(blob)
    blobs.append(bz2.compress(b"</mediawiki>\n"))
    with open(path, "wb") as handle:
        handle.write(b"".join(blobs))
    with open(index_path, "wb") as handle:
        handle.write(bz2.compress(("\n".join(index_lines) + "\n").encode()))
    return offsets
