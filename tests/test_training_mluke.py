"""mluke-train is mLUKE: tied decoders, plain attention, the published sizes, continuing published models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from training_fixtures import build_workdir  # noqa: E402

from training.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint  # noqa: E402
from training.cli import main  # noqa: E402
from training.data import ExampleStream, StreamConfig  # noqa: E402
from training.init import apply_source, read_source  # noqa: E402
from training.masking import IGNORE, Masker, MaskingConfig  # noqa: E402
from training.model import (  # noqa: E402
    FusedLukeSelfAttention,
    build_config,
    check_tied,
    new_model,
    parameter_count,
)
from training.shards import open_shard_set  # noqa: E402
from training.vocab import load_entity_vocab, load_word_vocab  # noqa: E402

pytestmark = pytest.mark.train

LAYOUT_EXTRA_WORDS = 2  # <ent>, <ent2>


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short run of ours whose losses have clearly come down."""
    root = tmp_path_factory.mktemp("mluke")
    fixture = build_workdir(root / "work")
    run = root / "run"
    result = _invoke(
        "pretrain", "--data", str(fixture.shards), "--preset", "tiny", "--output", str(run),
        "--max-steps", "150", "--batch-size", "32", "--log-every", "5", "--save-every", "150",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return fixture, run


def test_base_preset_has_mluke_base_size():
    plain = parameter_count(build_config("base", None, 250_002, 1_200_000, 512))
    # mLUKE-base: 585M parameters (278M encoder + word embeddings, 307M entity embeddings).
    assert 585e6 <= plain["total"] <= 588.5e6, plain
    assert plain["entity_embeddings"] == 1_200_000 * 256
    aware = parameter_count(build_config("base", None, 250_002, 1_200_000, 512, entity_aware_attention=True))
    assert aware["total"] - plain["total"] == 12 * 3 * (768 * 768 + 768)  # w2e/e2w/e2e queries


def test_decoders_are_tied_and_attention_is_plain_and_fused():
    config = build_config("tiny", None, 300, 40, 64)
    model = new_model(config, seed=0)
    check_tied(model)
    assert not config.use_entity_aware_attention
    assert all(isinstance(layer.attention.self, FusedLukeSelfAttention) for layer in model.luke.encoder.layer)
    reference = transformers.LukeForMaskedLM(build_config("tiny", None, 300, 40, 64))
    reference.load_state_dict(model.state_dict())
    model.eval(), reference.eval()
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "input_ids": torch.randint(3, 300, (3, 20), generator=generator),
        "attention_mask": torch.ones(3, 20, dtype=torch.long),
        "entity_ids": torch.randint(4, 40, (3, 4), generator=generator),
        "entity_attention_mask": torch.ones(3, 4, dtype=torch.long),
        "entity_position_ids": torch.full((3, 4, 5), -1),
    }
    inputs["attention_mask"][1, 14:] = 0
    inputs["entity_attention_mask"][2, 2:] = 0
    inputs["entity_position_ids"][:, :, 0] = torch.arange(4) + 1
    ours, theirs = model(**inputs), reference(**inputs)
    assert torch.allclose(ours.logits, theirs.logits, atol=1e-4)
    assert torch.allclose(ours.entity_logits, theirs.entity_logits, atol=1e-4)


def test_batches_list_their_targets_and_pad_entities_to_a_multiple_of_8(trained):
    fixture, _ = trained
    shard_set = open_shard_set([fixture.shards])
    vocab = load_word_vocab(fixture.tokenizer)
    stream = ExampleStream(
        [lang.files for lang in shard_set.languages],
        shard_set.sizes(),
        StreamConfig(seed=3, global_batch_size=8, micro_batch_size=8),
        Masker(MaskingConfig(), vocab.mask_id, vocab.size),
    )
    for micro in stream.micro_batches(0, max_steps=4):
        arrays = micro.arrays
        assert (arrays["input_ids"].shape[1] + arrays["entity_ids"].shape[1]) % 8 == 0
        labels = arrays["labels"].reshape(-1)
        assert np.array_equal(arrays["word_target_index"], np.flatnonzero(labels != IGNORE))
        assert np.array_equal(arrays["word_target_ids"], labels[labels != IGNORE])
        entity_labels = arrays["entity_labels"].reshape(-1)
        assert np.array_equal(arrays["entity_target_ids"], entity_labels[entity_labels != IGNORE])
        padded = arrays["entity_attention_mask"] == 0
        assert (arrays["entity_position_ids"][padded] == -1).all()


