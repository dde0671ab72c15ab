"""Small QA fixtures: a tiny exported model, SQuAD-format data in three languages, a mention dictionary.

``build_model(root)`` runs the real chain on ``training_fixtures``' work directory: a 2-step tiny
pretraining and ``mluke-train export``. ``qa_json(lang, ...)`` writes paragraphs made of facts
about the fixture's entities (born in, studied, river through a city) with questions whose answers
are spans of the paragraph; their character offsets are computed, not typed. Contexts run past one
window of the tests' short sequences so the sliding window is exercised.
``write_mention_dictionary(work)`` writes ``vocab/mentions/{lang}.parquet`` as the vocab stage does
(MENTIONS_SCHEMA) for the fixture's entity titles, with a few rows that the thresholds must drop
(a rare anchor, an ambiguous word, and a frequent word with a low link probability).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from training_fixtures import ENTITIES, LANGS, Fixture, build_workdir

from schemas.mentions import normalize_mention
from schemas.vocab import MENTIONS_DIR, VOCAB_DIR
from schemas.vocab_tables import MENTIONS_SCHEMA, language_table_name

# (fact template, question template, answer slot); {slot} fills with a title, {year} with a number.
FACTS: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        ("{person} was born in {city} in {year}.", "Where was {person} born?", "city"),
        ("{person} was born in {city} in {year}.", "In which year was {person} born?", "year"),
        ("{person} studied {field} at the {university}.", "What did {person} study?", "field"),
        ("The {river} flows through {city}.", "Which river flows through {city}?", "river"),
    ],
    "de": [
        ("{person} wurde {year} in {city} geboren.", "Wo wurde {person} geboren?", "city"),
        ("{person} wurde {year} in {city} geboren.", "In welchem Jahr wurde {person} geboren?", "year"),
        ("{person} studierte {field} an der {university}.", "Was studierte {person}?", "field"),
        ("Der Fluss {river} fließt durch {city}.", "Welcher Fluss fließt durch {city}?", "river"),
    ],
    "ja": [
        ("{person}は{year}年に{city}で生まれた。", "{person}はどこで生まれたか？", "city"),
        ("{person}は{year}年に{city}で生まれた。", "{person}は何年に生まれたか？", "year"),
        ("{person}は{university}で{field}を学んだ。", "{person}は何を学んだか？", "field"),
        ("{river}は{city}を流れる。", "{city}を流れる川は何か？", "river"),
    ],
}
FILLER: dict[str, list[str]] = {
    "en": [
        "Many tourists visit {city} every summer to see the old bridges.",
        "Rain fell for three days and the streets of the old town were quiet.",
    ],
    "de": [
        "Viele Touristen besuchen {city} im Sommer, um die alten Brücken zu sehen.",
        "Es regnete drei Tage lang, und die Straßen der Altstadt waren still.",
    ],
    "ja": ["多くの観光客が夏に{city}を訪れ、古い橋を見る。", "三日間雨が降り、旧市街の通りは静かだった。"],
}
SEPARATOR = {"en": " ", "de": " ", "ja": ""}


@dataclass
class QAModel:
    work: Fixture
    export: Path


def build_model(root: Path) -> QAModel:
    from training.cli import main

    work = build_workdir(root / "work", pages={"en": 40, "de": 30, "ja": 20})
    runner = CliRunner()
    run = root / "pretrain"
    args = ["pretrain", "--data", str(work.shards), "--preset", "tiny", "--output", str(run)]
    result = runner.invoke(main, [*args, "--max-steps", "2", "--num-workers", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    export = root / "export"
    result = runner.invoke(main, ["export", str(run), str(export)])
    assert result.exit_code == 0, result.output
    return QAModel(work, export)


def _title(entity: tuple, lang: str) -> str:
    return entity[2 + LANGS.index(lang)]


def _fill(template: str, values: dict[str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    """The text and the character span of each slot."""
    text = ""
    spans: dict[str, tuple[int, int]] = {}
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text += before
        spans[slot] = (len(text), len(text) + len(values[slot]))
        text += values[slot]
    return text + rest, spans


def qa_json(lang: str, paragraphs: int, seed: int, prefix: str = "") -> dict:
    """SQuAD v1.1-format data: ``paragraphs`` paragraphs of four facts and two fillers, four questions each."""
    rng = random.Random(f"{seed}-{lang}")
    by_kind: dict[str, list[tuple]] = {}
    for entity in ENTITIES:
        by_kind.setdefault(entity[1], []).append(entity)
    data = []
    for number in range(paragraphs):
        sentences: list[tuple[str, str, str, tuple[int, int]]] = []  # (sentence, question, answer, span)
        people = rng.sample(by_kind["person"], 3)
        cities = rng.sample(by_kind["city"], 3)
        values: dict[str, str] = {}
        for index, (fact, question, slot) in enumerate(FACTS[lang]):
            if index != 1:  # the second question asks about the first fact again
                values = {
                    "person": _title(people[min(index, 2)], lang),
                    "city": _title(cities[index % 3], lang),
                    "field": _title(rng.choice(by_kind["field"]), lang),
                    "university": _title(rng.choice(by_kind["university"]), lang),
                    "river": _title(rng.choice(by_kind["river"]), lang),
                    "year": str(rng.randint(1700, 2000)),
                }
            sentence, spans = _fill(fact, values)
            asked, _ = _fill(question, values)
            sentences.append((sentence, asked, values[slot], spans[slot]))
        # The first two questions ask about the same sentence: keep it once.
        unique = [sentences[0], *sentences[2:]]
        fillers = [_fill(rng.choice(FILLER[lang]), {"city": _title(cities[2], lang)})[0] for _ in range(2)]
        parts = [unique[0][0], fillers[0], unique[1][0], fillers[1], unique[2][0]]
        context = SEPARATOR[lang].join(parts)
        starts = {}
        position = 0
        for part in parts:
            starts[part] = position
            position += len(part) + len(SEPARATOR[lang])
        qas = []
        for index, (sentence, question, answer, span) in enumerate(sentences):
            start = starts[sentence] + span[0]
            assert context[start : start + len(answer)] == answer
            qas.append(
                {
                    "id": f"{prefix}{lang}-{number}-{index}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": start}],
                }
            )
        data.append({"title": f"{lang}-{number}", "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "1.1", "data": data}


def write_json(path: Path, value: dict) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# Frequent words that are now and then a link: commonness alone keeps them (when linked they
# point at one entity), link probability drops them (written in every text, rarely linked).
COMMON_WORDS = {"en": "the", "de": "der", "ja": "川"}


def _mention_row(work: Fixture, lang: str, mention: str, entity_id: int, counts: tuple[int, ...]) -> tuple:
    count, total, docs, link_docs = counts
    title = next((_title(e, lang) for e in ENTITIES if work.entity_ids.get(e[0]) == entity_id), mention)
    key = normalize_mention(mention)
    return (lang, key, entity_id, f"{lang}:{title}", f"Q{1000 + entity_id}", count, total, count / total,
            docs, link_docs, link_docs / docs)  # fmt: skip


def write_mention_dictionary(work: Fixture) -> Path:
    """vocab/mentions/{lang}.parquet for the fixture's in-vocabulary entities (MENTIONS_SCHEMA)."""
    directory = work.root / VOCAB_DIR / MENTIONS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        rows: list[tuple] = []

        def add(mention: str, entity_id: int, count: int, total: int, docs: int, links: int) -> None:
            rows.append(_mention_row(work, lang, mention, entity_id, (count, total, docs, links)))  # noqa: B023

        for entity in ENTITIES:
            entity_id = work.entity_ids.get(entity[0])
            if entity_id is None:
                continue
            add(_title(entity, lang), entity_id, 40, 50, 60, 30)
        # Dropped by the thresholds: a rare anchor, an ambiguous word and a frequent common word.
        add({"en": "summer", "de": "Sommer", "ja": "夏"}[lang], 5, 1, 1, 40, 1)
        add({"en": "old", "de": "alten", "ja": "橋"}[lang], 6, 2, 20, 200, 10)
        add(COMMON_WORDS[lang], 7, 36, 40, 8000, 30)
        rows.sort(key=lambda row: (row[1], -row[5], row[2]))
        table = pa.Table.from_pylist(
            [dict(zip(MENTIONS_SCHEMA.names, row, strict=True)) for row in rows], schema=MENTIONS_SCHEMA
        )
        pq.write_table(table, directory / language_table_name(lang))
    return directory
