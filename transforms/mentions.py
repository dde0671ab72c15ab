"""Where the mentions of the dictionary occur: doc_count and link_doc_count per mention.

The page text is scanned where it lies (each work item is one Parquet file of pages and one pass):
no paragraph is shuffled. Each worker matches with an Aho-Corasick automaton (pyahocorasick) of
one language's mention keys; a language with more than ``max_matcher_mentions`` mentions is
split by a hash of the key into passes, each pass a matcher of its own, so the memory of one
matcher is bounded whatever the size of the dictionary (about 0.8 KB per mention, see
docs/vocab.md). The matcher is shared by the threads of a worker process.

A mention occurs in a page when its tokens (:mod:`schemas.mentions`) are a run of the tokens of
one of the page's normalized paragraphs, or when it is the normalized anchor of one of the
page's links (an anchor that starts inside a word, ``un[[happy]]``, is still an occurrence), so
``link_doc_count <= doc_count`` always holds.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import ahocorasick
import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, AsMultiMap, TaggedOutput
from apache_beam.utils.shared import Shared

from schemas.mentions import mention_tokens, normalize_mention

# Default mentions per matcher: ~0.8 KB each (automaton and keys), so about 3.1 GB per pass at most.
DEFAULT_MAX_MATCHER_MENTIONS = 4_000_000

# Token boundaries in the encoded text: whitespace in the source, so normalization never leaves
# it in a token, and every dictionary key is encoded with it on both ends.
_BOUNDARY = "\x1f"


def encode_tokens(tokens: Sequence[str]) -> str:
    """A token sequence as the matcher sees it: every token between two boundary marks."""
    return _BOUNDARY + _BOUNDARY.join(tokens) + _BOUNDARY


class MentionMatcher:
    """All occurrences of a set of mention keys in normalized text, on token boundaries."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: list[str] = sorted(set(keys))
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for index, key in enumerate(self.keys):
            self._automaton.add_word(encode_tokens(mention_tokens(key)), index)
        if self.keys:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        """Index of a key in :attr:`keys`, -1 when it is not one."""
        if not self.keys:
            return -1
        return self._automaton.get(encode_tokens(mention_tokens(key)), -1)

    def find(self, normalized: str) -> set[int]:
        """Indexes of the keys that occur in an already normalized text."""
        if not self.keys or not normalized:
            return set()
        return {index for _, index in self._automaton.iter(encode_tokens(mention_tokens(normalized)))}


def count_page_mentions(
    pages: Iterable[tuple[Sequence[str], Sequence[tuple[int, int, int]]]], matcher: MentionMatcher
) -> dict[int, list[int]]:
    """Key index -> [pages it occurs in, pages where it is a link anchor].

    A page is (paragraph texts, links as (paragraph index, start, end)).
    """
    counts: dict[int, list[int]] = {}
    anchor_index: dict[str, int] = {}
    for texts, links in pages:
        linked: set[int] = set()
        for paragraph, start, end in links:
            anchor = texts[paragraph][start:end]
            index = anchor_index.get(anchor)
            if index is None:
                index = anchor_index[anchor] = matcher.index(normalize_mention(anchor))
            if index >= 0:
                linked.add(index)
        found = set(linked)
        for text in texts:
            found |= matcher.find(normalize_mention(text))
        for index in found:
            entry = counts.get(index)
            if entry is None:
                entry = counts[index] = [0, 0]
            entry[0] += 1
        for index in linked:
            counts[index][1] += 1
    return counts


def table_pages(table: pa.Table) -> Iterator[tuple[list[str], list[tuple[int, int, int]]]]:
    """(paragraph texts, links) of every page of a table with PAGE_SCHEMA's paragraphs column."""
    paragraphs = table.column("paragraphs").combine_chunks()
    page_offsets = paragraphs.offsets.to_pylist()
    flat = pc.list_flatten(paragraphs)
    texts: list[str] = pc.struct_field(flat, "text").to_pylist()
    links = pc.struct_field(flat, "links")
    link_offsets = links.offsets.to_pylist() if len(links) else [0]
    flat_links = pc.list_flatten(links)
    starts = pc.struct_field(flat_links, "start").to_pylist()
    ends = pc.struct_field(flat_links, "end").to_pylist()
    for page in range(len(paragraphs)):
        first, last = page_offsets[page] - page_offsets[0], page_offsets[page + 1] - page_offsets[0]
        page_links = [
            (p - first, starts[k], ends[k])
            for p in range(first, last)
            for k in range(link_offsets[p] - link_offsets[0], link_offsets[p + 1] - link_offsets[0])
        ]
        yield texts[first:last], page_links


def passes_for(mentions: int, max_matcher_mentions: int) -> int:
    return max(1, math.ceil(mentions / max(1, max_matcher_mentions)))


