"""Two CPU processes under torchrun (gloo): identical weights on both ranks, equal to one process."""

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

pytestmark = pytest.mark.train
REPO = Path(__file__).resolve().parents[1]
ARGS = [
    "--preset",
    "tiny",
    "--max-steps",
    "6",
    "--batch-size",
    "16",
    "--micro-batch-size",
    "4",
    "--log-every",
    "1",
]


def test_two_gloo_ranks_end_identical_and_match_one_process(tmp_path):
    fixture = build_workdir(tmp_path / "work", pages={"en": 40, "de": 30, "ja": 20})
    ddp_run = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["-m", "training.cli", "pretrain", "--data", str(fixture.shards), "--output", str(ddp_run)]
    command += ["--num-workers", "0", *ARGS]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = json.loads((ddp_run / "summary.json").read_text())
    assert summary["world_size"] == 2
    digests = summary["parameter_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    run = json.loads((ddp_run / "run.json").read_text())
    assert run["world_size"] == 2

    # One process with the same global batch (accumulating 4 micro-batches instead of 2 per rank)
    # sees the same examples with the same masks, so it reaches the same weights.
    single_run = tmp_path / "single"
    result = CliRunner().invoke(
        main,
        ["pretrain", "--data", str(fixture.shards), "--output", str(single_run), "--num-workers", "0", *ARGS],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    ddp_state = load_checkpoint(list_checkpoints(ddp_run)[-1][1])
    single_state = load_checkpoint(list_checkpoints(single_run)[-1][1])
    assert len(ddp_state["rng"]) == 2  # every rank's RNG state is kept for exact resumption
    for name, tensor in single_state["model"].items():
        assert torch.allclose(tensor, ddp_state["model"][name], atol=1e-4, rtol=1e-4), name
    ddp_metrics = [json.loads(line) for line in (ddp_run / "metrics.jsonl").read_text().splitlines()]
    single_metrics = [json.loads(line) for line in (single_run / "metrics.jsonl").read_text().splitlines()]
    assert len(ddp_metrics) == len(single_metrics) == 6
    for a, b in zip(ddp_metrics, single_metrics, strict=True):
        assert a["mlm_loss"] == pytest.approx(b["mlm_loss"], rel=1e-4)
        assert a["entity_loss"] == pytest.approx(b["entity_loss"], rel=1e-4)
