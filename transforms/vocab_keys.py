"""The keys the vocab stage joins and counts on.

Titles are joined as (lang, canonical title) and items by Q-id. Every count that ends in
``report.json`` and ``stats.json`` is an account entry ((lang, key), n), emitted by the steps on
their ``account`` output and summed once by :class:`SumAccount`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from transforms.titles import upper_first

# Account keys: every link of a language ends in exactly one of the LINK_FATES.
LINKS = "links"
LINKS_DIRECT = "links_resolved_direct"
LINKS_VIA_REDIRECT = "links_resolved_via_redirect"
LINKS_REDIRECT_LOOP = "links_redirect_loop"
LINKS_REDIRECT_TOO_LONG = "links_redirect_too_long"
LINKS_NO_ITEM = "links_no_item"
LINKS_BELOW_MIN_LANGUAGES = "links_below_min_languages"
LINKS_BEYOND_VOCAB_SIZE = "links_beyond_vocab_size"
LINKS_IN_VOCAB = "links_in_vocab"
LINK_FATES = (
    LINKS_REDIRECT_LOOP,
    LINKS_REDIRECT_TOO_LONG,
    LINKS_NO_ITEM,
    LINKS_BELOW_MIN_LANGUAGES,
    LINKS_BEYOND_VOCAB_SIZE,
    LINKS_IN_VOCAB,
)
GLOBAL = ""  # the "language" of account entries that belong to no language

_WHITESPACE = re.compile(r"[\s\u00a0\u200b\u200e\u200f\u202a-\u202e]+")


def canonical_title(title: str) -> str:
    """The form of a title the stage keys on: ``_`` as space, whitespace collapsed, first letter
    upper-cased (every Wikipedia's case rule). Idempotent on titles the extract stage normalized,
    and it brings titles from page_props/Wikidata/wb_items_per_site to the same form."""
    text = _WHITESPACE.sub(" ", title.replace("_", " ")).strip()
    return upper_first(text)


def qid_number(qid: str) -> int:
    return int(qid[1:])


def account(lang: str, key: str, value: int = 1) -> TaggedOutput:
    """An account entry on a DoFn's ``account`` output."""
    return TaggedOutput("account", ((lang, key), value))


# A step's ``account`` output: one PCollection or a tuple of them (a step passes its parts' account
# outputs on as they are: every Flatten is a stage of its own on the local runner, so the account
# is flattened once, in SumAccount).
AccountParts = Any


def account_parts(*parts: AccountParts) -> tuple[beam.PCollection, ...]:
    """The account PCollections of ``parts`` (PCollections or tuples of them), as one flat tuple."""
    flat: list[beam.PCollection] = []
    for part in parts:
        if isinstance(part, tuple | list):
            flat.extend(account_parts(*part))
        else:
            flat.append(part)
    return tuple(flat)


class SumAccount(beam.PTransform):
    """The account outputs of every step -> one ((lang, key), total) per key."""

    def expand(self, parts: Sequence[AccountParts]) -> beam.PCollection:
        return account_parts(*parts) | "Flatten" >> beam.Flatten() | "Sum" >> beam.CombinePerKey(sum)
