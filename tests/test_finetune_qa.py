"""`mluke-train finetune qa`: windows, answers back to characters, mention linking, learning, resume, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402
from qa_fixtures import build_model, qa_json, write_json, write_mention_dictionary  # noqa: E402

from training.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from training.cli import main  # noqa: E402
from training.qa import (  # noqa: E402
    FeatureSettings,
    MentionDictionary,
    WordTokenizer,
    best_answers,
    build_features,
    entity_id_map,
    language_of,
    load_mention_dictionary,
    mention_units,
    normalize_mention,
    read_squad,
    resolve_vocab_dir,
)
from transforms.link_counts import normalize_mention as vocab_stage_normalize_mention  # noqa: E402

pytestmark = pytest.mark.train
REPO = Path(__file__).resolve().parents[1]
LANGS = ("en", "de", "ja")
# Short sequences so that every context needs two or more windows.
SHORT = ["--max-seq-length", "64", "--doc-stride", "24", "--max-query-length", "24"]
TRAIN = ["--max-steps", "200", "--batch-size", "16", "--learning-rate", "3e-3", "--warmup-ratio", "0.05"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa")
    model = build_model(root)
    mentions = write_mention_dictionary(model.work)
    files = {lang: write_json(root / f"train.{lang}.json", qa_json(lang, 12, seed=0)) for lang in LANGS}
    return model, mentions, files, root


def _run(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _eval_args(files) -> list[str]:
    return [arg for lang in LANGS for arg in ("--eval", f"{lang}={files[lang]}")]


def _train_args(files) -> list[str]:
    return [arg for lang in LANGS for arg in ("--train", str(files[lang]))]


def _f1(run_dir: Path) -> dict[str, float]:
    results = json.loads((run_dir / "results.json").read_text())
    return {name: values["f1"] for name, values in results["sets"].items()}


TRICKY = [
    "  Tokyo\u00a0Tower ",
    "ＡＢＣ　Ｎｅｗｓ",  # full-width letters and space
    "New\u200bYork",  # zero-width space
    "\u202aLondon\u202c  Bridge",  # direction marks
    "Straße",
    "İstanbul",
    "ﬁsh ① Ⅻ",
    "東京\u3000タワー",
    "e\u0301cole",  # combining accent: NFKC composes it
    "ДОМ\tКНИГИ\n",
    "",
]


def test_mention_normalization_is_the_vocab_stage_one():
    assert normalize_mention is vocab_stage_normalize_mention  # one definition, in schemas.mentions
    assert [normalize_mention(text) for text in TRICKY[:3]] == ["tokyo tower", "abc news", "new york"]
    for text in TRICKY:
        assert normalize_mention(normalize_mention(text)) == normalize_mention(text), repr(text)


def test_longest_match_and_units():
    assert [(s, e) for s, e in mention_units("Rhein, 1824.")] == [(0, 5), (5, 6), (7, 11), (11, 12)]
    assert len(mention_units("हिन्दी भाषा")) == 2  # combining vowel signs stay inside the word
    assert len(mention_units("ベルリン")) == 4  # one unit per character without spaces
    pairs = [("new york", 5), ("new york city", 6), ("york", 7), ("ドイツ", 9), ("ベルリン", 10)]
    linker = MentionDictionary.from_pairs("en", [(normalize_mention(m), i) for m, i in pairs])
    text = "From New  York City to york; ベルリンはドイツ。Newark"
    found = [(text[m.start : m.end], m.entity_id) for m in linker.detect(text)]
    assert found == [("New  York City", 6), ("york", 7), ("ベルリン", 10), ("ドイツ", 9)]


def test_mention_dictionary_thresholds_and_id_matching(setup, tmp_path):
    model, mentions, _, _ = setup
    vocab_dir = resolve_vocab_dir(mentions)
    assert resolve_vocab_dir(model.work.root) == vocab_dir == resolve_vocab_dir(vocab_dir)
    id_map, description = entity_id_map(vocab_dir, model.export, 10**6)
    assert all(our == theirs for our, theirs in id_map.items())  # exported from the same vocabulary
    assert description.startswith(f"{len(model.work.entity_ids)} of {len(model.work.entity_ids)} entities")
    en = load_mention_dictionary(vocab_dir, "en", id_map, min_commonness=0.3, min_mention_count=2)
    assert en.entities["berlin"] == model.work.entity_ids["berlin"]
    assert "summer" not in en.entities  # seen once as a link
    assert "old" not in en.entities  # commonness 0.1
    loose = load_mention_dictionary(vocab_dir, "en", id_map, min_commonness=0.05, min_mention_count=1)
    assert {"summer", "old"} <= set(loose.entities)
    # "the": commonness 0.9, but a link in 30 of the 8000 pages that have it
    assert "the" in en.entities
    assert "the" not in load_mention_dictionary(vocab_dir, "en", id_map, 0.3, 2, min_link_prob=0.01).entities
    assert "berlin" in load_mention_dictionary(vocab_dir, "en", id_map, 0.3, 2, min_link_prob=0.5).entities

    # A model with its own entity ids (another vocabulary): the ids follow the titles.
    other = tmp_path / "other"
    shutil.copytree(model.export, other)
    keys = json.loads((other / "entity_vocab.json").read_text())
    shifted = {key: (value if value < 4 else value + 100) for key, value in keys.items()}
    (other / "entity_vocab.json").write_text(json.dumps(shifted, ensure_ascii=False))
    id_map, _ = entity_id_map(vocab_dir, other, 10**6)
    ja = load_mention_dictionary(vocab_dir, "ja", id_map, 0.3, 2)
    assert ja.entities["ベルリン"] == model.work.entity_ids["berlin"] + 100


def test_link_probability_drops_frequent_common_words(setup, tmp_path):
    """--entities mentions on the QA fixture: with the default --min-link-prob fewer mentions are
    found than with commonness alone, "the" / "der" / "川" are no longer entities, and every
    entity title still is."""
    from qa_fixtures import COMMON_WORDS, _title
    from training_fixtures import ENTITIES

    model, mentions, files, _ = setup
    found: dict[str, dict[str, dict[str, int]]] = {}
    for name, extra in (("commonness-only", ["--min-link-prob", "0"]), ("default", [])):
        run = tmp_path / name
        args = [
            "finetune",
            "qa",
            "--model",
            str(model.export),
            "--output",
            str(run),
            "--entities",
            "mentions",
        ]
        _run([*args, "--mention-dict", str(mentions), *SHORT, *extra, *_eval_args(files)])
        record = json.loads((run / "run.json").read_text())
        found[name] = {lang: record["eval"][lang]["mentions"] for lang in LANGS}
    for lang in LANGS:
        loose, strict = found["commonness-only"][lang], found["default"][lang]
        assert strict["context"] < loose["context"] and strict["question"] <= loose["question"], (
            loose,
            strict,
        )

    vocab_dir = resolve_vocab_dir(mentions)
    id_map, _ = entity_id_map(vocab_dir, model.export, 10**6)
    for lang in LANGS:
        data = read_squad(files[lang], lang)
        texts = data.contexts + [ex.question for ex in data.examples]
        before = load_mention_dictionary(vocab_dir, lang, id_map, 0.3, 2, min_link_prob=0.0)
        after = load_mention_dictionary(vocab_dir, lang, id_map, 0.3, 2, min_link_prob=0.01)
        word = COMMON_WORDS[lang]
        spans_before = [normalize_mention(t[m.start : m.end]) for t in texts for m in before.detect(t)]
        spans_after = [normalize_mention(t[m.start : m.end]) for t in texts for m in after.detect(t)]
        assert spans_before.count(word) >= 10, (lang, spans_before[:20])  # frequent, and an entity
        assert word not in spans_after
        titles = {normalize_mention(_title(e, lang)) for e in ENTITIES if e[0] in model.work.entity_ids}
        assert Counter(m for m in spans_after if m in titles) == Counter(
            m for m in spans_before if m in titles
        )


@pytest.mark.parametrize("lang", LANGS)
def test_windows_and_answers_back_to_characters(setup, lang):
    model, mentions, files, _ = setup
    tokenizer = WordTokenizer.from_model_dir(model.export)
    data = read_squad(files[lang], lang)
    vocab_dir = resolve_vocab_dir(mentions)
    id_map, _ = entity_id_map(vocab_dir, model.export, 10**6)
    linker = load_mention_dictionary(vocab_dir, lang, id_map, 0.3, 2)
    settings = FeatureSettings(max_seq_length=48, doc_stride=16, max_query_length=24)
    features = build_features(data, tokenizer, settings, training=True, linker=linker)
    assert features.stats["answer_not_found"] == 0 and features.stats["answer_outside_windows"] == 0
    assert len(features.features) > 1.5 * len(data.examples)  # contexts span several windows
    assert all(len(f.input_ids) <= 48 for f in features.features)

    # One-hot scores at the labelled tokens of a window that holds the answer give back the
    # answer's text, cut from the original context.
    labelled = [i for i, f in enumerate(features.features) if f.start_position > 0]
    assert len({features.features[i].example for i in labelled}) == len(data.examples)
    checked = set()
    for window in labelled:
        feature = features.features[window]
        start = feature.start_position - feature.context_offset
        if not feature.max_context[start]:
            continue  # the answer's start has more context in another window, which is checked
        starts = [np.full(f.window_length, -5.0) for f in features.features]
        ends = [np.full(f.window_length, -5.0) for f in features.features]
        starts[window][start] = 5.0
        ends[window][feature.end_position - feature.context_offset] = 5.0
        example = data.examples[feature.example]
        text, answer_start = example.answers[0]
        predicted = best_answers(features, starts, ends)[example.qid]
        # The answer's tokens, cut from the original text: the answer itself, or more when a
        # token runs past it ("1886." for 1886 when "86." is one piece).
        context = data.contexts[example.paragraph]
        offsets = features.contexts[example.paragraph].offsets
        first = feature.window_start + start
        last = feature.window_start + feature.end_position - feature.context_offset
        assert predicted == context[offsets[first][0] : offsets[last][1]]
        assert text in predicted and len(predicted) <= len(text) + 2, (text, predicted)
        assert offsets[first][0] <= answer_start < offsets[first][1]
        checked.add(example.qid)
    assert len(checked) == len(data.examples)

    # Entities sit on the tokens of their mentions, in the question or in the window.
    with_entities = [f for f in features.features if len(f.entity_ids)]
    assert len(with_entities) > len(features.features) // 2
    for feature in with_entities:
        example = data.examples[feature.example]
        question = tokenizer.encode_many([example.question])[0]
        context = features.contexts[example.paragraph]
        for entity, positions in zip(feature.entity_ids, feature.entity_positions, strict=True):
            assert positions == list(range(positions[0], positions[-1] + 1))
            if positions[-1] < feature.context_offset:
                offsets = [question.offsets[p - 1] for p in positions]
                mentions = linker.detect(example.question)
            else:
                assert positions[0] >= feature.context_offset
                assert positions[-1] < feature.context_offset + feature.window_length
                offsets = [
                    context.offsets[feature.window_start + p - feature.context_offset] for p in positions
                ]
                mentions = linker.detect(data.contexts[example.paragraph])
            start, end = offsets[0][0], offsets[-1][1]
            assert any(m.entity_id == entity and start <= m.start and m.end <= end for m in mentions)


def test_a_sentencepiece_only_directory_gets_the_same_ids(setup, tmp_path):
    """An mLUKE release ships sentencepiece.bpe.model without tokenizer.json: XLM-R ids all the same."""
    model = setup[0]
    bare = tmp_path / "bare"
    shutil.copytree(model.export, bare)
    (bare / "tokenizer.json").unlink()
    texts = [
        q["question"]
        for lang in LANGS
        for a in qa_json(lang, 2, 1)["data"]
        for q in a["paragraphs"][0]["qas"]
    ]
    texts += ["Ω ｆｕｌｌ  width", "東京は日本の首都である。"]
    exported = WordTokenizer.from_model_dir(model.export).encode_many(texts)
    converted = WordTokenizer.from_model_dir(bare).encode_many(texts)
    assert [e.ids for e in exported] == [c.ids for c in converted]
    assert [e.offsets for e in exported] == [c.offsets for c in converted]


def test_impossible_questions_are_flagged_and_skipped(setup, tmp_path):
    model, _, files, _ = setup
    data = json.loads(files["en"].read_text())
    qas = data["data"][0]["paragraphs"][0]["qas"]
    qas.append(
        {"id": "impossible-1", "question": "Who built the moon?", "answers": [], "is_impossible": True}
    )
    path = write_json(tmp_path / "v2.en.json", data)
    loaded = read_squad(path, "en")
    assert loaded.stats["impossible"] == 1
    tokenizer = WordTokenizer.from_model_dir(model.export)
    features = build_features(loaded, tokenizer, FeatureSettings(64, 24, 24), training=True)
    assert features.stats["impossible_skipped"] == 1
    assert loaded.references()["impossible-1"] == []


def test_eval_names_give_languages():
    assert language_of("xquad.de") == "de"
    assert language_of("dev-v1.1.json") is None
    assert language_of("x", "data/test-context-zh-question-zh.json") == "zh"


@pytest.fixture(scope="module")
def before(setup):
    """The exported model with a fresh span head, scored on the training data."""
    model, _, files, root = setup
    run = root / "before"
    _run(["finetune", "qa", "--model", str(model.export), "--output", str(run), *SHORT, *_eval_args(files)])
    return _f1(run)


@pytest.mark.parametrize("entities", ["none", "mentions"])
def test_finetuning_learns_the_training_set(setup, before, entities):
    model, mentions, files, root = setup
    run = root / f"run-{entities}"
    args = ["finetune", "qa", "--model", str(model.export), "--output", str(run), "--entities", entities]
    args += ["--mention-dict", str(mentions), *SHORT, *TRAIN, "--no-progress", *_train_args(files)]
    result = _run([*args, *_eval_args(files)])
    after = _f1(run)
    for lang in LANGS:
        assert before[lang] < 15, before
        assert after[lang] > before[lang] + 30, (before, after)
    assert np.mean(list(after.values())) > 55, after
    assert "average" in result.stdout and "ja" in result.stdout

    record = json.loads((run / "run.json").read_text())
    train_stats = record["train"][str(files["de"])]
    assert train_stats["lang"] == "de" and train_stats["questions"] == 48
    if entities == "mentions":
        assert train_stats["mentions"]["question"] > 30 and train_stats["mentions"]["context"] > 60
        assert record["mention_dictionaries"] == {"de": 35, "en": 35, "ja": 35}
    else:
        assert "mentions" not in train_stats
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 200 and metrics[-1]["loss"] < metrics[0]["loss"] / 2

    # The predictions file scores the same with `evaluate qa`.
    predictions = run / "predictions" / "ja.json"
    scored = _run(["evaluate", "qa", "--predictions", str(predictions), "--data", str(files["ja"]), "--json"])
    assert json.loads(scored.stdout)["f1"] == pytest.approx(after["ja"])

    # The fine-tuned model directory evaluates alone to the same answers.
    again = root / f"again-{entities}"
    args = ["finetune", "qa", "--model", str(run / "model"), "--output", str(again), "--entities", entities]
    _run([*args, "--mention-dict", str(mentions), *SHORT, "--eval", f"ja={files['ja']}"])
    assert json.loads((again / "predictions" / "ja.json").read_text()) == json.loads(predictions.read_text())


def test_resume_continues_exactly(setup, tmp_path):
    model, _, files, _ = setup
    full = tmp_path / "full"
    common = ["finetune", "qa", "--model", str(model.export), "--train", str(files["en"]), *SHORT]
    common += ["--max-steps", "12", "--batch-size", "8", "--learning-rate", "3e-3", "--no-progress"]
    common += ["--save-every", "6", "--keep-last", "2", "--log-every", "1"]
    _run([*common, "--output", str(full)])
    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    for step, path in list_checkpoints(resumed):
        if step == 12:
            path.unlink()
    shutil.rmtree(resumed / "model")
    refused = CliRunner().invoke(main, [*common, "--output", str(resumed)])
    assert refused.exit_code == 2 and "--resume" in refused.output
    _run([*common, "--output", str(resumed), "--resume"])
    a = load_checkpoint(list_checkpoints(full)[-1][1])["model"]
    b = load_checkpoint(list_checkpoints(resumed)[-1][1])["model"]
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name
    losses = [json.loads(line)["loss"] for line in (full / "metrics.jsonl").read_text().splitlines()]
    again = [json.loads(line)["loss"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert losses == again and len(losses) == 12
    changed = CliRunner().invoke(main, [*common, "--output", str(resumed), "--resume", "--seed", "7"])
    assert changed.exit_code == 2 and "seed" in changed.output


def test_two_gloo_ranks_match_one_process(setup, tmp_path):
    model, mentions, files, _ = setup
    args = ["finetune", "qa", "--model", str(model.export), "--train", str(files["de"]), *SHORT]
    args += [
        "--entities",
        "mentions",
        "--mention-dict",
        str(mentions),
        "--max-steps",
        "4",
        "--batch-size",
        "8",
    ]
    args += ["--micro-batch-size", "2", "--learning-rate", "3e-3", "--log-every", "1", "--no-progress"]
    args += ["--eval", f"de={files['de']}"]
    ddp = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "training.cli", *args, "--output", str(ddp)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    single = tmp_path / "single"
    _run([*args, "--output", str(single)])
    a = load_checkpoint(list_checkpoints(ddp)[-1][1])
    b = load_checkpoint(list_checkpoints(single)[-1][1])
    assert len(a["rng"]) == 2
    for name, tensor in b["model"].items():
        if name == "qa_outputs.bias":
            # A softmax over positions does not see a shift of all scores: this bias gets a zero
            # gradient up to rounding, which Adam scales up; its value never changes an answer.
            continue
        assert torch.allclose(tensor, a["model"][name], atol=1e-5, rtol=1e-4), name
    ddp_losses = [json.loads(line)["loss"] for line in (ddp / "metrics.jsonl").read_text().splitlines()]
    single_losses = [json.loads(line)["loss"] for line in (single / "metrics.jsonl").read_text().splitlines()]
    assert ddp_losses == pytest.approx(single_losses, rel=1e-5)
    # Evaluation shares the windows between the ranks and gathers them: the same answers.
    assert json.loads((ddp / "predictions" / "de.json").read_text()) == json.loads(
        (single / "predictions" / "de.json").read_text()
    )


def test_user_errors_are_one_line(setup, tmp_path):
    model, _, files, _ = setup
    base = ["finetune", "qa", "--model", str(model.export), "--output", str(tmp_path / "x")]
    cases = [
        (["--train", str(files["en"]), "--entities", "mentions"], "--mention-dict"),
        (["--eval", f"en={files['en']}", "--max-seq-length", "512"], "positions"),
        ([], "nothing to do"),
        (["--eval", f"en={files['en']}", "--eval", f"en={files['de']}"], "given twice"),
        (["--eval", f"en={files['en']}", "--eval-lang", "xx=de"], "names no --eval set"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(main, [*base, *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1.1"}')
    result = CliRunner().invoke(main, [*base, "--eval", f"en={bad}"])
    assert result.exit_code == 2 and "SQuAD-format" in result.output
