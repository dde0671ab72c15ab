"""Extractive QA scores: the SQuAD v1.1 metric and MLQA's language-aware variant.

Both score a prediction against every reference answer of a question and keep the best; exact
match (EM) and F1 over tokens are averaged over all questions of the data, in percent. A question
without a prediction counts with 0 (as the official scripts do).

``squad``: SQuAD v1.1's normalisation: lower-case, drop ASCII punctuation (``string.punctuation``),
drop the English articles a/an/the, split on whitespace. Scripts written without spaces become one
token per run of text, so F1 there is close to EM.

``mlqa``: MLQA's normalisation: lower-case, drop every Unicode punctuation character (categories
P*) and ASCII punctuation, drop the articles of the answer's language (en, es, de, vi, ar), then
split on whitespace, except for Chinese where each Han character is a token of its own. Japanese
and Thai are treated like Chinese here (each kana, Han or Thai character a token; MLQA itself has
neither language): character-level F1.

``auto`` (the default of the commands): ``mlqa`` for zh, ja and th, ``squad`` for every other
language. XTREME-style XQuAD tables use ``squad`` for all languages.
"""

from __future__ import annotations

import functools
import json
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TrainingError

METRICS = ("auto", "squad", "mlqa")
CHARACTER_LEVEL_LANGS = frozenset({"zh", "ja", "th"})

_SQUAD_PUNCTUATION = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

# MLQA's article lists; Arabic's pattern removes the definite article "ال" wherever it occurs.
_MLQA_ARTICLES: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile("ال"),
}

# Characters that form a token each. Chinese keeps MLQA's own range exactly.
_CHARACTER_TOKENS: dict[str, re.Pattern[str]] = {
    "zh": re.compile(r"[\u4e00-\u9fa5]"),
    "ja": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
}


@functools.cache
def unicode_punctuation() -> frozenset[str]:
    """Every character of a Unicode punctuation category, plus ASCII punctuation (MLQA's set)."""
    found = {chr(code) for code in range(sys.maxunicode) if unicodedata.category(chr(code)).startswith("P")}
    return frozenset(found | _SQUAD_PUNCTUATION)


def resolve_metric(metric: str, lang: str) -> str:
    if metric not in METRICS:
        raise TrainingError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if metric == "auto":
        return "mlqa" if lang in CHARACTER_LEVEL_LANGS else "squad"
    return metric


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's answer normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in _SQUAD_PUNCTUATION)
    text = _SQUAD_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _mixed_segmentation(text: str, single: re.Pattern[str], punctuation: frozenset[str]) -> list[str]:
    tokens: list[str] = []
    pending = ""
    for char in text:
        if single.match(char) or char in punctuation:
            tokens.extend(pending.split())
            pending = ""
            tokens.append(char)
        else:
            pending += char
    tokens.extend(pending.split())
    return tokens


def mlqa_normalize(text: str, lang: str) -> str:
    """MLQA's answer normalisation for ``lang`` (unknown languages: no articles, whitespace split)."""
    punctuation = unicode_punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punctuation)
    articles = _MLQA_ARTICLES.get(lang)
    if articles is not None:
        text = articles.sub(" ", text)
    single = _CHARACTER_TOKENS.get(lang)
    tokens = _mixed_segmentation(text, single, punctuation) if single is not None else text.split()
    return " ".join(token for token in tokens if token.strip())


def normalizer(metric: str, lang: str) -> Callable[[str], str]:
    resolved = resolve_metric(metric, lang)
    if resolved == "squad":
        return squad_normalize
    return functools.partial(mlqa_normalize, lang=lang)


def f1_tokens(prediction: list[str], reference: list[str]) -> float:
    common = Counter(prediction) & Counter(reference)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction)
    recall = same / len(reference)
    return 2 * precision * recall / (precision + recall)


def score_answer(
    prediction: str, references: Iterable[str], normalize: Callable[[str], str]
) -> tuple[float, float]:
    """(exact match, F1) of one prediction: the best over the reference answers, each in [0, 1]."""
    predicted = normalize(prediction)
    predicted_tokens = predicted.split()
    best_em = best_f1 = 0.0
    for reference in references:
        normalized = normalize(reference)
        best_em = max(best_em, float(predicted == normalized))
        best_f1 = max(best_f1, f1_tokens(predicted_tokens, normalized.split()))
    return best_em, best_f1


@dataclass
class Score:
    exact_match: float  # percent
    f1: float  # percent
    questions: int
    missing: int  # questions without a prediction (scored 0)
    skipped: int  # questions without a reference answer (SQuAD 2.0 impossible), not scored
    metric: str
    lang: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "exact_match": self.exact_match,
            "f1": self.f1,
            "questions": self.questions,
            "missing": self.missing,
            "skipped": self.skipped,
            "metric": self.metric,
            "lang": self.lang,
        }


def evaluate(
    references: Mapping[str, list[str]], predictions: Mapping[str, str], lang: str, metric: str = "auto"
) -> Score:
    """Scores ``predictions`` (question id -> answer text) against ``references`` (id -> answers)."""
    resolved = resolve_metric(metric, lang)
    normalize = normalizer(resolved, lang)
    em = f1 = 0.0
    questions = missing = skipped = 0
    for qid, answers in references.items():
        if not answers:
            skipped += 1
            continue
        questions += 1
        if qid not in predictions:
            missing += 1
            continue
        one_em, one_f1 = score_answer(str(predictions[qid]), answers, normalize)
        em += one_em
        f1 += one_f1
    scale = 100.0 / questions if questions else 0.0
    return Score(em * scale, f1 * scale, questions, missing, skipped, resolved, lang)


def reference_answers(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Question id -> reference answer texts of SQuAD-format data (empty for impossible questions)."""
    out: dict[str, list[str]] = {}
    for article in data.get("data", []):
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                out[str(qa["id"])] = [] if impossible else [a["text"] for a in qa.get("answers", [])]
    return out


def read_json(path: str | Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise TrainingError(f"{what} {path} does not exist") from None
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {what} {path}: {error}") from None


def read_predictions(path: str | Path) -> dict[str, str]:
    """A predictions file: {"question id": "answer text", ...} (the SQuAD evaluation format)."""
    loaded = read_json(path, "predictions file")
    if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
        raise TrainingError(f"{path} is not a predictions file: expected a JSON object of id -> answer text")
    return {str(key): value for key, value in loaded.items()}


def format_table(rows: list[tuple[str, Score]], average: tuple[float, float] | None = None) -> str:
    """The per-set table the commands print: name, language, metric, EM, F1, questions."""
    header = ("set", "lang", "metric", "EM", "F1", "questions")
    lines = [
        (name, score.lang, score.metric, f"{score.exact_match:.1f}", f"{score.f1:.1f}", str(score.questions))
        for name, score in rows
    ]
    if average is not None:
        lines.append(("average", "", "", f"{average[0]:.1f}", f"{average[1]:.1f}", ""))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[i].ljust(widths[i]) if i < 3 else row[i].rjust(widths[i]) for i in range(len(row))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    out = [fmt(header), rule, *(fmt(line) for line in lines[: len(rows)])]
    if average is not None:
        out += [rule, fmt(lines[-1])]
    return "\n".join(out)
