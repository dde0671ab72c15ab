"""Reading dumps in the shapes (and states) real files come in."""

from __future__ import annotations

import bz2
import gzip
import time

import pytest
from dumpfactory import Page, export_xml, write_multistream

from transforms.dumpreader import read_whole_file
from transforms.isolation import IsolatedCallError, IsolatedFunction
from transforms.multistream import WorkItem, plan_multistream, read_multistream_item
from transforms.page_xml import RawPage, ReadProblem

PAGES = [Page(f"Page {i}", i + 1, f"Text of page {i} with [[Link {i}]].") for i in range(30)]


def read_all(path):
    entries = list(read_whole_file(str(path)))
    siteinfo = [e for e in entries if isinstance(e, dict)]
    pages = [e for e in entries if isinstance(e, RawPage)]
    problems = [e for e in entries if isinstance(e, ReadProblem)]
    return siteinfo, pages, problems


@pytest.mark.parametrize("version", ["0.3", "0.4", "0.5", "0.6", "0.8", "0.10", "0.11"])
def test_export_schema_versions(tmp_path, version):
    pages = [Page("Berlin", 1, "City."), Page("Capital", 2, "#REDIRECT [[Berlin]]", redirect="Berlin")]
    path = tmp_path / "enwiki-pages.xml"
    path.write_text(export_xml(pages, version=version), encoding="utf-8")
    siteinfo, read, problems = read_all(path)
    assert problems == []
    assert siteinfo[0]["dbname"] == "enwiki"
    assert [(p.title, p.page_id, p.text) for p in read] == [
        ("Berlin", 1, "City."),
        ("Capital", 2, "#REDIRECT [[Berlin]]"),
    ]
    has_ns = version not in ("0.3", "0.4", "0.5")
    assert read[0].namespace == (0 if has_ns else None)


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "dewiki.xml"
    xml = export_xml([Page("Straße", 7, "Über 😀 [[Köln]]")], dbname="dewiki").replace(
        "<mediawiki", '<?xml version="1.0" encoding="UTF-16"?>\n<mediawiki', 1
    )
    path.write_bytes(xml.encode("utf-16"))
    _, pages, problems = read_all(path)
    assert problems == []
    assert pages[0].title == "Straße" and pages[0].text == "Über 😀 [[Köln]]"


