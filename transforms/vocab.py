"""The vocab stage: interwiki map, redirect resolution, link counting, merge by Wikidata item,
vocabulary selection and the mention dictionary, as composite PTransforms over pure functions.

Data flow (keys in brackets; every arrow that changes the key is a CoGroupByKey or a combine)::

    pages ──> link stats [(lang, raw target)] ──┐
    redirects ─> ResolveRedirects [(lang, redirect title)] ──> ResolveLinkTargets
                                                    └──> link stats [(lang, canonical title)]
    page_props | wikidata json | wb_items_per_site ──> interwiki [(lang, title)] ──┐
    link stats [(lang, canonical title)] ──────────────────────────> MergeByItem [qid]
    entities [qid] ──> min-languages ──> Top(vocab size) ──> ids (side input, <= vocab size)
    anchors [(lang, mention)] ──> MentionDictionary ──> rows [(lang, mention)] ──┐
    pages (scanned in place) ──> CountMentionPages [(lang, mention)] ──────────> mentions/{lang}.parquet

No step holds a language's links in one worker: links are pre-aggregated per Parquet row group
and then combined per key; redirect chains are followed by a fixed number of join rounds.

The steps live in modules named after what they handle:

- :mod:`transforms.link_counts`: the pages part of the read, ResolveLinkTargets;
- :mod:`transforms.redirects`: the redirects part of the read, ResolveRedirects, TitleMap;
- :mod:`transforms.interwiki`: ReadInterwiki (page_props, Wikidata JSON, wb_items_per_site);
- :mod:`transforms.entity_counts`: MergeByItem, SelectVocabulary;
- :mod:`transforms.mention_dictionary`: MentionDictionary;
- :mod:`transforms.vocab_writers`: WriteLanguageTables, WriteVocabulary (stats, report);
- :mod:`transforms.vocab_keys`: canonical titles, Q-ids and the account keys; SumAccount;
- :mod:`transforms.parquet_io`: file I/O over FileSystems; ProcessRowGroups reads the pages
  and redirects tables in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsDict, AsList

from schemas.vocab import MENTIONS_DIR
from schemas.vocab_tables import MENTIONS_SCHEMA, TITLES_DIR, TITLES_SCHEMA
from transforms.entity_counts import MergeByItem, SelectVocabulary
from transforms.interwiki import DEFAULT_JSON_SPLIT_BYTES, PAGE_PROPS, ReadInterwiki
from transforms.link_counts import ResolveLinkTargets, page_links_task
from transforms.mention_dictionary import MentionDictionary, mention_sort_key
from transforms.mentions import DEFAULT_MAX_MATCHER_MENTIONS
from transforms.parquet_io import ProcessRowGroups
from transforms.redirects import (
    DEFAULT_MAX_REDIRECT_HOPS,
    ResolveRedirects,
    TitleMap,
    redirects_task,
    title_sort_key,
)
from transforms.vocab_keys import SumAccount
from transforms.vocab_writers import DEFAULT_PART_BUCKETS, LanguageTable, WriteLanguageTables, WriteVocabulary


@dataclass(frozen=True)
class VocabInputs:
    """Where the stage reads and writes; resolved and checked by the pipeline module."""

    langs: tuple[str, ...]
    page_files: tuple[str, ...]
    redirect_files: tuple[str, ...]
    vocab_dir: str
    tmp_dir: str
    interwiki: str  # page-props | wikidata-json | items-per-site
    page_props_files: Mapping[str, str] = field(default_factory=dict)
    interwiki_path: str | None = None


@dataclass(frozen=True)
class VocabSettings:
    min_languages: int = 3
    vocab_size: int = 1_200_000
    max_redirect_hops: int = DEFAULT_MAX_REDIRECT_HOPS
    min_mention_count: int = 1
    part_buckets: int = DEFAULT_PART_BUCKETS
    json_split_bytes: int = DEFAULT_JSON_SPLIT_BYTES
    max_matcher_mentions: int = DEFAULT_MAX_MATCHER_MENTIONS


class BuildEntityVocabulary(beam.PTransform):
    """The whole vocab stage, applied to a pipeline's begin."""

    def __init__(
        self, inputs: VocabInputs, settings: VocabSettings, report_settings: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self._in = inputs
        self._settings = settings
        self._report_settings = dict(report_settings)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        inp, cfg = self._in, self._settings
        langs = list(inp.langs)
        with_page_ids = inp.interwiki == PAGE_PROPS

        tasks = {
            "links": page_links_task(inp.page_files, langs, with_page_ids),
            "edges": redirects_task(inp.redirect_files, langs, with_page_ids),
        }
        read = pbegin | "ReadTables" >> ProcessRowGroups(tasks, tags=("account", "page_ids"))
        resolved = read["edges"] | "ResolveRedirects" >> ResolveRedirects(cfg.max_redirect_hops)
        resolution = resolved["resolution"]
        links = read["links"] | "ResolveLinkTargets" >> ResolveLinkTargets(resolution)
        interwiki = pbegin | "ReadInterwiki" >> ReadInterwiki(inp, read["page_ids"], cfg.json_split_bytes)
        merged = links["links"] | "MergeByItem" >> MergeByItem(interwiki["items"])
        selected = merged["entities"] | "SelectVocabulary" >> SelectVocabulary(
            cfg.min_languages, cfg.vocab_size
        )
        mentions = merged["mentions"] | "MentionDictionary" >> MentionDictionary(
            selected["ids"], cfg.min_mention_count, inp.page_files, cfg.max_matcher_mentions
        )
        titles = interwiki["items"] | "TitleMap" >> TitleMap(resolution, selected["ids"])
        written = {MENTIONS_DIR: mentions["rows"], TITLES_DIR: titles} | "WriteTables" >> WriteLanguageTables(
            inp.vocab_dir,
            inp.tmp_dir,
            {
                MENTIONS_DIR: LanguageTable(MENTIONS_SCHEMA, mention_sort_key, "mention"),
                TITLES_DIR: LanguageTable(TITLES_SCHEMA, title_sort_key, "title"),
            },
            inp.langs,
            cfg.part_buckets,
        )

        account = (
            read["account"],
            resolved["account"],
            links["account"],
            interwiki["account"],
            merged["account"],
            selected["account"],
            mentions["account"],
            written,
        ) | "Account" >> SumAccount()
        # One element starts the writer; the vocabulary (<= vocab size) and the account arrive
        # as side inputs, complete, so an empty vocabulary is written too.
        return (
            pbegin
            | "Once" >> beam.Impulse()
            | "WriteVocabulary"
            >> beam.ParDo(
                WriteVocabulary(inp.vocab_dir, langs, self._report_settings),
                AsList(selected["vocab"]),
                AsDict(account),
            )
        )