def make_published_layout(run: Path, out: Path, seed: int = 0) -> np.ndarray:
    """What studio-ousia/mluke-base looks like, made from a run of ours: <ent>/<ent2> rows appended,
    decoder weights dropped, entity-aware queries copied from the query, entity ids permuted with
    [MASK2] last. Returns ``permutation``: our entity id -> published row."""
    state = load_checkpoint(latest_checkpoint(run))
    weights = {name: tensor.clone() for name, tensor in state["model"].items()}
    config = dict(state["model_config"])
    vocab = load_entity_vocab(run / "tokenizer" / "entity_vocab.jsonl")
    generator = torch.Generator().manual_seed(seed)
    words = weights["luke.embeddings.word_embeddings.weight"]
    weights["luke.embeddings.word_embeddings.weight"] = torch.cat(
        [words, torch.randn(LAYOUT_EXTRA_WORDS, words.shape[1], generator=generator)]
    )
    weights["lm_head.bias"] = torch.cat([weights["lm_head.bias"], torch.zeros(LAYOUT_EXTRA_WORDS)])
    for name in ("lm_head.decoder.weight", "lm_head.decoder.bias", "entity_predictions.decoder.weight"):
        weights.pop(name)
    for layer in range(config["num_hidden_layers"]):
        base = f"luke.encoder.layer.{layer}.attention.self."
        for kind in ("weight", "bias"):
            for extra in ("w2e_query", "e2w_query", "e2e_query"):
                weights[f"{base}{extra}.{kind}"] = weights[f"{base}query.{kind}"].clone()
    mask2 = vocab.hf_keys["[MASK2]"]
    others = [i for i in range(vocab.size) if i != mask2]
    order = np.random.default_rng(seed).permutation(others)
    permutation = np.empty(vocab.size, dtype=np.int64)
    permutation[order] = np.arange(len(order))
    permutation[mask2] = vocab.size - 1
    inverse = torch.from_numpy(np.argsort(permutation))
    for name in ("luke.entity_embeddings.entity_embeddings.weight", "entity_predictions.bias"):
        weights[name] = weights[name][inverse].contiguous()
    out.mkdir(parents=True)
    save_file({name: tensor.contiguous() for name, tensor in weights.items()}, str(out / "model.safetensors"))
    config.update(vocab_size=config["vocab_size"] + LAYOUT_EXTRA_WORDS, use_entity_aware_attention=True)
    config["model_type"] = "luke"
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    keys = {key: int(permutation[entity_id]) for key, entity_id in vocab.hf_keys.items()}
    (out / "entity_vocab.json").write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")
    shutil.copyfile(run / "tokenizer" / "sentencepiece.bpe.model", out / "sentencepiece.bpe.model")
    return permutation


def test_a_published_directory_maps_every_word_and_entity_row(trained, tmp_path):
    fixture, run = trained
    published = tmp_path / "published"
    permutation = make_published_layout(run, published)
    source = read_source(published)
    assert source.kind == "luke"
    words, entities = load_word_vocab(fixture.tokenizer), load_entity_vocab(fixture.entity_vocab)
    config = build_config("tiny", None, words.size, entities.size, 128, architecture=source.architecture)
    model = new_model(config, seed=5)
    report = apply_source(model, source, words, entities)
    check_tied(model)
    assert report["words"] == {
        "tokenizer": "identical",
        "ours": words.size,
        "mapped": words.size,
        "source_rows": words.size + LAYOUT_EXTRA_WORDS,
        "source_rows_not_used": LAYOUT_EXTRA_WORDS,
    }
    assert report["entities"]["carried_over"] == entities.size - 4
    assert report["entities"]["new"] == 0 and report["entities"]["dropped"] == 0
    published_rows = source.state["luke.entity_embeddings.entity_embeddings.weight"]
    ours = model.luke.entity_embeddings.entity_embeddings.weight.detach()
    assert torch.equal(ours, published_rows[torch.from_numpy(permutation)])
    trained_state = load_checkpoint(latest_checkpoint(run))["model"]
    assert torch.equal(
        model.lm_head.decoder.weight.detach(), trained_state["luke.embeddings.word_embeddings.weight"]
    )