def test_truncated_bz2_keeps_complete_pages(tmp_path):
    # bz2 decodes whole blocks only: use 100 kB blocks and enough pages for several of them.
    many = [Page(f"Page {i}", i + 1, f"Text {i} " + "lorem ipsum " * (i % 40)) for i in range(3000)]
    data = bz2.compress(export_xml(many).encode(), compresslevel=1)
    path = tmp_path / "enwiki-cut.xml.bz2"
    path.write_bytes(data[: len(data) * 2 // 3])
    _, pages, problems = read_all(path)
    assert 0 < len(pages) < len(many)
    assert [p.page_id for p in pages] == list(range(1, len(pages) + 1))
    assert [p.reason for p in problems] == ["truncated_file"]


def test_truncated_plain_xml_reports_truncation(tmp_path):
    xml = export_xml(PAGES)
    path = tmp_path / "enwiki-cut.xml"
    path.write_text(xml[: len(xml) // 2], encoding="utf-8")
    _, pages, problems = read_all(path)
    assert 0 < len(pages) < len(PAGES)
    assert [p.reason for p in problems] == ["truncated_file"]


def test_broken_xml_in_the_middle(tmp_path):
    xml = export_xml(PAGES).replace("<title>Page 10</title>", "<title>Page 10</titel>")
    path = tmp_path / "enwiki-broken.xml.gz"
    path.write_bytes(gzip.compress(xml.encode(), mtime=0))
    _, pages, problems = read_all(path)
    # The broken page costs itself only: reading goes on at the next <page>.
    assert [p.page_id for p in pages] == [p.page_id for p in PAGES if p.page_id != 11]
    assert [(p.reason, p.pages_lost, p.page_id) for p in problems] == [("bad_page_xml", 1, 11)]


def test_concatenated_bz2_streams_without_index(tmp_path):
    path, index = tmp_path / "enwiki-x.xml.bz2", tmp_path / "index.txt.bz2"
    write_multistream(str(path), str(index), PAGES, per_stream=4)
    _, pages, problems = read_all(path)
    assert problems == [] and len(pages) == len(PAGES)


def test_empty_file(tmp_path):
    path = tmp_path / "enwiki-empty.xml"
    path.write_bytes(b"")
    _, pages, problems = read_all(path)
    assert pages == [] and [p.reason for p in problems] == ["empty_file"]


def test_missing_siteinfo(tmp_path):
    path = tmp_path / "dewiki.xml"
    path.write_text(export_xml([Page("Kategorie:Stadt", 1, "x")], siteinfo=False, version="0.5"), "utf-8")
    siteinfo, pages, problems = read_all(path)
    assert siteinfo == [] and problems == [] and pages[0].namespace is None


def test_entities_are_not_expanded(tmp_path):
    lol = (
        '<?xml version="1.0"?>\n<!DOCTYPE mediawiki [\n <!ENTITY a "aaaaaaaaaa">\n'
        + "".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(8))
        + ' <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    )
    body = export_xml([Page("Bomb", 1, "placeholder")]).replace("placeholder", "&i; &xxe;")
    path = tmp_path / "enwiki-bomb.xml"
    path.write_text(lol + body, encoding="utf-8")
    started = time.monotonic()
    _, pages, _ = read_all(path)
    assert time.monotonic() - started < 10
    for page in pages:
        assert "root:" not in (page.text or "")
        assert len(page.text or "") < 1000


def test_multistream_plan_and_damaged_stream(tmp_path):
    path, index = tmp_path / "a.xml.bz2", tmp_path / "a-index.txt.bz2"
    offsets = write_multistream(str(path), str(index), PAGES, per_stream=5)
    items = plan_multistream("en", str(path), str(index), work_item_bytes=1)
    assert [item.stream_offsets[0] for item in items] == offsets
    assert items[0].siteinfo["dbname"] == "enwiki"
    assert all(item.shards == len(offsets) for item in items)
    everything = [entry for item in items for entry in read_multistream_item(item)]
    assert [p.page_id for p in everything] == [p.page_id for p in PAGES]

    # Damage the second stream: its 5 pages are lost and counted, the rest survive.
    data = bytearray(path.read_bytes())
    data[offsets[1] + 20 : offsets[1] + 40] = b"\0" * 20
    path.write_bytes(bytes(data))
    entries = [entry for item in items for entry in read_multistream_item(item)]
    problems = [e for e in entries if isinstance(e, ReadProblem)]
    assert [(p.reason, p.pages_lost) for p in problems] == [("corrupt_stream", 5)]
    assert len([e for e in entries if isinstance(e, RawPage)]) == 25


def test_bad_page_xml_costs_one_page(tmp_path):
    path, index = tmp_path / "a.xml.bz2", tmp_path / "a-index.txt.bz2"
    pages = [*PAGES[:3], Page("Bad <title", 99, "x"), *PAGES[3:6]]
    write_multistream(str(path), str(index), pages, per_stream=10)
    # Make page 99 malformed inside the stream.
    (item,) = plan_multistream("en", str(path), str(index), work_item_bytes=1 << 20)
    raw = bz2.decompress(path.read_bytes()[item.stream_offsets[0] : item.end])
    broken = raw.replace(b"<id>99</id>", b"<id>99</id><oops>")
    rebuilt = path.read_bytes()[: item.stream_offsets[0]] + bz2.compress(
        broken.replace(b"</mediawiki>\n", b"")
    )
    path.write_bytes(rebuilt + bz2.compress(b"</mediawiki>\n"))
    item = WorkItem("en", str(path), 0, 1, (item.stream_offsets[0],), len(rebuilt), (7,), item.siteinfo)
    entries = list(read_multistream_item(item))
    problems = [e for e in entries if isinstance(e, ReadProblem)]
    assert [(p.reason, p.page_id) for p in problems] == [("bad_page_xml", 99)]
    assert len([e for e in entries if isinstance(e, RawPage)]) == 6


class _SlowToStart:
    """len(), in a child that takes 5 s to start (unpickling it sleeps)."""

    def __init__(self) -> None:
        self.delay_s = 5.0

    def __setstate__(self, state: dict) -> None:
        time.sleep(state["delay_s"])
        self.__dict__.update(state)

    def __call__(self, text: str) -> int:
        return len(text)


def _sleep_forever(_: str) -> str:
    while True:
        time.sleep(1)


def _allocate(_: str) -> int:
    return len(bytearray(3 * 1024**3))


def _recurse(n: int) -> int:
    return _recurse(n + 1)


def test_isolation_guards_timeout_memory_and_recursion():
    guarded = IsolatedFunction(_sleep_forever, timeout_s=1.0)
    with pytest.raises(IsolatedCallError) as error:
        guarded("x")
    assert error.value.kind == "timeout"
    guarded.close()
    capped = IsolatedFunction(_allocate, timeout_s=30, memory_bytes=1024**3)
    with pytest.raises(IsolatedCallError) as error:
        capped("x")
    assert error.value.kind == "MemoryError"
    capped.close()
    deep = IsolatedFunction(_recurse, timeout_s=30)
    with pytest.raises(IsolatedCallError) as error:
        deep(0)
    assert error.value.kind == "RecursionError"
    # The child survives failures and keeps serving.
    ok = IsolatedFunction(len, timeout_s=30)
    assert ok("abc") == 3
    ok.close()
    deep.close()


def test_isolation_timeout_does_not_count_the_child_start():
    # A child that needs longer to start than the call timeout still serves its first call.
    # The call limit is half the start time and still ample for len() on a loaded machine.
    slow_start = IsolatedFunction(_SlowToStart(), timeout_s=2.5, startup_timeout_s=300)
    try:
        assert slow_start("abcd") == 4
        assert slow_start("ab") == 2
    finally:
        slow_start.close()
    # A start that takes longer than its own limit is reported as such.
    with pytest.raises(IsolatedCallError, match=r"did not start within 0\.5 s"):
        IsolatedFunction(_SlowToStart(), timeout_s=30, startup_timeout_s=0.5)("x")


def _fake_batch_parser(texts: list[str], lang: str, siteinfo: object) -> list[tuple]:
    if "HANG" in texts:
        _sleep_forever("x")
    return [("ok", text.upper()) for text in texts]


def test_a_batch_that_hangs_is_parsed_again_page_by_page():
    from transforms.extract import ExtractSettings, PageParser
    from transforms.titles import SiteInfo

    parser = PageParser(ExtractSettings(isolation="none"))
    # The stub hangs for good, so the limit only has to exceed a quick call on a loaded machine
    # (restarts of the child after each timeout are outside it).
    parser._isolated = IsolatedFunction(_fake_batch_parser, timeout_s=3.0)
    try:
        results = parser.parse(["a", "HANG", "b"], "en", None, SiteInfo.build("en"))
    finally:
        parser.close()
    assert results[0] == ("ok", "A") and results[2] == ("ok", "B")
    assert results[1][:2] == ("error", "timeout")
