"""Writes the sample wiki as a Wikimedia dump mirror tree, byte for byte reproducible.

Per language, under ``{root}/{wiki}/{date}/``: the multistream articles dump (first bz2 stream:
``<mediawiki>`` and ``<siteinfo>``; then streams of pages; last stream: ``</mediawiki>``), its index
(``offset:page_id:title``), the ``page_props`` and ``site_stats`` MySQL dumps, ``dumpstatus.json`` and
an md5sums file. For Wikidata: ``wikidatawiki/{date}/`` with the ``wb_items_per_site`` table and
``wikidatawiki/entities/{date}/`` with the JSON entity dump.

Nothing depends on the clock: revision timestamps and ids derive from page ids, gzip headers carry
mtime 0 and no file name, and bz2/gzip run at level 9.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import re
import urllib.parse
import zlib
from collections.abc import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

from pipeline.sample.content_base import namespace_name
from pipeline.sample.content_pages import (
    SamplePage,
    copy_qid,
    copy_title,
    generated_qids,
    iter_pages,
)
from pipeline.sample.entities import (
    CATEGORY_QID,
    DISAMBIGUATION_QID,
    DISAMBIGUATION_TITLES,
    ENTITIES,
    ENTITY_BY_QID,
    SAMPLE_DATE,
    SAMPLE_LANGS,
    label_of,
)
from schemas.dumps import (
    DUMPSTATUS,
    JOB_ARTICLES_MULTISTREAM,
    JOB_ITEMS_PER_SITE,
    JOB_PAGE_PROPS,
    DumpFile,
    DumpJob,
    articles_file_name,
    dump_dir,
    dumpstatus_to_json,
    index_file_name,
    page_props_file_name,
    wiki_name,
)
from transforms.languages import CANONICAL_NAMESPACES

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
GENERATOR = "MediaWiki 1.46.0-wmf.3"
# Pages per bz2 stream: Wikimedia uses 100; the default sample uses fewer so that every language
# has several streams.
STREAM_PAGES = 100
SAMPLE_STREAM_PAGES = 20

_SITENAMES = {"fr": "Wikipédia", "ar": "ويكيبيديا", "hi": "विकिपीडिया", "ru": "Википедия", "th": "วิกิพีเดีย"}
_MAIN_PAGES = {
    "en": "Main Page",
    "de": "Wikipedia:Hauptseite",
    "fr": "Wikipédia:Accueil principal",
    "es": "Wikipedia:Portada",
    "ja": "メインページ",
    "zh": "Wikipedia:首页",
    "ar": "الصفحة الرئيسية",
    "hi": "मुखपृष्ठ",
    "ru": "Заглавная страница",
    "th": "หน้าหลัก",
}
_EDITORS = (("Cartographer", 48213), ("RiverBot", 1022), ("Lexicographer", 773401), ("Gazetteer", 90210))
_COMMENTS = ("", "copyedit", "/* History */ expand", "update population figures", "fix links")


def _xml(text: str) -> str:
    """Escape like MediaWiki's dumps: & < > and double quotes."""
    return escape(text, {'"': "&quot;"})


def _base36_sha1(data: bytes) -> str:
    number = int.from_bytes(hashlib.sha1(data).digest(), "big")
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits.rjust(31, "0")


def _stable(value: str) -> int:
    return zlib.crc32(value.encode("utf-8"))


# ---- the XML export --------------------------------------------------------------------------------


def siteinfo_xml(lang: str) -> str:
    """``<mediawiki ...>`` and ``<siteinfo>`` of a sample wiki: the first stream of the dump."""
    wiki = wiki_name(lang)
    base = f"https://{lang}.wikipedia.org/wiki/" + urllib.parse.quote(
        _MAIN_PAGES[lang].replace(" ", "_"), safe=":/"
    )
    lines = [
        f'<mediawiki xmlns="{EXPORT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{EXPORT_NS} http://www.mediawiki.org/xml/export-0.11.xsd" version="0.11" '
        f'xml:lang="{lang}">',
        "  <siteinfo>",
        f"    <sitename>{_xml(_SITENAMES.get(lang, 'Wikipedia'))}</sitename>",
        f"    <dbname>{wiki}</dbname>",
        f"    <base>{_xml(base)}</base>",
        f"    <generator>{GENERATOR}</generator>",
        "    <case>first-letter</case>",
        "    <namespaces>",
    ]
    for ns in sorted({0, *CANONICAL_NAMESPACES}):
        name = namespace_name(lang, ns)
        if name:
            lines.append(f'      <namespace key="{ns}" case="first-letter">{_xml(name)}</namespace>')
        else:
            lines.append(f'      <namespace key="{ns}" case="first-letter" />')
    lines += ["    </namespaces>", "  </siteinfo>"]
    return "\n".join(lines) + "\n"


