"""`mluke-train pretrain` and `plan` on CPU: learning, exact resumption, stages, NaN, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
from training_fixtures import build_workdir  # noqa: E402

from training.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from training.cli import main  # noqa: E402
from training.trainer import KILL_AFTER_STEP_ENV  # noqa: E402

pytestmark = pytest.mark.train
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_workdir(tmp_path_factory.mktemp("work"))


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _pretrain(fixture, run: Path, *extra: str):
    return _invoke(
        "pretrain",
        "--data",
        str(fixture.shards),
        "--preset",
        "tiny",
        "--output",
        str(run),
        "--num-workers",
        "0",
        *extra,
    )


def test_tiny_preset_learns_in_200_steps(fixture, tmp_path):
    run = tmp_path / "run"
    result = _pretrain(fixture, run, "--max-steps", "200", "--log-every", "5", "--save-every", "100")
    assert result.exit_code == 0, result.output
    records = _metrics(run)
    assert [r["step"] for r in records] == list(range(5, 201, 5))
    for key in ("step", "loss", "mlm_loss", "entity_loss", "lr", "tokens_per_s", "mlm_acc", "entity_acc"):
        assert key in records[0]
    start = {key: (records[0][key] + records[1][key]) / 2 for key in ("mlm_loss", "entity_loss")}
    end = {key: sum(r[key] for r in records[-4:]) / 4 for key in ("mlm_loss", "entity_loss")}
    assert end["mlm_loss"] < 0.8 * start["mlm_loss"], (start, end)
    assert end["entity_loss"] < 0.8 * start["entity_loss"], (start, end)
    assert records[-1]["lr"] < records[2]["lr"]  # linear decay
    assert [step for step, _ in list_checkpoints(run)] == [100, 200]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 200 and summary["precision"] == "fp32"
    config = json.loads((run / "run.json").read_text())
    assert config["options"]["batch_size"] == 32 and config["model_config"]["entity_emb_size"] == 32
    assert (run / "tokenizer" / "sentencepiece.bpe.model").read_bytes() == fixture.tokenizer.read_bytes()


def test_killed_run_resumes_exactly(fixture, tmp_path):
    common = ["--max-steps", "18", "--log-every", "1", "--save-every", "4", "--batch-size", "16"]
    common += ["--micro-batch-size", "8", "--mask-words-in-entity-spans", "--whole-word-masking"]
    reference = tmp_path / "reference"
    assert _pretrain(fixture, reference, *common).exit_code == 0

    interrupted = tmp_path / "interrupted"
    command = [
        sys.executable,
        "-m",
        "training.cli",
        "pretrain",
        "--data",
        str(fixture.shards),
        "--preset",
        "tiny",
    ]
    command += ["--output", str(interrupted), "--num-workers", "1", *common]
    env = {**os.environ, KILL_AFTER_STEP_ENV: "10", "PYTHONPATH": str(REPO)}
    killed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no cleanup ran
    assert [step for step, _ in list_checkpoints(interrupted)] == [4, 8]
    assert [r["step"] for r in _metrics(interrupted)] == list(range(1, 11))

    refused = _pretrain(fixture, interrupted, *common)
    assert refused.exit_code == 2 and "--resume" in refused.output
    resumed = _pretrain(fixture, interrupted, *common, "--resume")
    assert resumed.exit_code == 0, resumed.output

    expected, got = _metrics(reference), _metrics(interrupted)
    assert [r["step"] for r in got] == list(range(1, 19))
    for a, b in zip(expected, got, strict=True):
        for key in ("loss", "mlm_loss", "entity_loss", "lr", "grad_norm", "mlm_acc", "entity_acc"):
            assert a[key] == b[key], (a["step"], key)
    final_a = load_checkpoint(list_checkpoints(reference)[-1][1])
    final_b = load_checkpoint(list_checkpoints(interrupted)[-1][1])
    for name, tensor in final_a["model"].items():
        assert torch.equal(tensor, final_b["model"][name]), name
    assert final_a["data"]["counts"] == final_b["data"]["counts"]


def test_resume_refuses_different_settings(fixture, tmp_path):
    run = tmp_path / "run"
    assert _pretrain(fixture, run, "--max-steps", "2", "--batch-size", "8").exit_code == 0
    result = _pretrain(fixture, run, "--max-steps", "4", "--batch-size", "8", "--seed", "7", "--resume")
    assert result.exit_code == 2
    assert "seed 42 -> 7" in result.output and "total_steps 2 -> 4" in result.output


def _tiny_word_model(path: Path, vocab_size: int, tokenizer: Path) -> dict:
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=96,
        max_position_embeddings=130,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    model = XLMRobertaForMaskedLM(config)
    model.save_pretrained(path)
    # An XLM-R directory carries its sentencepiece model: the word ids are mapped through it.
    (path / "sentencepiece.bpe.model").write_bytes(tokenizer.read_bytes())
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_stage_one_trains_only_the_entity_side_then_stage_two_everything(fixture, tmp_path):
    from training.shards import open_shard_set

    vocab_size = open_shard_set([fixture.shards]).word_vocab_size
    word = _tiny_word_model(tmp_path / "xlmr", vocab_size, fixture.tokenizer)
    stage1 = tmp_path / "stage1"
    result = _pretrain(fixture, stage1, "--stage", "1", "--init", str(tmp_path / "xlmr"), "--max-steps", "6")
    assert result.exit_code == 0, result.output
    state = load_checkpoint(list_checkpoints(stage1)[-1][1])
    model = state["model"]
    assert state["model_config"]["hidden_size"] == 48  # architecture from the init model
    assert torch.equal(
        model["luke.embeddings.word_embeddings.weight"], word["roberta.embeddings.word_embeddings.weight"]
    )
    query = word["roberta.encoder.layer.1.attention.self.query.weight"]
    assert torch.equal(model["luke.encoder.layer.1.attention.self.query.weight"], query)
    # mLUKE pretrains with plain attention: no entity-aware queries until export or fine-tuning.
    assert not [name for name in model if "w2e_query" in name]
    assert (
        model["lm_head.decoder.weight"].data_ptr()
        == model["luke.embeddings.word_embeddings.weight"].data_ptr()
    )
    assert torch.equal(model["lm_head.dense.weight"], word["lm_head.dense.weight"])
    shifted = word["roberta.embeddings.position_embeddings.weight"][2:]
    entity_positions = model["luke.entity_embeddings.position_embeddings.weight"][: len(shifted)]
    # Trained in stage 1 but started from the word positions (shifted by padding index + 1).
    assert not torch.equal(entity_positions, shifted)
    assert torch.allclose(entity_positions, shifted, atol=0.05)
    run = json.loads((stage1 / "run.json").read_text())
    assert run["init"]["kind"] == "word" and run["trainable_parameters"] < run["parameters"] / 2

    stage2 = tmp_path / "stage2"
    result = _pretrain(fixture, stage2, "--stage", "2", "--init", str(stage1), "--max-steps", "3")
    assert result.exit_code == 0, result.output
    state2 = load_checkpoint(list_checkpoints(stage2)[-1][1])
    assert not torch.equal(
        state2["model"]["luke.embeddings.word_embeddings.weight"],
        model["luke.embeddings.word_embeddings.weight"],
    )
    # Fresh optimizer: its step count is stage 2's own.
    steps = {float(s["step"]) for s in state2["optimizer"]["state"].values()}
    assert steps == {3.0}
    assert state2["scheduler"]["last_epoch"] == 3


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(fixture, tmp_path):
    run = tmp_path / "run"
    result = _pretrain(
        fixture, run, "--max-steps", "20", "--batch-size", "8", "--lr", "1e30", "--warmup-steps", "0",
        "--save-every", "1", "--log-every", "1",
    )  # fmt: skip
    assert result.exit_code == 3
    steps = [step for step, _ in list_checkpoints(run)]
    failed = steps[-1] + 1
    assert f"at step {failed}" in result.output and f"step-{steps[-1]:08d}.pt" in result.output
    state = load_checkpoint(list_checkpoints(run)[-1][1])
    assert all(
        torch.isfinite(tensor).all() for tensor in state["model"].values() if tensor.is_floating_point()
    )
    assert [r["step"] for r in _metrics(run)] == steps


def test_plan_computes_steps_like_luke(fixture):
    result = _invoke("plan", "--data", str(fixture.shards), "--batch-size", "64", "--epochs", "20", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    examples = sum(fixture.rows.values())
    assert plan["examples"] == examples
    assert plan["steps"] == -(-examples * 20 // 64)
    probabilities = {lang["lang"]: lang["probability"] for lang in plan["languages"]}
    assert abs(sum(probabilities.values()) - 1) < 1e-9
    sizes = fixture.rows
    ratio = (sizes["en"] / sizes["ja"]) ** 0.7
    assert abs(probabilities["en"] / probabilities["ja"] - ratio) < 1e-9
    text = _invoke("plan", "--data", str(fixture.shards), "--epochs", "2", "--throughput", "1000").output
    assert "at 1,000 tokens/s" in text and "steps" in text
    # A run shorter than its warmup never reaches the peak learning rate: the plan says so.
    assert "warning: the whole run is warmup" in text and "lower --warmup-steps" in text
    assert plan["warnings"] and "whole run is warmup" in plan["warnings"][0]
    long_run = _invoke("plan", "--data", str(fixture.shards), "--batch-size", "8", "--max-steps", "5000")
    assert "warning" not in long_run.output


def test_refusals_are_one_line_errors(fixture, tmp_path):
    result = _pretrain(
        fixture, tmp_path / "run", "--max-steps", "2", "--batch-size", "10", "--micro-batch-size", "4"
    )
    assert result.exit_code == 2 and "not a multiple of --micro-batch-size" in result.output
    result = _pretrain(fixture, tmp_path / "run")
    assert result.exit_code == 2 and "--max-steps or --epochs" in result.output
    result = _invoke("plan", "--data", str(tmp_path / "missing"), "--epochs", "1")
    assert result.exit_code == 2 and "does not exist" in result.output
