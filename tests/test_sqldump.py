"""The streaming MySQL dump reader on nasty rows, chunk boundaries and real-looking files."""

from __future__ import annotations

import bz2
import gzip
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transforms.sqldump import (
    SqlParseError,
    iter_items_per_site,
    iter_page_props_items,
    iter_sql_rows,
    normalize_qid,
    open_decompressed,
    parse_row,
    site_map,
)

HEADER = b"""-- MySQL dump 10.19  Distrib 10.6.16-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: db1234    Database: enwiki
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES binary */;
DROP TABLE IF EXISTS `page_props`;
CREATE TABLE `page_props` (
  `pp_page` int(10) unsigned NOT NULL,
  `pp_propname` varbinary(60) NOT NULL,
  `pp_value` blob NOT NULL,
  `pp_sortkey` float DEFAULT NULL,
  PRIMARY KEY (`pp_page`,`pp_propname`)
) ENGINE=InnoDB DEFAULT CHARSET=binary;
/*!40000 ALTER TABLE `page_props` DISABLE KEYS */;
"""

TRAILER = b"""/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;

-- Dump completed on 2026-11-01 20:18:49
"""

# Rows a real page_props dump contains, escaped as mysqldump escapes them.
NASTY = (
    rb"(1,'wikibase_item','Q42',NULL),"
    + rb"(2,'displaytitle','<i>It\'s</i> \\ a \"title\"',NULL),"
    + rb"(3,'defaultsort','O\'Brien, Flann\n(writer)',NULL),"
    + "(4,'page_image_free','Tokyo_(東京)_skyline,_2019.jpg',NULL),".encode()
    + "(5,'wikibase-shortdesc','emoji 😀 and a tab".encode()
    + rb"\there',NULL),"
    + rb"(6,'notoc','',NULL),"
    rb"(7,'wikibase_item','Q1',-1.5e+3),"
    rb"(8,'kartographer_links','0',1),"
    rb"(9,'unexpectedUnconnectedPage','-0',-0),"
    rb"(10,'weird','back\\slash at end\\',NULL),"
    rb"(11,'nul','a\0b\Zc',NULL),"
    rb"(12,'wikibase_item','q7',NULL),"
    rb"(13,'binary',_binary 'bin\'ary',NULL),"
    rb"(14,'hex',0x48C3A9,NULL)"
)
EXPECTED = [
    (1, "wikibase_item", "Q42", None),
    (2, "displaytitle", '<i>It\'s</i> \\ a "title"', None),
    (3, "defaultsort", "O'Brien, Flann\n(writer)", None),
    (4, "page_image_free", "Tokyo_(東京)_skyline,_2019.jpg", None),
    (5, "wikibase-shortdesc", "emoji \U0001f600 and a tab\there", None),
    (6, "notoc", "", None),
    (7, "wikibase_item", "Q1", -1500.0),
    (8, "kartographer_links", "0", 1),
    (9, "unexpectedUnconnectedPage", "-0", 0),
    (10, "weird", "back\\slash at end\\", None),
    (11, "nul", "a\x00b\x1ac", None),
    (12, "wikibase_item", "q7", None),
    (13, "binary", "bin'ary", None),
    (14, "hex", "Hé", None),
]


def dump(*statements: bytes) -> bytes:
    body = b"".join(b"INSERT INTO `page_props` VALUES " + s + b";\n" for s in statements)
    return HEADER + body + b"/*!40000 ALTER TABLE `page_props` ENABLE KEYS */;\n" + TRAILER


def test_parse_row_values() -> None:
    assert parse_row(rb"(1,'a\'b',NULL,2.5,-3)") == (1, "a'b", None, 2.5, -3)
    assert parse_row(b"( 1 , 'x,y' , NULL )") == (1, "x,y", None)
    assert parse_row(b"(1,'it''s')") == (1, "it's")  # SQL-standard doubled quote
    assert parse_row(b"(1,'(not) a, row')") == (1, "(not) a, row")


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 20])
def test_nasty_rows_at_every_chunk_size(chunk_size: int) -> None:
    data = dump(NASTY)
    assert list(iter_sql_rows(io.BytesIO(data), chunk_size=chunk_size)) == EXPECTED


def test_multi_byte_character_split_by_a_chunk_boundary() -> None:
    row = "(1,'wikibase_item','Q1',NULL),(2,'displaytitle','ベルリン 🐻 Berlín',NULL)".encode()
    data = dump(row)
    split_at = data.index("🐻".encode()) + 2  # in the middle of the 4-byte emoji
    for size in (split_at, split_at - 1, split_at + 1):
        rows = list(iter_sql_rows(io.BytesIO(data), chunk_size=size))
        assert rows[1][2] == "ベルリン 🐻 Berlín"


def test_megabyte_long_line_is_read_incrementally() -> None:
    rows = [f"({i},'wikibase_item','Q{i}',NULL)".encode() for i in range(1, 60001)]
    rows.insert(30000, rb"(0,'displaytitle','" + b"x\\'" * 200000 + rb"',NULL)")  # a 600 kB value
    data = dump(b",".join(rows))
    assert len(data) > 1_500_000
    reads: list[int] = []

    class Tracking(io.BytesIO):
        def read(self, size: int = -1, /) -> bytes:
            chunk = super().read(size)
            reads.append(len(chunk))
            return chunk

    items = list(iter_page_props_items(Tracking(data), chunk_size=65536))
    assert len(items) == 60000
    assert items[0] == (1, "Q1") and items[-1] == (60000, "Q60000")
    assert max(reads) <= 65536  # never asked for the whole line