def site_namespaces(lang: str) -> dict[int, str]:
    """The ``<namespaces>`` of a sample wiki's siteinfo, as {key: name}."""
    return {ns: namespace_name(lang, ns) for ns in sorted({0, *CANONICAL_NAMESPACES})}


def revision_id(page: SamplePage) -> int:
    return 1_300_000_000 + page.page_id * 3 + _stable(page.title) % 3


def page_xml(lang: str, page: SamplePage) -> str:
    seed = _stable(f"{lang}:{page.page_id}")
    rev = revision_id(page)
    text = page.wikitext.encode("utf-8")
    sha1 = _base36_sha1(text)
    month, day = 1 + seed % 10, 1 + (seed >> 4) % 28
    hour, minute, second = (seed >> 9) % 24, (seed >> 14) % 60, (seed >> 20) % 60
    lines = [
        "  <page>",
        f"    <title>{_xml(page.title)}</title>",
        f"    <ns>{page.namespace}</ns>",
        f"    <id>{page.page_id}</id>",
    ]
    if page.redirect_to is not None:
        lines.append(f'    <redirect title="{_xml(page.redirect_to)}" />')
    lines += ["    <revision>", f"      <id>{rev}</id>"]
    if seed % 7:
        lines.append(f"      <parentid>{rev - 1 - seed % 9973}</parentid>")
    lines.append(
        f"      <timestamp>2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z</timestamp>"
    )
    if seed % 5 == 0:
        lines += ["      <contributor>", f"        <ip>192.0.2.{seed % 250 + 1}</ip>", "      </contributor>"]
    else:
        user, user_id = _EDITORS[seed % len(_EDITORS)]
        lines += [
            "      <contributor>",
            f"        <username>{user}</username>",
            f"        <id>{user_id}</id>",
            "      </contributor>",
        ]
    if seed % 3 == 0:
        lines.append("      <minor />")
    comment = _COMMENTS[(seed >> 3) % len(_COMMENTS)]
    if comment:
        lines.append(f"      <comment>{_xml(comment)}</comment>")
    lines += [
        f"      <origin>{rev}</origin>",
        "      <model>wikitext</model>",
        "      <format>text/x-wiki</format>",
        f'      <text bytes="{len(text)}" sha1="{sha1}" xml:space="preserve">{_xml(page.wikitext)}</text>',
        f"      <sha1>{sha1}</sha1>",
        "    </revision>",
        "  </page>",
    ]
    return "\n".join(lines) + "\n"


def _chunks(pages: Iterable[SamplePage], size: int) -> Iterator[list[SamplePage]]:
    chunk: list[SamplePage] = []
    for page in pages:
        chunk.append(page)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def multistream(lang: str, pages: Iterable[SamplePage], stream_pages: int) -> tuple[bytes, bytes, int]:
    """The articles dump and its index (both bz2), and the number of pages."""
    streams = [bz2.compress(siteinfo_xml(lang).encode("utf-8"), 9)]
    offset = len(streams[0])
    index_lines: list[str] = []
    count = 0
    for chunk in _chunks(pages, stream_pages):
        data = bz2.compress("".join(page_xml(lang, p) for p in chunk).encode("utf-8"), 9)
        index_lines += [f"{offset}:{p.page_id}:{p.title}\n" for p in chunk]
        streams.append(data)
        offset += len(data)
        count += len(chunk)
    streams.append(bz2.compress(b"</mediawiki>\n", 9))
    return b"".join(streams), bz2.compress("".join(index_lines).encode("utf-8"), 9), count


