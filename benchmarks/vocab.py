"""Benchmark of the vocab stage on a synthetic link table (default 5M links, 3 languages).

    .venv/bin/python benchmarks/vocab.py [--links 5000000] [--workers 1 2] [--workdir benchmarks/work/vocab]
                                         [--scan-mentions 1000000 5000000] [--scan-only]
                                         [--scan-matcher aho-corasick|token-trie]

Writes a work directory shaped like the extract stage's output (pages and redirects Parquet, a
``page_props.sql.gz`` per wiki), with Zipf-distributed link targets, 10% of links through
redirects (some two hops, a few loops) and 5% red links. Then it runs ``vocab build`` in a child
process per worker count and prints links/s, links/s per core (CPU seconds of the whole process
tree) and peak RSS, plus the single-core throughput of the two hot pure functions (link counting
from Parquet and the SQL dump parser).

The mention scan (doc_count / link_doc_count) is measured on its own, in a child process per
dictionary size: a matcher of N mention keys (the anchors of the synthetic pages plus random
one- to four-word keys over a 400k-word vocabulary, so that the automaton is not made of shared
prefixes) is built, then two files of English pages are scanned. It prints pages/s and
characters/s on one core, the matcher's memory and the child's peak RSS. ``--scan-matcher
token-trie`` measures the alternative that was not chosen: a trie of tokens (one dict of
``(node, token id) -> node`` edges) walked from every token in Python, on the same keys and pages.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.pages import PAGE_SCHEMA, REDIRECT_SCHEMA, shard_name  # noqa: E402

LANGS = ("de", "en", "ja")
DATE = "20260101"
LINKS_PER_PARAGRAPH = 10
PARAGRAPHS_PER_PAGE = 5
PAGES_PER_FILE = 5000
ROW_GROUP_PAGES = 1000


def _title(lang: str, index: int) -> str:
    if lang == "ja":
        return f"項目{index}番"
    return f"{lang.upper()} entity {index}" if index % 7 else f"{lang.upper()} entity: part {index}"


def _links_column(
    texts: list[str], starts: np.ndarray, ends: np.ndarray, targets: list[str], para_offsets: np.ndarray
) -> pa.Array:
    link_type = PAGE_SCHEMA.field("paragraphs").type.value_type.field("links").type
    flat = pa.StructArray.from_arrays(
        [pa.array(starts, pa.int32()), pa.array(ends, pa.int32()), pa.array(targets, pa.string())],
        fields=list(link_type.value_type),
    )
    links = pa.ListArray.from_arrays(pa.array(para_offsets, pa.int32()), flat, type=link_type)
    paragraph_type = PAGE_SCHEMA.field("paragraphs").type.value_type
    return pa.StructArray.from_arrays(
        [pa.array(texts, pa.string()), pa.array([True] * len(texts)), links], fields=list(paragraph_type)
    )


def generate(workdir: Path, total_links: int, seed: int = 7) -> dict[str, Any]:
    """Write the synthetic work directory; returns what was written."""
    rng = np.random.default_rng(seed)
    links_per_page = LINKS_PER_PARAGRAPH * PARAGRAPHS_PER_PAGE
    pages_per_lang = max(1, -(-total_links // (links_per_page * len(LANGS))))  # round up
    written = {"links": 0, "pages": 0, "redirects": 0}
    for lang_index, lang in enumerate(LANGS):
        titles = [_title(lang, i) for i in range(pages_per_lang)]
        aliases = {i: f"Alias {i} of {titles[i]}" for i in range(0, pages_per_lang, 10)}
        chains = {i: f"Old alias {i}" for i in range(0, pages_per_lang, 100)}  # -> alias -> title
        loops = [f"Loop {k} {lang}" for k in range(20)]
        redirects = [(i, alias, titles[i]) for i, alias in aliases.items()]
        redirects += [(i, old, aliases[i]) for i, old in chains.items()]
        redirects += [
            (i, loops[k], loops[(k + 1) % len(loops)]) for i, k in zip(range(20), range(20), strict=True)
        ]
        rows = [
            {"lang": lang, "page_id": 10_000_000 + n, "title": title, "target": target}
            for n, (_, title, target) in enumerate(redirects)
        ]
        (workdir / "redirects" / lang).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pylist(rows, schema=REDIRECT_SCHEMA),
            workdir / "redirects" / lang / shard_name(lang, 0, 1),
        )
        written["redirects"] += len(rows)

        files = (pages_per_lang + PAGES_PER_FILE - 1) // PAGES_PER_FILE
        (workdir / "pages" / lang).mkdir(parents=True, exist_ok=True)
        for file_index in range(files):
            first = file_index * PAGES_PER_FILE
            count = min(PAGES_PER_FILE, pages_per_lang - first)
            n_links = count * links_per_page
            picks = np.minimum(rng.zipf(1.3, n_links) - 1, pages_per_lang - 1)
            kind = rng.random(n_links)
            texts: list[str] = []
            starts = np.empty(n_links, np.int32)
            ends = np.empty(n_links, np.int32)
            targets: list[str] = []
            for p in range(count * PARAGRAPHS_PER_PAGE):
                pieces: list[str] = []
                length = 0
                for j in range(p * LINKS_PER_PARAGRAPH, (p + 1) * LINKS_PER_PARAGRAPH):
                    i = int(picks[j])
                    if kind[j] < 0.05:
                        target = f"Red link {i}"
                    elif kind[j] < 0.13 and i in aliases:
                        target = aliases[i]
                    elif kind[j] < 0.15 and i in chains:
                        target = chains[i]
                    elif kind[j] < 0.1505:
                        target = loops[i % len(loops)]
                    else:
                        target = titles[i]
                    anchor = target if kind[j] > 0.3 else f"the {i}"
                    filler = " and then " if pieces else "See "
                    pieces.append(filler)
                    length += len(filler)
                    starts[j] = length
                    pieces.append(anchor)
                    length += len(anchor)
                    ends[j] = length
                    targets.append(target)
                pieces.append(".")
                texts.append("".join(pieces))
            para_offsets = np.arange(0, n_links + 1, LINKS_PER_PARAGRAPH, dtype=np.int32)
            paragraphs_flat = _links_column(texts, starts, ends, targets, para_offsets)
            page_offsets = np.arange(0, count * PARAGRAPHS_PER_PAGE + 1, PARAGRAPHS_PER_PAGE, dtype=np.int32)
            paragraphs = pa.ListArray.from_arrays(
                pa.array(page_offsets, pa.int32()), paragraphs_flat, type=PAGE_SCHEMA.field("paragraphs").type
            )
            ids = np.arange(first, first + count)
            table = pa.Table.from_arrays(
                [
                    pa.array([lang] * count, pa.string()),
                    pa.array(ids + 1, pa.int64()),
                    pa.array(ids * 10, pa.int64()),
                    pa.array(titles[first : first + count], pa.string()),
                    pa.array(np.zeros(count, np.int32), pa.int32()),
                    pa.array([False] * count),
                    pa.array([[]] * count, pa.list_(pa.string())),
                    paragraphs,
                ],
                schema=PAGE_SCHEMA,
            )
            pq.write_table(table, workdir / "pages" / lang / shard_name(lang, file_index, files),
                           row_group_size=ROW_GROUP_PAGES)  # fmt: skip
            written["links"] += n_links
            written["pages"] += count

        # 90% of the articles have an item; item numbers are shared across languages by index.
        props = [
            f"({i + 1},'wikibase_item','Q{i + 1}',NULL),({i + 1},'page_image_free','Img_{i}.jpg',NULL)"
            for i in range(pages_per_lang)
            if i % 10 != 3 or lang_index == 0
        ]
        body = io.StringIO()
        body.write("-- MySQL dump\n")
        for start in range(0, len(props), 2000):
            body.write("INSERT INTO `page_props` VALUES " + ",".join(props[start : start + 2000]) + ";\n")
        dump = workdir / "dumps" / f"{lang}wiki" / DATE
        dump.mkdir(parents=True, exist_ok=True)
        (dump / f"{lang}wiki-{DATE}-page_props.sql.gz").write_bytes(
            gzip.compress(body.getvalue().encode(), 6)
        )
    (workdir / "benchmark.json").write_text(json.dumps(written))
    return written


def _run_build(workdir: Path, workers: int) -> dict[str, Any]:
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import logging; logging.disable(logging.WARNING)\n"
        "from pipeline.vocab import run_vocab_build\n"
        "from transforms.vocab import VocabSettings\n"
        "t = time.perf_counter()\n"
        f"report = run_vocab_build({str(workdir)!r}, settings=VocabSettings(min_languages=2), workers={workers})\n"
        "import resource\n"
        "rss = max(resource.getrusage(r).ru_maxrss for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'entities': report['entities'],"
        " 'totals': report['totals'], 'peak_rss_kb': rss}))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"vocab build failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_with_start"] = wall
    result["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["peak_rss_mb"] = result["peak_rss_kb"] / 1024  # largest single process of this run
    return result


def _micro(workdir: Path) -> dict[str, float]:
    from transforms.link_counts import page_batch_links
    from transforms.sqldump import iter_page_props_items, open_decompressed

    path = sorted((workdir / "pages" / "en").glob("*.parquet"))[0]
    table = pq.read_table(path)
    started = time.process_time()
    batch = page_batch_links(table)
    link_seconds = time.process_time() - started
    links = sum(batch.link_totals.values())
    sql = next((workdir / "dumps" / "enwiki" / DATE).glob("*.sql.gz"))
    raw = gzip.decompress(sql.read_bytes())
    started = time.process_time()
    items = sum(1 for _ in iter_page_props_items(open_decompressed(io.BytesIO(raw))))
    sql_seconds = time.process_time() - started
    return {
        "count_links_per_s": links / link_seconds,
        "sql_mb_per_s": len(raw) / sql_seconds / 1e6,
        "sql_rows_per_s": items * 2 / sql_seconds,
    }


class TokenTrie:
    """The alternative matcher, for the benchmark only: a trie over tokens, walked in Python."""

    def __init__(self, keys: list[str]) -> None:
        from schemas.mentions import mention_tokens

        self.keys = keys
        self._ids: dict[str, int] = {}
        self._edges: dict[int, int] = {}
        self._final: dict[int, int] = {}
        nodes = 1
        for index, key in enumerate(keys):
            node = 0
            for token in mention_tokens(key):
                token_id = self._ids.setdefault(token, len(self._ids))
                edge = node << 32 | token_id
                child = self._edges.get(edge)
                if child is None:
                    child = self._edges[edge] = nodes
                    nodes += 1
                node = child
            self._final[node] = index

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        from schemas.mentions import mention_tokens

        node: int | None = 0
        for token in mention_tokens(key):
            token_id = self._ids.get(token)
            node = None if token_id is None else self._edges.get(node << 32 | token_id)  # type: ignore[operator]
            if node is None:
                return -1
        return self._final.get(node, -1)  # type: ignore[arg-type]

    def find(self, normalized: str) -> set[int]:
        from schemas.mentions import mention_tokens

        ids = [self._ids.get(token, -1) for token in mention_tokens(normalized)]
        found: set[int] = set()
        for start in range(len(ids)):
            node: int | None = 0
            for token_id in ids[start:]:
                if token_id < 0:
                    break
                node = self._edges.get(node << 32 | token_id)  # type: ignore[operator]
                if node is None:
                    break
                hit = self._final.get(node)
                if hit is not None:
                    found.add(hit)
        return found


def _scan_child(workdir: Path, mentions: int, kind: str = "aho-corasick") -> dict[str, Any]:
    """Runs in a child process: build a matcher of ``mentions`` keys, scan the English pages."""
    import gc

    from schemas.mentions import normalize_mention
    from transforms.mentions import MentionMatcher, count_page_mentions, table_pages

    def rss_mb() -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    paths = sorted((workdir / "pages" / "en").glob("*.parquet"))[:2]
    tables = [pq.read_table(path, columns=["paragraphs"]) for path in paths]
    anchors: set[str] = set()
    for table in tables:
        for texts, links in table_pages(table):
            anchors.update(normalize_mention(texts[p][s:e]) for p, s, e in links)
    rng = np.random.default_rng(11)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(letters[rng.integers(0, 26, n)]) for n in rng.integers(3, 11, 400_000)]
    keys = set(sorted(anchors)[:mentions])
    while len(keys) < mentions:
        picks = rng.integers(0, len(words), (100_000, 4))
        sizes = rng.integers(1, 5, 100_000)
        keys.update(" ".join(words[i] for i in row[:size]) for row, size in zip(picks, sizes, strict=True))
    key_list = sorted(keys)[:mentions]
    del keys, words
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    matcher: Any = MentionMatcher(key_list) if kind == "aho-corasick" else TokenTrie(key_list)
    build_seconds = time.perf_counter() - started
    if kind == "aho-corasick":
        del key_list
    gc.collect()
    matcher_mb = rss_mb() - before
    pages = chars = occurrences = 0
    started = time.process_time()
    for table in tables:
        batch = list(table_pages(table))
        pages += len(batch)
        chars += sum(len(text) for texts, _ in batch for text in texts)
        occurrences += sum(docs for docs, _ in count_page_mentions(batch, matcher).values())
    seconds = time.process_time() - started
    return {
        "matcher": kind,
        "mentions": len(matcher),
        "anchors": len(anchors),
        "build_seconds": build_seconds,
        "matcher_mb": matcher_mb,
        "pages": pages,
        "pages_per_s": pages / seconds,
        "chars_per_s": chars / seconds,
        "chars_per_page": chars / pages,
        "page_mentions": occurrences / pages,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_scan(workdir: Path, mentions: int, kind: str) -> dict[str, Any]:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        "from pathlib import Path\n"
        "from vocab import _scan_child\n"
        f"print(json.dumps(_scan_child(Path({str(workdir)!r}), {mentions}, {kind!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mention scan failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--links", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "work" / "vocab")
    parser.add_argument("--scan-mentions", type=int, nargs="*", default=[1_000_000, 5_000_000])
    parser.add_argument("--scan-only", action="store_true", help="Only the mention scan.")
    parser.add_argument("--scan-matcher", choices=["aho-corasick", "token-trie"], default="aho-corasick")
    args = parser.parse_args()

    meta_path = args.workdir / "benchmark.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if meta is None or meta["links"] < args.links:
        started = time.perf_counter()
        meta = generate(args.workdir, args.links)
        print(f"generated {meta['links']:,} links on {meta['pages']:,} pages, {meta['redirects']:,} redirects "
              f"in {time.perf_counter() - started:.1f} s under {args.workdir}")  # fmt: skip
    links = meta["links"]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for mentions in args.scan_mentions:
        scan = _run_scan(args.workdir, mentions, args.scan_matcher)
        print(
            f"mention scan ({scan['matcher']}), {scan['mentions']:,} mentions ({scan['anchors']:,} of them anchors of the pages): "
            f"matcher built in {scan['build_seconds']:.1f} s, {scan['matcher_mb']:,.0f} MB "
            f"({scan['matcher_mb'] * 1e6 / scan['mentions']:,.0f} B/mention); one core "
            f"{scan['pages_per_s']:,.0f} pages/s, {scan['chars_per_s'] / 1e6:.2f} M chars/s "
            f"({scan['chars_per_page']:,.0f} chars and {scan['page_mentions']:.1f} distinct mentions per page); "
            f"peak RSS {scan['peak_rss_mb']:,.0f} MB"
        )
    if args.scan_only:
        return
    micro = _micro(args.workdir)
    print(f"single core: link counting from Parquet {micro['count_links_per_s']:,.0f} links/s; "
          f"page_props SQL parsing {micro['sql_mb_per_s']:.1f} MB/s ({micro['sql_rows_per_s']:,.0f} rows/s)")  # fmt: skip
    for workers in args.workers:
        result = _run_build(args.workdir, workers)
        totals = result["totals"]
        assert totals["links"] == links, (totals["links"], links)
        print(
            f"vocab build, {workers} worker(s): {links:,} links in {result['seconds']:.1f} s "
            f"({links / result['seconds']:,.0f} links/s wall, "
            f"{links / result['cpu_seconds']:,.0f} links/s per CPU-second, "
            f"{links / result['seconds'] / workers:,.0f} links/s per worker); "
            f"{result['entities']:,} entities, {totals.get('links_in_vocab', 0) / links:.1%} of links covered; "
            f"peak RSS of one process {result['peak_rss_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    main()