def pass_of(key: str, passes: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % passes if passes > 1 else 0


# ---------------------------------------------------------------------------------------------
# DoFns


class _Matcher:
    """Holder of a MentionMatcher for ``Shared`` (which needs a weak-referenceable object)."""

    def __init__(self, matcher: MentionMatcher) -> None:
        self.matcher = matcher


class ListScanWorkItems(beam.DoFn):
    """Parquet file of pages -> (path, lang, pass) for every language it holds and every pass
    of that language (``passes``: lang -> number of passes; a language without mentions has none)."""

    def process(self, path: str, passes: Mapping[str, int]) -> Iterator[tuple[str, str, int]]:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            langs = pq.ParquetFile(handle).read(columns=["lang"]).column("lang")
        for lang in sorted(set(pc.unique(langs).to_pylist())):
            for pass_index in range(passes.get(lang, 0)):
                yield path, lang, pass_index


class ScanPageFile(beam.DoFn):
    """(path, lang, pass) -> ((lang, key), (doc_count, link_doc_count)) for the pass's keys.

    Reads the file a row group at a time (namespace 0 and the language only); the matcher of
    (lang, pass) is built from the side input once per worker process and shared by its threads.
    """

    COLUMNS = ("lang", "namespace", "paragraphs")

    def __init__(self) -> None:
        self._shared = Shared()
        self._holder: _Matcher | None = None
        self._pages = Metrics.counter("vocab", "mention_scan_pages")
        self._occurrences = Metrics.counter("vocab", "mention_scan_occurrences")

    def process(
        self, item: tuple[str, str, int], keys: Mapping[tuple[str, int], Iterable[str]]
    ) -> Iterator[Any]:
        path, lang, pass_index = item
        tag = f"{lang}/{pass_index}"

        def build() -> _Matcher:
            return _Matcher(MentionMatcher(keys[(lang, pass_index)]))

        self._holder = self._shared.acquire(build, tag=tag)
        matcher = self._holder.matcher
        if not len(matcher):
            return
        totals: dict[int, list[int]] = {}
        pages = 0
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            parquet = pq.ParquetFile(handle)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group, columns=list(self.COLUMNS))
                keep = pc.and_(pc.equal(table.column("lang"), lang), pc.equal(table.column("namespace"), 0))
                table = table.filter(keep)
                pages += table.num_rows
                for index, (docs, links) in count_page_mentions(table_pages(table), matcher).items():
                    entry = totals.setdefault(index, [0, 0])
                    entry[0] += docs
                    entry[1] += links
        self._pages.inc(pages)
        for index in sorted(totals):
            docs, links = totals[index]
            self._occurrences.inc(docs)
            yield (lang, matcher.keys[index]), (docs, links)
        yield TaggedOutput("account", ((lang, "mention_scan_pages"), pages))


class SumPairs(beam.CombineFn):
    def create_accumulator(self) -> tuple[int, int]:
        return (0, 0)

    def add_input(self, acc: tuple[int, int], value: tuple[int, int]) -> tuple[int, int]:
        return acc[0] + value[0], acc[1] + value[1]

    def merge_accumulators(self, accumulators: Iterable[tuple[int, int]]) -> tuple[int, int]:
        docs = links = 0
        for a, b in accumulators:
            docs += a
            links += b
        return docs, links

    def extract_output(self, acc: tuple[int, int]) -> tuple[int, int]:
        return acc


def _passes(element: tuple[str, int], max_matcher_mentions: int) -> Iterator[Any]:
    lang, mentions = element
    passes = passes_for(mentions, max_matcher_mentions)
    yield lang, passes
    yield TaggedOutput("account", ((lang, "mention_scan_passes"), passes))


def _keyed_by_pass(key: tuple[str, str], passes: Mapping[str, int]) -> tuple[tuple[str, int], str]:
    lang, mention = key
    return (lang, pass_of(mention, passes.get(lang, 1))), mention


# ---------------------------------------------------------------------------------------------
# The composite transform


class CountMentionPages(beam.PTransform):
    """Mention keys ((lang, key), one per mention) + the page files ->
    ``counts`` ((lang, key), (doc_count, link_doc_count)) and ``account``.

    Passes per language: ceil(mentions / max_matcher_mentions); a key's pass is a hash of it.
    Work items are (page file, lang, pass); each reads its file and matches one pass's keys.
    """

    def __init__(self, page_files: Sequence[str], max_matcher_mentions: int) -> None:
        super().__init__()
        self._page_files = sorted(page_files)
        self._max = max_matcher_mentions

    def expand(self, keys: beam.PCollection) -> dict[str, beam.PCollection]:
        passes = (
            keys
            | "PerLanguage" >> beam.Map(lambda key: (key[0], 1))
            | "Mentions" >> beam.CombinePerKey(sum)
            | "Passes" >> beam.FlatMap(_passes, self._max).with_outputs("account", main="passes")
        )
        by_pass = keys | "ByPass" >> beam.Map(_keyed_by_pass, AsDict(passes["passes"]))
        scanned = (
            keys.pipeline
            | "PageFiles" >> beam.Create(self._page_files, reshuffle=False)
            | "WorkItems" >> beam.ParDo(ListScanWorkItems(), AsDict(passes["passes"]))
            | "Spread" >> beam.Reshuffle()
            | "Scan" >> beam.ParDo(ScanPageFile(), AsMultiMap(by_pass)).with_outputs("account", main="counts")
        )
        counts = scanned["counts"] | "PerMention" >> beam.CombinePerKey(SumPairs())
        account = (scanned["account"], passes["account"])
        return {"counts": counts, "account": account}