def test_several_statements_other_tables_and_column_lists() -> None:
    data = (
        HEADER
        + b"INSERT INTO `page_props` VALUES (1,'wikibase_item','Q1',NULL),(2,'wikibase_item','Q2',NULL);\n"
        + b"INSERT INTO `other_table` VALUES (3,'wikibase_item','Q3',NULL);\n"
        + b"INSERT INTO `page_props` (`pp_page`,`pp_propname`,`pp_value`,`pp_sortkey`) VALUES\n"
        + b"(4,'wikibase_item','Q4',NULL),\n(5,'wikibase_item','Q5',NULL);\n"
        + TRAILER
    )
    assert list(iter_page_props_items(io.BytesIO(data), chunk_size=5)) == [
        (1, "Q1"),
        (2, "Q2"),
        (4, "Q4"),
        (5, "Q5"),
    ]
    assert len(list(iter_sql_rows(io.BytesIO(data)))) == 5  # no table filter: every row


def test_page_props_items_skip_other_props_and_bad_values() -> None:
    data = dump(
        NASTY, rb"(15,'wikibase_item','P31',NULL),(16,'wikibase_item','',NULL),(17,'wikibase_item','Q0',NULL)"
    )
    assert list(iter_page_props_items(io.BytesIO(data))) == [(1, "Q42"), (7, "Q1"), (12, "Q7")]


def test_empty_dump_and_dump_without_rows() -> None:
    assert list(iter_sql_rows(io.BytesIO(b""))) == []
    assert list(iter_sql_rows(io.BytesIO(HEADER + TRAILER))) == []
    assert list(iter_sql_rows(io.BytesIO(b"INSERT INTO `t` VALUES (1);\n"))) == [(1,)]  # no header


def test_truncated_and_malformed_dumps() -> None:
    data = dump(NASTY)
    cut = data[: data.index(b"(13,") + 8]  # inside a string of the last-but-one row
    with pytest.raises(SqlParseError, match="truncated"):
        list(iter_sql_rows(io.BytesIO(cut), chunk_size=16))
    # cut right after a complete row, or between statements: the cut is found, not ignored
    after_row = data[: data.index(b",(8,")]
    with pytest.raises(SqlParseError, match="ends inside an INSERT statement"):
        list(iter_sql_rows(io.BytesIO(after_row)))
    with pytest.raises(SqlParseError, match="cut off"):
        list(iter_sql_rows(io.BytesIO(data[: data.index(b"/*!40000 ALTER TABLE `page_props` ENABLE")])))
    with pytest.raises(SqlParseError, match="expected ',' or ';'"):
        list(iter_sql_rows(io.BytesIO(HEADER + b"INSERT INTO `page_props` VALUES (1,'a') (2,'b');\n")))
    with pytest.raises(SqlParseError, match="oversized"):
        list(iter_sql_rows(io.BytesIO(dump(b"(1,'" + b"a" * 5000)), chunk_size=100, max_row_bytes=1000))


def test_items_per_site_filters_sites() -> None:
    data = (
        b"INSERT INTO `wb_items_per_site` VALUES (1,64,'enwiki','Berlin'),(2,64,'dewiki','Berlin'),"
        b"(3,64,'commonswiki','Category:Berlin'),(4,64,'enwikivoyage','Berlin'),"
        b"(5,1490,'jawiki','\xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd'),(6,11,'enwiki','Star Wars: Episode IV \\u2013'),"
        b"(7,0,'enwiki','Zero'),(8,5,'zh_yuewiki','\xe4\xba\xba');\n"
    )
    sites = site_map(["en", "ja", "zh-yue"])
    assert sites == {"enwiki": "en", "jawiki": "ja", "zh_yuewiki": "zh-yue"}
    rows = list(iter_items_per_site(io.BytesIO(data), sites, chunk_size=9))
    assert rows == [
        ("enwiki", "Berlin", "Q64"),
        ("jawiki", "東京都", "Q1490"),
        ("enwiki", "Star Wars: Episode IV u2013", "Q11"),
        ("zh_yuewiki", "人", "Q5"),
    ]
    assert len(list(iter_items_per_site(io.BytesIO(data)))) == 7  # all sites; item 0 is invalid
    assert list(iter_items_per_site(io.BytesIO(data), [])) == []


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lambda data: data])
def test_open_decompressed_sniffs_the_format(compress: object) -> None:
    data = dump(NASTY)
    stream = open_decompressed(io.BytesIO(compress(data)))  # type: ignore[operator]
    assert list(iter_sql_rows(stream, chunk_size=1000)) == EXPECTED


def test_normalize_qid() -> None:
    assert normalize_qid("Q42") == "Q42"
    assert normalize_qid(" q42 ") == "Q42"
    assert normalize_qid(42) == "Q42"
    for bad in ("P31", "", "Q", "Q0", "Q01", "L5-S1", None, 0, True, 4.2):
        assert normalize_qid(bad) is None
