"""Extract-stage throughput on one core, against the parser floor and wikipedia2vec.

    .venv/bin/python benchmarks/extract.py [--dump PATH.xml.bz2] [--scale 40] [--wikipedia2vec EXE]

Builds (or takes) a multistream dump and measures, in the same run on one core:
  1. our extract DoFn path (read work items, classify, parse with the rules) in-process,
  2. the same path with the default process isolation of the parser,
  3. the mwparserfromhell parse-only floor on the same article texts,
  4. `wikipedia2vec build-dump-db --pool-size 1` on the same file (when its executable is found),
and prints pages/s, MB/s of wikitext, links and ratios. `--rss` also runs the whole local
pipeline (`mluke-data extract --workers 1`) on the dump and on a dump twice its size and prints
the peak RSS of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mwparserfromhell

from transforms.extract import ExtractSettings, PageParser, extract_work_item
from transforms.multistream import plan_multistream, read_multistream_item
from transforms.page_xml import RawPage, site_from_siteinfo
from transforms.titles import SiteInfo, parse_link_target


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def build_dump(work: Path, scale: int, lang: str) -> tuple[Path, Path]:
    from pipeline.sample import SAMPLE_DATE, write_sample_mirror
    from schemas.dumps import articles_file_name, dump_dir, index_file_name

    root = work / f"mirror-x{scale}"
    folder = Path(dump_dir(str(root), lang, SAMPLE_DATE))
    if not (folder / articles_file_name(lang, SAMPLE_DATE)).exists():
        write_sample_mirror(str(root), langs=[lang], scale=scale)
    return folder / articles_file_name(lang, SAMPLE_DATE), folder / index_file_name(lang, SAMPLE_DATE)


def read_pages(dump: Path, index: Path, lang: str) -> tuple[list[RawPage], dict]:
    items = plan_multistream(lang, str(dump), str(index), work_item_bytes=16 << 20)
    pages = [p for item in items for p in read_multistream_item(item) if isinstance(p, RawPage)]
    return pages, items[0].siteinfo


def our_path(dump: Path, index: Path, lang: str, isolation: str) -> dict:
    """The extract DoFn's path (read work items, classify, parse in batches) minus file writing."""
    settings = ExtractSettings(isolation=isolation)
    items = plan_multistream(lang, str(dump), str(index), work_item_bytes=16 << 20)
    site = site_from_siteinfo(lang, items[0].siteinfo)
    parser = PageParser(settings)
    parser.parse(["warm up"], lang, items[0].siteinfo, site)  # starts the isolated child
    # In-process: CPU time of this process. Isolated: wall time (the work is in the child).
    clock = time.process_time if isolation == "none" else time.perf_counter
    started = clock()
    articles = links = 0
    for item in items:
        for kind, record, _ in extract_work_item(item, settings, parser):
            if kind == "pages" and record is not None:
                articles += 1
                links += sum(len(p["links"]) for p in record["paragraphs"])
    seconds = clock() - started
    parser.close()
    return {"seconds": seconds, "articles": articles, "links": links}


def parse_floor(pages: list[RawPage]) -> dict:
    texts = [p.text for p in pages if p.text and p.namespace == 0 and p.redirect_title is None]
    started = time.process_time()
    for text in texts:
        mwparserfromhell.parse(text)
    return {"seconds": time.process_time() - started, "chars": sum(map(len, texts))}