# ---- MySQL dumps -----------------------------------------------------------------------------------

_SQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\0": "\\0", "\x1a": "\\Z"}
_SQL_SPECIAL = re.compile("[\\\\'\"\n\r\0\x1a]")
SqlValue = int | float | str | None


def sql_literal(value: SqlValue) -> str:
    """A value as mysqldump writes it."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + _SQL_SPECIAL.sub(lambda m: _SQL_ESCAPES[m.group(0)], value) + "'"


def mysql_dump(
    database: str, table: str, create: str, rows: Sequence[tuple[SqlValue, ...]], date: str
) -> bytes:
    """A mysqldump file with several rows per INSERT statement, gzip-compressed deterministically."""
    done = f"{date[:4]}-{date[4:6]}-{date[6:]} 21:14:09"
    head = f"""-- MySQL dump 10.19  Distrib 10.11.11-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: db1207.eqiad.wmnet    Database: {database}
-- ------------------------------------------------------
-- Server version\t10.11.11-MariaDB-log

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `{table}`
--

DROP TABLE IF EXISTS `{table}`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
{create.strip()}
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `{table}`
--

/*!40000 ALTER TABLE `{table}` DISABLE KEYS */;
"""
    tail = f"""/*!40000 ALTER TABLE `{table}` ENABLE KEYS */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on {done}
