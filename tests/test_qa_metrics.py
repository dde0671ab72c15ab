"""The SQuAD v1.1 and MLQA scores on hand-made predictions; every expected value computed by hand."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from training.cli import main
from training.qa_metrics import (
    evaluate,
    mlqa_normalize,
    normalizer,
    reference_answers,
    resolve_metric,
    score_answer,
    squad_normalize,
)


def test_squad_normalization_is_the_official_one():
    assert squad_normalize("The  Eiffel Tower!") == "eiffel tower"
    assert squad_normalize("Albert Einstein's theory") == "albert einsteins theory"
    assert squad_normalize("an apple, a pear and the end.") == "apple pear and end"
    # Only ASCII punctuation goes: typographic quotes stay, as in the official script.
    assert squad_normalize("“Paris”") == "“paris”"
    assert squad_normalize("theatre") == "theatre"  # "the" is removed as a word only


# (prediction, references, EM, F1) under the SQuAD v1.1 metric.
SQUAD_CASES = [
    ("The Eiffel Tower", ["Eiffel Tower", "the tower"], 1.0, 1.0),
    # tokens in/paris/france vs paris: P = 1/3, R = 1, F1 = 2PR/(P+R) = 1/2
    ("in Paris, France", ["Paris"], 0.0, 0.5),
    ("1879", ["March 14, 1879", "1879."], 1.0, 1.0),
    # albert/einsteins/theory vs theory/of/relativity: one common token, P = R = 1/3
    ("Albert Einstein's theory", ["theory of relativity"], 0.0, 1 / 3),
    # Both normalise to "": equal strings, but v1.1's F1 has no common token.
    ("a", ["an"], 1.0, 0.0),
]


@pytest.mark.parametrize(("prediction", "references", "em", "f1"), SQUAD_CASES)
def test_squad_scores_of_single_answers(prediction, references, em, f1):
    got_em, got_f1 = score_answer(prediction, references, squad_normalize)
    assert got_em == em
    assert got_f1 == pytest.approx(f1, abs=1e-12)


def test_squad_totals_with_a_missing_prediction():
    references = {f"q{i}": refs for i, (_, refs, _, _) in enumerate(SQUAD_CASES)}
    references["q-missing"] = ["Berlin"]
    predictions = {f"q{i}": pred for i, (pred, _, _, _) in enumerate(SQUAD_CASES)}
    score = evaluate(references, predictions, "en", "squad")
    # EM: 3 of 6 questions. F1: (1 + 1/2 + 1 + 1/3 + 0 + 0) / 6 = (17/6) / 6 = 17/36.
    assert score.exact_match == pytest.approx(50.0)
    assert score.f1 == pytest.approx(100 * 17 / 36)
    assert (score.questions, score.missing, score.skipped) == (6, 1, 0)


def test_mlqa_normalization_per_language():
    assert mlqa_normalize("北京市", "zh") == "北 京 市"
    assert mlqa_normalize("《红楼梦》", "zh") == "红 楼 梦"  # Unicode punctuation goes
    assert mlqa_normalize("Windows 10版本", "zh") == "windows 10 版 本"
    assert mlqa_normalize("der Rhein", "de") == "rhein"
    assert mlqa_normalize("la casa", "es") == "casa"
    assert mlqa_normalize("những con mèo", "vi") == "con mèo"
    assert mlqa_normalize("القاهرة", "ar") == "قاهرة"
    assert mlqa_normalize("“Paris”", "en") == "paris"
    assert mlqa_normalize("東京都", "ja") == "東 京 都"
    assert mlqa_normalize("กรุงเทพ", "th") == "ก ร ุ ง เ ท พ"
    assert mlqa_normalize("die Katze", "fr") == "die katze"  # no article list: left alone


# (language, prediction, references, EM, F1) under the MLQA metric.
MLQA_CASES = [
    # 北/京/市 vs 北/京: P = 2/3, R = 1, F1 = (4/3) / (5/3) = 4/5
    ("zh", "北京市", ["北京"], 0.0, 0.8),
    ("zh", "《红楼梦》", ["红楼梦"], 1.0, 1.0),
    ("ja", "東京都", ["東京"], 0.0, 0.8),
    # 7 characters (ก ร ุ ง เ ท พ), all among the reference's 13: P = 1, R = 7/13, F1 = 14/20
    ("th", "กรุงเทพ", ["กรุงเทพมหานคร"], 0.0, 0.7),
    ("de", "der Rhein", ["Rhein"], 1.0, 1.0),
    ("ar", "القاهرة", ["قاهرة"], 1.0, 1.0),
    ("en", "“Paris”", ["Paris"], 1.0, 1.0),
]


@pytest.mark.parametrize(("lang", "prediction", "references", "em", "f1"), MLQA_CASES)
def test_mlqa_scores_of_single_answers(lang, prediction, references, em, f1):
    got_em, got_f1 = score_answer(prediction, references, normalizer("mlqa", lang))
    assert got_em == em
    assert got_f1 == pytest.approx(f1, abs=1e-12)


def test_the_squad_metric_on_the_same_predictions_differs():
    assert score_answer("北京市", ["北京"], squad_normalize) == (0.0, 0.0)  # one token each
    assert score_answer("《红楼梦》", ["红楼梦"], squad_normalize) == (0.0, 0.0)
    em, f1 = score_answer("der Rhein", ["Rhein"], squad_normalize)
    assert em == 0.0 and f1 == pytest.approx(2 / 3)  # P = 1/2, R = 1


def test_auto_is_character_level_for_zh_ja_th_only():
    assert [resolve_metric("auto", lang) for lang in ("zh", "ja", "th", "en", "de", "ko")] == [
        "mlqa",
        "mlqa",
        "mlqa",
        "squad",
        "squad",
        "squad",
    ]
    references = {"q1": ["北京"], "q2": ["红楼梦"], "q3": ["长江", "长江。"], "q4": ["黄河"]}
    predictions = {"q1": "北京市", "q2": "《红楼梦》", "q3": "黄河"}
    auto = evaluate(references, predictions, "zh")
    # q1: EM 0, F1 4/5; q2: 1, 1; q3: 0, 0; q4 missing: 0, 0.
    assert auto.metric == "mlqa"
    assert auto.exact_match == pytest.approx(25.0)
    assert auto.f1 == pytest.approx(45.0)
    squad = evaluate(references, predictions, "zh", "squad")
    assert (squad.exact_match, squad.f1) == (0.0, 0.0)


def _squad_file(path, qas):
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_impossible_questions_are_not_scored():
    data = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "x",
                        "qas": [
                            {"id": "a", "answers": [{"text": "Paris", "answer_start": 0}]},
                            {"id": "b", "answers": [], "is_impossible": True},
                        ],
                    }
                ]
            }
        ]
    }
    references = reference_answers(data)
    assert references == {"a": ["Paris"], "b": []}
    score = evaluate(references, {"a": "paris", "b": "anything"}, "en")
    assert (score.exact_match, score.questions, score.skipped) == (100.0, 1, 1)


def test_evaluate_qa_command(tmp_path):
    qas = [
        {"id": "q1", "question": "?", "answers": [{"text": "北京", "answer_start": 0}]},
        {"id": "q2", "question": "?", "answers": [{"text": "红楼梦", "answer_start": 0}]},
        {"id": "q3", "question": "?", "answers": [{"text": "长江", "answer_start": 0}]},
        {"id": "q4", "question": "?", "answers": [{"text": "黄河", "answer_start": 0}]},
    ]
    data = _squad_file(tmp_path / "xquad.zh.json", qas)
    predictions = tmp_path / "pred.json"
    predictions.write_text(json.dumps({"q1": "北京市", "q2": "《红楼梦》", "q3": "黄河"}), encoding="utf-8")
    runner = CliRunner()
    args = ["evaluate", "qa", "--predictions", str(predictions), "--data", str(data)]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["lang"] == "zh" and scores["metric"] == "mlqa"  # the language comes from the file name
    assert scores["exact_match"] == pytest.approx(25.0) and scores["f1"] == pytest.approx(45.0)
    assert scores["missing"] == 1
    result = runner.invoke(main, [*args, "--metric", "squad", "--lang", "zh"])
    assert result.exit_code == 0
    row = result.stdout.splitlines()[2].split()
    assert row == ["xquad.zh.json", "zh", "squad", "0.0", "0.0", "4"]

    predictions.write_text(json.dumps(["not", "a", "mapping"]), encoding="utf-8")
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "not a predictions file" in result.output