def wikipedia2vec(executable: str, dump: Path, work: Path, lang: str) -> dict | None:
    out = work / "w2v.db"
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    command = [executable, "build-dump-db", str(dump), str(out), "--pool-size", "1", "--chunk-size", "100"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(result.stderr[-2000:], file=sys.stderr)
        return None
    python = str(Path(executable).parent / "python")
    # wikipedia2vec keeps category and interlanguage links among its wiki links: count its
    # entity links the way we do (main-namespace targets only), with our title classifier.
    count = subprocess.run(
        [
            python,
            "-c",
            "import sys, json; from wikipedia2vec.dump_db import DumpDB; db = DumpDB(sys.argv[1]);"
            "json.dump([[l.title for p in db.get_paragraphs(t) for l in p.wiki_links] for t in db.titles()],"
            " sys.stdout)",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    pages_links = json.loads(count.stdout)
    site = SiteInfo.build(lang)
    links = sum(
        parse_link_target(title, site).kind == "article" for titles in pages_links for title in titles
    )
    all_links = sum(map(len, pages_links))
    articles = len(pages_links)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": cpu, "wall": wall, "links": links, "all_links": all_links, "articles": articles}


def peak_rss_of_pipeline(dump: Path, lang: str, work: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=work))
    exe = Path(sys.executable).parent / "mluke-data"
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(exe), "extract", "--out", str(out), "--workers", "1",
         "--input", f"{lang}={dump}", "--work-item-mb", "0.25", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shutil.rmtree(out)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dump", type=Path, help="a multistream .xml.bz2 (its index next to it)")
    parser.add_argument("--lang", default="en")
    parser.add_argument(
        "--scale", type=int, default=900, help="sample scale when building the dump (900: ~22 MB of wikitext)"
    )
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    parser.add_argument("--wikipedia2vec", default=shutil.which("wikipedia2vec"), help="its executable")
    parser.add_argument("--rss", action="store_true", help="also measure peak RSS at two dump sizes")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    pin_to_one_core()

    if args.dump:
        from schemas.dumps import index_name_for

        dump, index = args.dump, args.dump.parent / index_name_for(args.dump.name)
    else:
        dump, index = build_dump(args.work, args.scale, args.lang)
    pages, _ = read_pages(dump, index, args.lang)
    xml_mb = sum(len(p.text or "") for p in pages) / 1e6
    print(
        f"dump: {dump} ({dump.stat().st_size / 1e6:.1f} MB bz2, {len(pages)} pages, {xml_mb:.1f} M chars of wikitext)"
    )

    floor = parse_floor(pages)
    ours = our_path(dump, index, args.lang, "none")
    guarded = our_path(dump, index, args.lang, "process")
    ours["chars"] = guarded["chars"] = floor["chars"]
    rows = [
        ("ours, in-process", ours),
        ("ours, isolated parser", guarded),
        ("mwparserfromhell parse only", floor),
    ]
    w2v = wikipedia2vec(args.wikipedia2vec, dump, args.work, args.lang) if args.wikipedia2vec else None
    if w2v:
        w2v["chars"] = ours["chars"]
        rows.append(("wikipedia2vec build-dump-db", w2v))
    print(f"\n{'path (1 core)':32} {'seconds':>8} {'pages/s':>9} {'MB/s':>7} {'links':>9}")
    for name, row in rows:
        pages_per_s = ours["articles"] / row["seconds"]
        mb_per_s = row["chars"] / 1e6 / row["seconds"]
        links = row.get("links", "")
        print(f"{name:32} {row['seconds']:8.2f} {pages_per_s:9.1f} {mb_per_s:7.2f} {links!s:>9}")
    print(f"\nours / parse-only floor: {floor['seconds'] / ours['seconds']:.2f}x")
    if w2v:
        print(f"ours / wikipedia2vec: {w2v['seconds'] / ours['seconds']:.2f}x (in-process), "
              f"{w2v['seconds'] / guarded['seconds']:.2f}x (isolated); "
              f"entity links {ours['links']} vs {w2v['links']} ({ours['links'] / max(w2v['links'], 1):.2f}x; "
              f"wikipedia2vec also keeps {w2v['all_links'] - w2v['links']} category/interlanguage links)")  # fmt: skip
    else:
        print("wikipedia2vec not found: pass --wikipedia2vec PATH (pip install wikipedia2vec in a venv)")
    if args.rss:
        small = peak_rss_of_pipeline(dump, args.lang, args.work)
        bigger, _ = build_dump(args.work, args.scale * 2, args.lang)
        large = peak_rss_of_pipeline(bigger, args.lang, args.work)
        print(f"\npeak RSS of `mluke-data extract --workers 1`: {small:.0f} MB on {dump.stat().st_size / 1e6:.1f} MB, "
              f"{large:.0f} MB on {bigger.stat().st_size / 1e6:.1f} MB (bz2)")  # fmt: skip


if __name__ == "__main__":
    main()