def test_entities_new_to_the_published_model_start_as_its_mask(trained, tmp_path):
    fixture, run = trained
    published = tmp_path / "published"
    permutation = make_published_layout(run, published)
    keys = json.loads((published / "entity_vocab.json").read_text())
    entities = load_entity_vocab(fixture.entity_vocab)
    berlin = fixture.entity_ids["berlin"]
    keys = {key: row for key, row in keys.items() if entities.hf_keys.get(key) != berlin}
    (published / "entity_vocab.json").write_text(json.dumps(keys, ensure_ascii=False))
    source = read_source(published)
    words = load_word_vocab(fixture.tokenizer)
    model = new_model(
        build_config("tiny", None, words.size, entities.size, 128, architecture=source.architecture), 1
    )
    report = apply_source(model, source, words, entities)
    assert report["entities"]["new"] == 1 and report["entities"]["carried_over"] == entities.size - 5
    rows = source.state["luke.entity_embeddings.entity_embeddings.weight"]
    mask_row = rows[int(permutation[entities.hf_keys["[MASK]"]])]
    assert torch.equal(model.luke.entity_embeddings.entity_embeddings.weight[berlin].detach(), mask_row)


def test_another_tokenizer_is_refused_unless_partial_is_accepted(trained, tmp_path):
    fixture, run = trained
    published = tmp_path / "published"
    make_published_layout(run, published)
    import sentencepiece as spm

    text = tmp_path / "other.txt"
    text.write_text("\n".join(f"completely different words number {i} here" for i in range(300)))
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(tmp_path / "other"), vocab_size=60, model_type="unigram",
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2,
    )  # fmt: skip
    shutil.copyfile(tmp_path / "other.model", published / "sentencepiece.bpe.model")
    args = ["pretrain", "--data", str(fixture.shards), "--preset", "tiny", "--init", str(published)]
    args += ["--max-steps", "1", "--batch-size", "4"]
    result = _invoke(*args, "--output", str(tmp_path / "refused"))
    assert result.exit_code == 2
    assert "sentencepiece model differs from the shards' tokenizer" in result.output
    assert "--init-partial" in result.output and "Traceback" not in result.output
    result = _invoke(*args, "--output", str(tmp_path / "partial"), "--init-partial")
    assert result.exit_code == 0, result.output
    init = json.loads((tmp_path / "partial" / "run.json").read_text())["init"]
    assert (
        init["words"]["tokenizer"] == "mapped by piece"
        and 0 < init["words"]["mapped"] < init["words"]["ours"]
    )


