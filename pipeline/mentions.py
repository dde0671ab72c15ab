"""``mluke-data mentions detect``: which entity mentions a text holds, and why.

The detection is the one of ``mluke-train finetune qa --entities mentions``: the mention rule
of :mod:`schemas.mentions` (normalization, units, longest match) over the candidates of the
vocab stage's mention dictionary that pass the same three thresholds. Mentions of the
dictionary that the thresholds drop are listed with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import click
from rich.table import Table

from pipeline.options import UserError, parse_langs_option
from pipeline.vocab_inspect import find_vocab_dir, read_table, wide_console
from schemas.mentions import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MIN_COMMONNESS,
    DEFAULT_MIN_LINK_PROB,
    DEFAULT_MIN_MENTION_COUNT,
    LongestMatch,
    candidate_keys,
    candidate_order,
    rejection,
)
from schemas.vocab import MENTIONS_DIR
from schemas.vocab_tables import language_table_name
from transforms.files import path_exists
from transforms.parquet_io import join_path

_COLUMNS = ("mention", "entity_id", "entity", "wikidata_id", "count", "mention_count", "commonness",
            "doc_count", "link_doc_count", "link_prob")  # fmt: skip


@dataclass
class Found:
    start: int
    end: int
    text: str
    mention: str
    detected: bool
    why: str  # "longest match" or the threshold that drops it
    entity_id: int
    entity: str
    wikidata_id: str
    commonness: float
    link_prob: float
    count: int
    mention_count: int
    doc_count: int
    link_doc_count: int


def dictionary_rows(workdir: str, lang: str, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The mention-dictionary rows of ``keys`` in one language, by mention, best entity first."""
    path = join_path(find_vocab_dir(workdir), MENTIONS_DIR, language_table_name(lang))
    if not path_exists(path):
        raise UserError(
            f"no mention dictionary for {lang!r} ({path} is missing): run `mluke-data vocab build --out {workdir}`"
        )
    table = read_table(path, filters=[("mention", "in", sorted(keys))] if keys else None)
    missing = [name for name in _COLUMNS if name not in table.column_names]
    if missing:
        raise UserError(
            f"{path} has no {', '.join(missing)} column: rebuild it with `mluke-data vocab build`"
        )
    if not keys:
        table = table.slice(0, 0)
    out: dict[str, list[dict[str, Any]]] = {}
    for row in table.select(list(_COLUMNS)).to_pylist():
        out.setdefault(row["mention"], []).append(row)
    for rows in out.values():
        rows.sort(key=candidate_order)
    return out


def detect_mentions(
    workdir: str,
    text: str,
    lang: str,
    min_commonness: float = DEFAULT_MIN_COMMONNESS,
    min_mention_count: int = DEFAULT_MIN_MENTION_COUNT,
    min_link_prob: float = DEFAULT_MIN_LINK_PROB,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> list[Found]:
    """Detected mentions, and the dictionary mentions the thresholds drop, in text order."""
    rows = dictionary_rows(workdir, lang, sorted(candidate_keys(text, max_tokens)))
    kept: dict[str, dict[str, Any]] = {}
    dropped: dict[str, tuple[dict[str, Any], str]] = {}
    for mention, candidates in rows.items():
        reasons = [
            (row, rejection(row, min_commonness, min_mention_count, min_link_prob)) for row in candidates
        ]
        best = next((row for row, reason in reasons if reason is None), None)
        if best is not None:
            kept[mention] = best
        else:
            dropped[mention] = (candidates[0], str(reasons[0][1]))
    found = [
        _found(text, d.start, d.end, d.mention, d.value, True, "longest match")
        for d in LongestMatch(kept.items(), max_tokens).detect(text)
    ]
    # What the thresholds drop, where it would have matched (longest match among the dropped).
    for d in LongestMatch(((m, row) for m, (row, _) in dropped.items()), max_tokens).detect(text):
        found.append(_found(text, d.start, d.end, d.mention, d.value, False, dropped[d.mention][1]))
    return sorted(found, key=lambda f: (f.start, not f.detected, -f.end))


def _found(
    text: str, start: int, end: int, mention: str, row: Mapping[str, Any], detected: bool, why: str
) -> Found:
    return Found(
        start=start,
        end=end,
        text=text[start:end],
        mention=mention,
        detected=detected,
        why=why,
        entity_id=row["entity_id"],
        entity=row["entity"],
        wikidata_id=row["wikidata_id"],
        commonness=row["commonness"],
        link_prob=row["link_prob"],
        count=row["count"],
        mention_count=row["mention_count"],
        doc_count=row["doc_count"],
        link_doc_count=row["link_doc_count"],
    )


@click.group(name="mentions")
def mentions_group() -> None:
    """Entity mentions in text, with the vocab stage's mention dictionary (WORKDIR/vocab/mentions)."""


@mentions_group.command("detect")
@click.argument("workdir")
@click.option("--text", required=True, help="The text to look for mentions in.")
@click.option("--lang", required=True, help="Language of the text (its mention dictionary is used).")
@click.option("--min-commonness", type=click.FloatRange(0, 1), default=DEFAULT_MIN_COMMONNESS,
              show_default=True, help="p(entity|mention) at least this.")  # fmt: skip
@click.option("--min-mention-count", type=click.IntRange(min=1), default=DEFAULT_MIN_MENTION_COUNT,
              show_default=True, help="Anchors seen at least this many times as links.")  # fmt: skip
@click.option("--min-link-prob", type=click.FloatRange(0, 1), default=DEFAULT_MIN_LINK_PROB,
              show_default=True, help="p(link|mention) at least this.")  # fmt: skip
@click.option("--all", "show_all", is_flag=True, help="Also list dictionary mentions the thresholds drop.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def detect_command(
    workdir: str,
    text: str,
    lang: str,
    min_commonness: float,
    min_mention_count: int,
    min_link_prob: float,
    show_all: bool,
    as_json: bool,
) -> None:
    """Detect entity mentions in --text as `mluke-train finetune qa --entities mentions` does.

    \b
    Examples:
      mluke-data mentions detect ./out --lang ja --text "東京は日本の首都である。" --json
      mluke-data mentions detect ./out --lang en --text "The Rhine flows through Cologne." --all
    """
    code = (parse_langs_option(lang) or [lang])[0]
    found = detect_mentions(workdir, text, code, min_commonness, min_mention_count, min_link_prob)
    shown = [f for f in found if f.detected or show_all]
    if as_json:
        click.echo(json.dumps([asdict(f) for f in shown], indent=1, ensure_ascii=False))
        return
    console = wide_console()
    detected = sum(1 for f in found if f.detected)
    console.print(
        f"{detected} mention(s) detected in {len(text)} characters ({code}; commonness >= {min_commonness}, "
        f"mention_count >= {min_mention_count}, link_prob >= {min_link_prob})"
        + ("" if show_all else f"; {len(found) - detected} dropped by the thresholds (--all lists them)")
    )
    table = Table()
    for column in ("span", "text", "entity", "wikidata", "id", "commonness", "link prob", "pages linked/seen",
                   "why"):  # fmt: skip
        table.add_column(column, justify="right" if column in ("id", "commonness", "link prob") else "left")
    for f in shown:
        style = "" if f.detected else "dim"
        table.add_row(
            f"{f.start}-{f.end}",
            f.text,
            f.entity,
            f.wikidata_id,
            str(f.entity_id),
            f"{f.commonness:.3f}",
            f"{f.link_prob:.4f}",
            f"{f.link_doc_count:,}/{f.doc_count:,}",
            f.why,
            style=style,
        )
    console.print(table)
