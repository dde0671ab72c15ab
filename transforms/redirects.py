"""Redirects of the vocab stage: the extract stage's redirect tables, chains followed by a fixed
number of join rounds to the title they end at (or to a loop, or past the hop limit), and the
title map of every title, article or redirect, that leads to a vocabulary entity."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import AsDict, TaggedOutput

from transforms.parquet_io import RowGroupTask, read_row_group, rows_of_languages
from transforms.vocab_keys import canonical_title, qid_number

DEFAULT_MAX_REDIRECT_HOPS = 5


class _RowGroupRedirects(beam.DoFn):
    """A row group of redirects -> ((lang, title), target); tagged ``page_ids`` (((lang, page
    id), ("redirect", title)) for the page_props join, only when asked)."""

    COLUMNS = ("lang", "page_id", "title", "target")

    def __init__(self, langs: Iterable[str], with_page_ids: bool) -> None:
        self._langs = frozenset(langs)
        self._with_page_ids = with_page_ids

    def process(self, item: tuple[str, int]) -> Iterator[Any]:
        path, index = item
        table = rows_of_languages(read_row_group(path, index, self.COLUMNS), self._langs)
        columns = [table.column(name).to_pylist() for name in self.COLUMNS]
        for lang, page_id, title, target in zip(*columns, strict=True):
            source = canonical_title(title)
            yield (lang, source), canonical_title(target)
            if self._with_page_ids:
                yield TaggedOutput("page_ids", ((lang, page_id), ("redirect", source)))


def redirects_task(redirect_files: Sequence[str], langs: Iterable[str], with_page_ids: bool) -> RowGroupTask:
    """The redirects part of the vocab stage's read (:class:`transforms.parquet_io.ProcessRowGroups`):
    ((lang, redirect title), target) edges and the tagged ``page_ids``."""
    return RowGroupTask(tuple(redirect_files), _RowGroupRedirects(langs, with_page_ids))


def redirect_round(
    lang: str,
    current: str,
    target: str | None,
    states: Iterable[tuple[str, tuple[str, ...]]],
    final_round: bool,
) -> Iterator[tuple[str, tuple[Any, Any]]]:
    """One hop of redirect resolution for the chains that have reached ``current``.

    ``target`` is where ``current`` redirects to (None: ``current`` is not a redirect, the chain
    ends there). A state is (source, titles visited before ``current``). Yields ``("done",
    ((lang, source), (final or None, status, hops)))`` or ``("active", ((lang, target), state))``.
    """
    for source, path in states:
        hops = len(path)
        if target is None:
            yield "done", ((lang, source), (current, "ok", hops))
        elif target == current or target in path:
            yield "done", ((lang, source), (None, "loop", hops))
        elif final_round:
            yield "done", ((lang, source), (None, "too_long", hops))
        else:
            yield "active", ((lang, target), (source, (*path, current)))


# The rounds group the redirect table and the chain states by title in one GroupByKey; values
# carry their kind, so a round needs no CoGroupByKey (which would tag both inputs again every
# round: more steps and a Flatten stage per round, which the local runner pays for). The table
# enters with the chains' first states and every round passes it on to the next.
_EDGE = "edge"
_STATE = "state"


def _start_redirect(element: tuple[tuple[str, str], str]) -> Iterator[Any]:
    (lang, source), target = element
    yield (lang, source), (_EDGE, target)
    if target == source:
        yield TaggedOutput("done", ((lang, source), (None, "loop", 0)))
    else:
        yield (lang, target), (_STATE, (source, (source,)))


class _RedirectRound(beam.DoFn):
    def __init__(self, final_round: bool) -> None:
        self._final_round = final_round

    def process(self, element: tuple[tuple[str, str], Iterable[tuple[str, Any]]]) -> Iterator[Any]:
        (lang, current), values = element
        states: list[Any] = []
        targets: list[str] = []
        for kind, value in values:
            (states if kind == _STATE else targets).append(value)
        states.sort()
        target = min(targets) if targets else None
        if target is not None and not self._final_round:
            yield (lang, current), (_EDGE, target)  # the next round needs the table again
        for kind, value in redirect_round(lang, current, target, states, self._final_round):
            if kind == "done":
                yield TaggedOutput("done", value)
            else:
                key, state = value
                yield key, (_STATE, state)


def _redirect_account(element: tuple[tuple[str, str], tuple[str | None, str, int]]) -> Iterator[Any]:
    (lang, _), (_, status, hops) = element
    yield (lang, "redirects"), 1
    if status == "ok" and hops > 1:
        yield (lang, "redirects_multi_hop"), 1
    elif status == "loop":
        yield (lang, "redirects_in_loop"), 1
    elif status == "too_long":
        yield (lang, "redirects_too_long"), 1


class ResolveRedirects(beam.PTransform):
    """((lang, redirect title), target) -> ``resolution`` ((lang, redirect title), (final,
    status, hops)) and ``account``.

    Follows chains with ``max_hops`` join rounds (state keyed by the title reached, grouped
    with the redirect table keyed by source); a chain that comes back to a title it passed
    is a ``loop``, one still going after ``max_hops`` is ``too_long`` (both: final None).
    """

    def __init__(self, max_hops: int = DEFAULT_MAX_REDIRECT_HOPS) -> None:
        super().__init__()
        self._max_hops = max(1, max_hops)

    def expand(self, edges: beam.PCollection) -> dict[str, beam.PCollection]:
        edges = edges | "OneTargetPerTitle" >> beam.CombinePerKey(min)
        start = edges | "Start" >> beam.FlatMap(_start_redirect).with_outputs("done", main="active")
        done = [start["done"]]
        active = start["active"]
        for round_index in range(1, self._max_hops + 1):
            step = (
                active
                | f"Join{round_index}" >> beam.GroupByKey()
                | f"Hop{round_index}"
                >> beam.ParDo(_RedirectRound(round_index == self._max_hops)).with_outputs(
                    "done", main="active"
                )
            )
            done.append(step["done"])
            active = step["active"]
        resolution = done | "Resolved" >> beam.Flatten()
        return {
            "resolution": resolution,
            "account": resolution | "Account" >> beam.FlatMap(_redirect_account),
        }


def _article_titles(
    element: tuple[tuple[str, str], dict[str, Iterable[Any]]], vocab: Mapping[str, int]
) -> list[Any]:
    (lang, title), grouped = element
    if list(grouped["res"]):
        return []  # a redirect title: it gets its entity from its target
    items = sorted(grouped["item"], key=qid_number)
    return [((lang, title), vocab[items[0]])] if items and items[0] in vocab else []


def _redirect_by_final(element: tuple[tuple[str, str], tuple[str | None, str, int]]) -> Iterator[Any]:
    (lang, source), (final, status, _) = element
    if status == "ok" and final is not None:
        yield (lang, final), source


def _title_rows(element: tuple[tuple[str, str], dict[str, Iterable[Any]]]) -> list[Any]:
    (lang, title), grouped = element
    ids = sorted(grouped["article"])
    if not ids:
        return []
    return [(lang, title, ids[0], False)] + [
        (lang, source, ids[0], True) for source in sorted(set(grouped["redirect"]))
    ]


def title_sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    return row[1], row[2]


class TitleMap(beam.PTransform):
    """Every title that leads to a vocabulary entity: articles with an item in the vocabulary
    and redirects resolving to them -> rows (lang, title, entity id, redirect)."""

    def __init__(self, resolution: beam.PCollection, ids: beam.PCollection) -> None:
        super().__init__()
        self._resolution = resolution
        self._ids = ids

    def expand(self, interwiki: beam.PCollection) -> beam.PCollection:
        articles = (
            {"item": interwiki, "res": self._resolution}
            | "SkipRedirects" >> beam.CoGroupByKey()
            | "Articles" >> beam.FlatMap(_article_titles, AsDict(self._ids))
        )
        redirects = self._resolution | "ByFinal" >> beam.FlatMap(_redirect_by_final)
        return (
            {"article": articles, "redirect": redirects}
            | "JoinRedirects" >> beam.CoGroupByKey()
            | "Rows" >> beam.FlatMap(_title_rows)
        )