def test_continuing_a_published_model_starts_where_it_ended(trained, tmp_path):
    fixture, run = trained
    published = tmp_path / "published"
    make_published_layout(run, published)
    ended = _metrics(run)
    start = {key: np.mean([r[key] for r in ended[:2]]) for key in ("mlm_loss", "entity_loss")}
    end = {key: np.mean([r[key] for r in ended[-3:]]) for key in ("mlm_loss", "entity_loss")}
    assert end["mlm_loss"] < 0.85 * start["mlm_loss"] and end["entity_loss"] < 0.85 * start["entity_loss"]

    continued = tmp_path / "continued"
    result = _invoke(
        "pretrain", "--data", str(fixture.shards), "--preset", "tiny", "--output", str(continued),
        "--init", str(published), "--max-steps", "3", "--batch-size", "16", "--log-every", "1",
        "--lr", "1e-5", "--seed", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "entities: 35 carried over, 0 new" in result.output
    first = {key: np.mean([r[key] for r in _metrics(continued)]) for key in ("mlm_loss", "entity_loss")}
    for key in ("mlm_loss", "entity_loss"):
        # Near where the run ended, far from where it began (a random decoder starts near ln V).
        assert first[key] < end[key] + 0.3 * (start[key] - end[key]), (key, start, end, first)
    state = load_checkpoint(list_checkpoints(continued)[-1][1])["model"]
    assert (
        state["lm_head.decoder.weight"].data_ptr()
        == state["luke.embeddings.word_embeddings.weight"].data_ptr()
    )


def test_export_writes_what_lukes_converter_writes(trained, tmp_path):
    _, run = trained
    out = tmp_path / "export"
    assert _invoke("export", str(run), str(out)).exit_code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["use_entity_aware_attention"] is False and config["tie_word_embeddings"] is True
    from safetensors.torch import load_file

    written = load_file(str(out / "model.safetensors"))
    assert torch.equal(written["lm_head.decoder.weight"], written["luke.embeddings.word_embeddings.weight"])
    for layer in range(config["num_hidden_layers"]):
        base = f"luke.encoder.layer.{layer}.attention.self."
        for name in ("w2e_query", "e2w_query", "e2e_query"):
            for kind in ("weight", "bias"):
                assert torch.equal(written[f"{base}{name}.{kind}"], written[f"{base}query.{kind}"])
    model = transformers.LukeForMaskedLM.from_pretrained(out)
    assert torch.equal(model.lm_head.decoder.weight, model.luke.embeddings.word_embeddings.weight)
    # Switching entity-aware attention on for fine-tuning finds every query in place.
    aware = tmp_path / "aware"
    assert _invoke("export", str(run), str(aware), "--entity-aware-attention").exit_code == 0
    assert json.loads((aware / "config.json").read_text())["use_entity_aware_attention"] is True
    aware_model, info = transformers.LukeForMaskedLM.from_pretrained(aware, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    first = aware_model.luke.encoder.layer[0].attention.self
    assert torch.equal(first.w2e_query.weight, first.query.weight)
    record = json.loads((aware / "mluke_export.json").read_text())
    assert record["trained_with_entity_aware_attention"] is False


def test_resume_keeps_the_decoder_tied(trained, tmp_path):
    fixture, _ = trained
    run = tmp_path / "run"
    common = ["pretrain", "--data", str(fixture.shards), "--preset", "tiny", "--output", str(run)]
    common += ["--max-steps", "4", "--batch-size", "8", "--save-every", "2"]
    assert _invoke(*common).exit_code == 0
    (run / "checkpoints" / "step-00000004.pt").unlink()
    assert _invoke(*common, "--resume").exit_code == 0
    state = load_checkpoint(list_checkpoints(run)[-1][1])["model"]
    assert (
        state["lm_head.decoder.weight"].data_ptr()
        == state["luke.embeddings.word_embeddings.weight"].data_ptr()
    )


def test_finetuning_fills_missing_entity_aware_queries_from_the_query(tmp_path):
    from training.finetune import load_qa_model

    plain = new_model(build_config("tiny", None, 300, 40, 64), seed=3)
    directory = tmp_path / "plain"
    directory.mkdir()
    weights = {key: value.clone().contiguous() for key, value in plain.state_dict().items()}
    save_file(weights, str(directory / "model.safetensors"))
    config = plain.config.to_dict()
    config.update(model_type="luke", use_entity_aware_attention=True)
    (directory / "config.json").write_text(json.dumps(config))
    model, report = load_qa_model(directory, seed=0)
    assert report["entity_aware_queries_from_query"] == 2 * 3 * 2  # layers x queries x (weight, bias)
    attention = model.luke.encoder.layer[1].attention.self
    assert torch.equal(attention.e2w_query.weight, attention.query.weight)
    assert torch.equal(attention.w2e_query.bias, attention.query.bias)