"""
    # mysqldump starts a new INSERT when a statement would pass its buffer size; a small buffer
    # gives the sample several statements of many rows each.
    statements: list[str] = []
    current: list[str] = []
    size = 0
    for row in rows:
        tuple_text = "(" + ",".join(sql_literal(v) for v in row) + ")"
        if current and size + len(tuple_text) > 1024:
            statements.append(f"INSERT INTO `{table}` VALUES " + ",".join(current) + ";\n")
            current, size = [], 0
        current.append(tuple_text)
        size += len(tuple_text) + 1
    if current:
        statements.append(f"INSERT INTO `{table}` VALUES " + ",".join(current) + ";\n")
    return gzip.compress((head + "".join(statements) + tail).encode("utf-8"), compresslevel=9, mtime=0)


PAGE_PROPS_CREATE = """CREATE TABLE `page_props` (
  `pp_page` int(10) unsigned NOT NULL,
  `pp_propname` varbinary(60) NOT NULL,
  `pp_value` mediumblob NOT NULL,
  `pp_sortkey` float DEFAULT NULL,
  PRIMARY KEY (`pp_page`,`pp_propname`),
  UNIQUE KEY `pp_propname_page` (`pp_propname`,`pp_page`),
  UNIQUE KEY `pp_propname_sortkey_page` (`pp_propname`,`pp_sortkey`,`pp_page`)
) ENGINE=InnoDB DEFAULT CHARSET=binary ROW_FORMAT=COMPRESSED;"""

SITE_STATS_CREATE = """CREATE TABLE `site_stats` (
  `ss_row_id` int(10) unsigned NOT NULL,
  `ss_total_edits` bigint(20) unsigned DEFAULT NULL,
  `ss_good_articles` bigint(20) unsigned DEFAULT NULL,
  `ss_total_pages` bigint(20) unsigned DEFAULT NULL,
  `ss_users` bigint(20) unsigned DEFAULT NULL,
  `ss_active_users` bigint(20) unsigned DEFAULT NULL,
  `ss_images` bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (`ss_row_id`)
) ENGINE=InnoDB DEFAULT CHARSET=binary;"""

ITEMS_PER_SITE_CREATE = """CREATE TABLE `wb_items_per_site` (
  `ips_row_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `ips_item_id` int(10) unsigned NOT NULL,
  `ips_site_id` varbinary(32) NOT NULL,
  `ips_site_page` varbinary(310) NOT NULL,
  PRIMARY KEY (`ips_row_id`),
  UNIQUE KEY `wb_ips_item_site_page` (`ips_site_id`,`ips_site_page`),
  KEY `wb_ips_item_id` (`ips_item_id`),
  KEY `wb_ips_site_page` (`ips_site_page`)
) ENGINE=InnoDB DEFAULT CHARSET=binary;"""


def page_props_rows(pages: Iterable[SamplePage]) -> list[tuple[SqlValue, ...]]:
    """(pp_page, pp_propname, pp_value, pp_sortkey) rows, in primary key order."""
    rows: list[tuple[SqlValue, ...]] = []
    for page in pages:
        props: list[tuple[str, str, SqlValue]] = []
        if page.qid is not None:
            props.append(("wikibase_item", page.qid, None))
        if page.is_disambiguation:
            props.append(("disambiguation", "", None))
        if page.shortdesc is not None:
            props.append(("wikibase-shortdesc", page.shortdesc, None))
        if page.image is not None:
            props.append(("page_image_free", page.image.replace(" ", "_"), None))
        entity = ENTITY_BY_QID.get(page.qid or "")
        if entity is not None and entity.kind == "city":
            props.append(("kartographer_links", "1", 1))
        if page.title in ("Berlin", "Paris") and page.qid is not None:
            props.append(("wikibase-badge-Q17437796", "1", None))
        rows += [(page.page_id, name, value, sortkey) for name, value, sortkey in sorted(props)]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


# ---- Wikidata --------------------------------------------------------------------------------------

_CLASS_LABELS = {
    "Q6256": "country", "Q515": "city", "Q4022": "river", "Q5": "human", "Q11862829": "academic discipline",
    "Q484652": "international organization", "Q634": "planet", "Q11344": "chemical element",
    "Q17487696": "pictogram", "Q11424": "film", "Q42889": "vehicle", "Q4830453": "business",
    "Q132241": "festival", "Q185867": "chronicle", "Q4167410": "Wikimedia disambiguation page",
    "Q4167836": "Wikimedia category",
}  # fmt: skip
# Sitelinks to other projects and other languages, which a consumer of the sample must ignore.
_OTHER_SITELINKS: dict[str, dict[str, str]] = {
    "Q64": {
        "commonswiki": "Category:Berlin",
        "dewikivoyage": "Berlin",
        "enwikiquote": "Berlin",
        "itwiki": "Berlino",
    },
    "Q90": {"commonswiki": "Category:Paris", "itwiki": "Parigi"},
    "Q937": {"enwikiquote": "Albert Einstein", "commonswiki": "Category:Albert Einstein"},
    "Q7186": {"specieswiki": "Marie Curie", "enwikiquote": "Marie Curie"},
    "Q3392": {"commonswiki": "Category:Nile River"},
}


def _items(scale: int) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(qid, class qid, labels, sitelinks) of every item in the JSON dump."""
    items = []
    for entity in ENTITIES:
        sitelinks = {wiki_name(lang): title for lang, title in entity.titles.items()}
        sitelinks.update(_OTHER_SITELINKS.get(entity.qid, {}))
        labels = {lang: label_of(title, lang) for lang, title in entity.titles.items()}
        items.append((entity.qid, entity.instance_of, labels, sitelinks))
    items.append(
        (
            DISAMBIGUATION_QID,
            "Q4167410",
            {"en": "Mercury"},
            {wiki_name(lang): title for lang, title in DISAMBIGUATION_TITLES.items()},
        )
    )
    items.append(
        (
            CATEGORY_QID,
            "Q4167836",
            {"en": "Category:Capitals in Europe"},
            {"enwiki": "Category:Capitals in Europe"},
        )
    )
    for class_qid, label in _CLASS_LABELS.items():
        items.append((class_qid, "Q16889133", {"en": label}, {}))  # classes: items without sitelinks
    if scale > 1:
        generated = {lang: set(generated_qids(lang)) for lang in SAMPLE_LANGS}
        for k in range(2, scale + 1):
            for entity in ENTITIES:
                titles = {
                    lang: copy_title(title, k)
                    for lang, title in entity.titles.items()
                    if entity.qid in generated[lang]
                }
                if titles:
                    labels = {lang: label_of(entity.titles[lang], lang) for lang in titles}
                    sitelinks = {wiki_name(lang): title for lang, title in titles.items()}
                    items.append((copy_qid(entity.qid, k), entity.instance_of, labels, sitelinks))
    items.sort(key=lambda item: int(item[0][1:]))
    return items


def _entity_json(qid: str, class_qid: str, labels: dict[str, str], sitelinks: dict[str, str]) -> dict:
    number = int(qid[1:])
    seed = _stable(qid)
    claim = {
        "mainsnak": {
            "snaktype": "value",
            "property": "P31",
            "datavalue": {
                "value": {"entity-type": "item", "numeric-id": int(class_qid[1:]), "id": class_qid},
                "type": "wikibase-entityid",
            },
            "datatype": "wikibase-item",
        },
        "type": "statement",
        "id": f"{qid}${seed:08X}-0000-4000-8000-{number:012d}",
        "rank": "normal",
    }
    return {
        "type": "item",
        "id": qid,
        "labels": {lang: {"language": lang, "value": value} for lang, value in sorted(labels.items())},
        "descriptions": {},
        "aliases": {},
        "claims": {"P31": [claim]},
        "sitelinks": {
            site: {
                "site": site,
                "title": title,
                "badges": ["Q17437796"] if site == "enwiki" and qid == "Q64" else [],
            }
            for site, title in sorted(sitelinks.items())
        },
        "pageid": 100 + number,
        "ns": 0,
        "title": qid,
        "lastrevid": 2_400_000_000 + seed % 10_000_000,
        "modified": f"2026-10-{1 + seed % 28:02d}T{seed % 24:02d}:{(seed >> 5) % 60:02d}:{(seed >> 11) % 60:02d}Z",
    }


_PROPERTY_P31 = {
    "type": "property",
    "datatype": "wikibase-item",
    "id": "P31",
    "labels": {
        "en": {"language": "en", "value": "instance of"},
        "de": {"language": "de", "value": "ist ein(e)"},
    },
    "descriptions": {
        "en": {"language": "en", "value": "that class of which this subject is a particular example"}
    },
    "aliases": {"en": [{"language": "en", "value": "is a"}]},
    "claims": {},
    "pageid": 3918489,
    "ns": 120,
    "title": "Property:P31",
    "lastrevid": 2_399_123_456,
    "modified": "2026-10-02T08:15:00Z",
}


def wikidata_json_dump(scale: int) -> bytes:
    """The ``all.json.bz2`` entity dump: ``[``, one entity per line ending with ``,``, ``]``."""
    entities = [_entity_json(*item) for item in _items(scale)]
    entities.insert(1, _PROPERTY_P31)
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entities]
    text = "[\n" + ",\n".join(lines) + "\n]\n"
    return bz2.compress(text.encode("utf-8"), 9)


def items_per_site_rows(scale: int) -> list[tuple[SqlValue, ...]]:
    rows: list[tuple[SqlValue, ...]] = []
    for qid, _, _, sitelinks in _items(scale):
        for site, title in sorted(sitelinks.items()):
            rows.append((len(rows) + 1, int(qid[1:]), site, title))
    return rows


# ---- files -----------------------------------------------------------------------------------------


def _write(path: str, data: bytes, written: list[str]) -> None:
    # Imported here: Beam's filesystems are slow to import and only the writer needs them.
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    written.append(path)


def _dump_file(wiki: str, date: str, name: str, data: bytes) -> DumpFile:
    return DumpFile(
        name=name,
        size=len(data),
        url=f"/{wiki}/{date}/{name}",
        md5=hashlib.md5(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
    )


def _write_dump_dir(
    directory: str, wiki: str, date: str, files: dict[str, tuple[str, bytes]], extra_jobs: dict[str, str]
) -> list[str]:
    """Write files (name -> (job, bytes)), the dumpstatus.json and md5sums of one dump directory."""
    written: list[str] = []
    jobs: dict[str, list[DumpFile]] = {}
    for name, (job, data) in sorted(files.items()):
        _write(f"{directory}/{name}", data, written)
        jobs.setdefault(job, []).append(_dump_file(wiki, date, name, data))
    status = {name: DumpJob(name=name, status="done", files=tuple(f)) for name, f in jobs.items()}
    status.update({name: DumpJob(name=name, status=state) for name, state in extra_jobs.items()})
    _write(f"{directory}/{DUMPSTATUS}", dumpstatus_to_json(status).encode("utf-8"), written)
    md5sums = "".join(
        f"{hashlib.md5(data).hexdigest()}  {name}\n" for name, (_, data) in sorted(files.items())
    )
    _write(f"{directory}/{wiki}-{date}-md5sums.txt", md5sums.encode("utf-8"), written)
    return written


def write_language(root: str, lang: str, date: str = SAMPLE_DATE, scale: int = 1) -> list[str]:
    """Write one language's dump directory; returns the written paths."""
    wiki = wiki_name(lang)
    pages = list(iter_pages(lang, scale))
    stream_pages = SAMPLE_STREAM_PAGES if scale == 1 else STREAM_PAGES
    articles, index, _ = multistream(lang, pages, stream_pages)
    props = mysql_dump(wiki, "page_props", PAGE_PROPS_CREATE, page_props_rows(pages), date)
    articles_count = sum(1 for p in pages if p.namespace == 0 and p.redirect_to is None)
    stats_row = (1, len(pages) * 7 + 11, articles_count, len(pages), 5, 2, 3)
    stats = mysql_dump(wiki, "site_stats", SITE_STATS_CREATE, [stats_row], date)
    files = {
        articles_file_name(lang, date): (JOB_ARTICLES_MULTISTREAM, articles),
        index_file_name(lang, date): (JOB_ARTICLES_MULTISTREAM, index),
        page_props_file_name(lang, date): (JOB_PAGE_PROPS, props),
        f"{wiki}-{date}-site_stats.sql.gz": ("sitestatstable", stats),
    }
    return _write_dump_dir(dump_dir(root, lang, date), wiki, date, files, {"metahistorybz2dump": "waiting"})


def write_wikidata(root: str, date: str = SAMPLE_DATE, scale: int = 1) -> list[str]:
    """The Wikidata side: ``wb_items_per_site`` (with dumpstatus.json) and the JSON entity dump."""
    wiki = "wikidatawiki"
    table = mysql_dump(wiki, "wb_items_per_site", ITEMS_PER_SITE_CREATE, items_per_site_rows(scale), date)
    files = {f"{wiki}-{date}-wb_items_per_site.sql.gz": (JOB_ITEMS_PER_SITE, table)}
    written = _write_dump_dir(
        f"{root.rstrip('/')}/{wiki}/{date}", wiki, date, files, {"xmlstubsdumprecombine": "waiting"}
    )
    entities_dir = f"{root.rstrip('/')}/{wiki}/entities/{date}"
    dump = wikidata_json_dump(scale)
    name = f"wikidata-{date}-all.json.bz2"
    _write(f"{entities_dir}/{name}", dump, written)
    _write(
        f"{entities_dir}/wikidata-{date}-md5sums.txt",
        f"{hashlib.md5(dump).hexdigest()}  {name}\n".encode(),
        written,
    )
    return written


def write_sample_mirror(
    root: str, langs: Sequence[str] | None = None, date: str = SAMPLE_DATE, scale: int = 1
) -> list[str]:
    """Write the sample mirror tree under ``root`` (a local path or any Beam filesystem URL).

    ``scale > 1`` adds copies 2..scale of every generated article (titles ``"Title (k)"``, fresh
    page ids and Q-ids, links between copies of the same k) for benchmarks. Returns the written paths.
    """
    selected = list(SAMPLE_LANGS if langs is None else langs)
    unknown = [lang for lang in selected if lang not in SAMPLE_LANGS]
    if unknown:
        raise ValueError(f"the sample has no language {unknown[0]!r}; it has {', '.join(SAMPLE_LANGS)}")
    if not re.fullmatch(r"\d{8}", date):
        raise ValueError(f"dump date must be YYYYMMDD, got {date!r}")
    if scale < 1:
        raise ValueError("scale must be >= 1")
    written: list[str] = []
    for lang in dict.fromkeys(selected):
        written += write_language(root, lang, date, scale)
    written += write_wikidata(root, date, scale)
    return written
