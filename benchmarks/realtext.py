"""A dump mirror of real Wikipedia articles, repeated with new titles, for benchmarks on real text.

    .venv/bin/python benchmarks/realtext.py SOURCE... --copies 30 --out benchmarks/work/real-mirror

SOURCE is a folder of ``*.txt`` files (the wikitext of one article each, the title from the file
name) or a pages-articles XML file (``.xml`` or ``.xml.bz2``; its namespace-0 articles are taken,
redirects skipped). Real articles for this are in public test data, e.g. the ``tests/cache/*.txt``
articles of the wtf_wikipedia repository (70 enwiki articles, 1.6 MB of wikitext) and
``tests/test_data/enwiki-pages-articles-sample.xml.bz2`` of wikipedia2vec.

Copy k of article "T" is titled "T (k)". So that links resolve to entities as they do in a whole
dump, every main-namespace link target of copy k is re-pointed, by a hash of the target, to one of
the articles of copy k (the anchor text is kept: ``[[Target|text]]`` and ``[[Target]]`` become
``[[T' (k)|text]]`` and ``[[T' (k)|Target]]``); the words, markup and sentences stay the real ones.
The mirror holds one English wiki (multistream dump, index, page_props with a Q-id per article);
build its vocabulary with ``--min-languages 1``, since there is one language.
"""

from __future__ import annotations

import argparse
import bz2
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree

from pipeline.sample.content_pages import SamplePage
from pipeline.sample.entities import SAMPLE_DATE
from pipeline.sample.mirror import (
    PAGE_PROPS_CREATE,
    STREAM_PAGES,
    _write_dump_dir,
    multistream,
    mysql_dump,
    page_props_rows,
)
from schemas.dumps import (
    JOB_ARTICLES_MULTISTREAM,
    JOB_PAGE_PROPS,
    articles_file_name,
    dump_dir,
    index_file_name,
    page_props_file_name,
    wiki_name,
)

LANG = "en"
_LINK = re.compile(r"\[\[([^\[\]|#]*)(#[^\[\]|]*)?(\|[^\[\]]*)?\]\]")
# Page ids of copy k: k * ID_STRIDE + the article's position.
ID_STRIDE = 100_000


def _articles_of_xml(path: Path) -> Iterator[tuple[str, str]]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as handle:
        title = text = None
        namespace = redirect = None
        for _, element in ElementTree.iterparse(handle):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = element.text
            elif tag == "ns":
                namespace = element.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                text = element.text or ""
            elif tag == "page":
                if title and namespace == "0" and not redirect and text:
                    yield title, text
                title = text = namespace = redirect = None
                element.clear()


def read_real_articles(sources: Iterable[Path]) -> list[tuple[str, str]]:
    """(title, wikitext) of the real articles in the sources, in a stable order."""
    articles: list[tuple[str, str]] = []
    for source in sources:
        if source.is_dir():
            for path in sorted(source.glob("*.txt")):
                title = re.sub(r"[-_]+", " ", path.stem).strip()
                text = path.read_text(encoding="utf-8")
                if not text.lstrip().upper().startswith("#REDIRECT"):
                    articles.append((title[:1].upper() + title[1:], text))
        else:
            articles += list(_articles_of_xml(source))
    seen: set[str] = set()
    unique = [(t, x) for t, x in articles if not (t in seen or seen.add(t))]
    if not unique:
        raise SystemExit("no articles found in the sources")
    return unique


def repoint_links(wikitext: str, titles: Sequence[str]) -> str:
    """Re-point main-namespace link targets to ``titles`` by a hash of the target; keep anchors."""

    def replace(match: re.Match[str]) -> str:
        target, section, label = match.group(1), match.group(2) or "", match.group(3)
        if ":" in target or not target.strip():
            return match.group(0)  # files, categories, interwiki and section-only links
        chosen = titles[zlib.crc32(target.strip().encode("utf-8")) % len(titles)]
        return f"[[{chosen}{section}{label if label is not None else '|' + target}]]"

    return _LINK.sub(replace, wikitext)


def real_pages(articles: Sequence[tuple[str, str]], copies: int) -> Iterator[SamplePage]:
    for k in range(1, copies + 1):
        titles = [f"{title} ({k})" for title, _ in articles]
        for position, ((_, text), title) in enumerate(zip(articles, titles, strict=True), start=1):
            page_id = k * ID_STRIDE + position
            yield SamplePage(
                page_id=page_id,
                title=title,
                namespace=0,
                wikitext=repoint_links(text, titles),
                qid=f"Q{page_id}",
                redirect_to=None,
                is_disambiguation=False,
                expected=None,
            )


def write_real_mirror(
    root: str, articles: Sequence[tuple[str, str]], copies: int, date: str = SAMPLE_DATE
) -> tuple[int, int]:
    """Write the mirror; returns (pages, bytes of wikitext)."""
    pages = list(real_pages(articles, copies))
    wiki = wiki_name(LANG)
    dump, index, _ = multistream(LANG, pages, STREAM_PAGES)
    props = mysql_dump(wiki, "page_props", PAGE_PROPS_CREATE, page_props_rows(pages), date)
    files = {
        articles_file_name(LANG, date): (JOB_ARTICLES_MULTISTREAM, dump),
        index_file_name(LANG, date): (JOB_ARTICLES_MULTISTREAM, index),
        page_props_file_name(LANG, date): (JOB_PAGE_PROPS, props),
    }
    _write_dump_dir(dump_dir(root, LANG, date), wiki, date, files, {})
    return len(pages), sum(len(p.wikitext.encode("utf-8")) for p in pages)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--out", required=True, help="the mirror root (a WORKDIR's dumps/ folder)")
    args = parser.parse_args()
    articles = read_real_articles(args.sources)
    pages, size = write_real_mirror(args.out, articles, args.copies)
    print(
        f"{len(articles)} real articles x {args.copies} copies: {pages} pages, {size / 1e6:.1f} MB of wikitext"
    )


if __name__ == "__main__":
    main()
