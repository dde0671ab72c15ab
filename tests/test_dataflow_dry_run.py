"""The Beam stages translate for DataflowRunner offline (--dry_run=True): nothing is submitted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("google.cloud.storage", reason="needs the dataflow extra: pip install -e '.[dataflow]'")

from pipeline.cli import cli
from pipeline.extract import find_mirror_inputs, run_extract
from pipeline.shards import run_shards
from pipeline.vocab import run_vocab_build
from schemas.shards import ShardSettings
from transforms.extract import ExtractSettings
from transforms.shards import ShardingPlan

pytestmark = pytest.mark.dataflow


def dataflow_args(job_file: Path) -> list[str]:
    return [
        "--runner=DataflowRunner",
        "--project=demo-project",
        "--region=us-central1",
        "--temp_location=gs://demo-bucket/tmp",
        "--sdk_container_image=us-docker.pkg.dev/demo-project/images/mluke-data:0.1.0",
        "--dry_run=True",
        f"--dataflow_job_file={job_file}",
    ]


def step_names(job_file: Path) -> str:
    pipeline = json.loads(job_file.read_text())
    return json.dumps(sorted(t["uniqueName"] for t in pipeline["components"]["transforms"].values()))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    os.environ["NO_GCE_CHECK"] = "true"
    root = tmp_path_factory.mktemp("dataflow")
    args = ["build", "--source", "sample", "--langs", "en,de,ja", "--tokenizer-vocab-size", "1000"]
    result = CliRunner().invoke(cli, [*args, "--out", str(root), "--workers", "1", "--min-languages", "2"])
    assert result.exit_code == 0, result.output
    return root


def test_each_stage_translates_for_dataflow(workdir, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in (workdir / "shards").rglob("*.arrow")}
    inputs = find_mirror_inputs(str(workdir / "dumps"), ["en", "de", "ja"], None)
    run_extract(str(workdir), inputs, ExtractSettings(), 16 << 20, dataflow_args(tmp_path / "extract.json"))
    steps = step_names(tmp_path / "extract.json")
    for name in ("SpreadWorkItems", "ExtractWorkItems", "SumPerLanguage", "WriteReport"):
        assert name in steps, name

    run_vocab_build(str(workdir), beam_args=dataflow_args(tmp_path / "vocab.json"))
    assert len(json.loads((tmp_path / "vocab.json").read_text())["components"]["transforms"]) > 10

    run_shards(
        str(workdir), None, ShardSettings(), ShardingPlan(), None, dataflow_args(tmp_path / "shards.json")
    )
    steps = step_names(tmp_path / "shards.json")
    for name in (
        "WantedTitles",
        "PartitionTitles",
        "JoinByBucket",
        "ResolveBuckets",
        "GroupPerFile",
        "ExamplesPerFile",
        "PlanShards",
        "WriteShards",
        "Finish",
    ):
        assert name in steps, name
    # Nothing ran: the local shards are untouched.
    assert before == {p: p.stat().st_mtime_ns for p in (workdir / "shards").rglob("*.arrow")}


def test_build_command_dry_run(workdir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    args = ["build", "--source", "sample", "--langs", "en,de,ja", "--tokenizer-vocab-size", "1000", "--json",
            "--min-languages", "2", "--force", "extract", "--force", "vocab", "--force", "shards"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--out", str(copy), *dataflow_args(tmp_path / "job.json")])
    assert result.exit_code == 0, result.output
    statuses = {row["stage"]: row["status"] for row in json.loads(result.stdout)["stages"]}
    assert statuses == {
        "fetch": "sample",
        "extract": "dry run",
        "vocab": "dry run",
        "tokenizer": "skipped",
        "shards": "dry run",
        "verify": "dry run",
    }
