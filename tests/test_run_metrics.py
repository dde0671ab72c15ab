"""`--run_metrics_json`: after a local run, the runner's element counts and shuffled bytes."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest

from pipeline.options import check_beam_args, create_pipeline, pipeline_options


def test_run_metrics_flag_is_a_known_beam_flag() -> None:
    check_beam_args(["--run_metrics_json", "/tmp/metrics.json"])


@pytest.mark.parametrize("workers", [1, 2])
def test_run_metrics_json_counts_elements_and_shuffled_bytes(tmp_path, workers: int) -> None:
    path = tmp_path / "metrics" / "run.json"
    options = pipeline_options(["--run_metrics_json", str(path)], workers=workers)
    with create_pipeline(options) as pipeline:
        pairs = (
            pipeline
            | "Create" >> beam.Create([(f"key{i % 7}", "x" * 50 + str(i)) for i in range(1000)])
            | "Pairs" >> beam.Map(lambda kv: kv)
        )
        _ = pairs | "Group" >> beam.GroupByKey() | "Sizes" >> beam.Map(lambda kv: (kv[0], len(kv[1])))
    metrics = json.loads(path.read_text())
    by_name = {entry["name"]: entry for entry in metrics["pcollections"].values()}
    assert by_name["Pairs.None"]["elements"] == 1000
    assert by_name["Group.None"]["elements"] == 7
    assert by_name["Sizes.None"]["elements"] == 7
    # beam.Create reshuffles its elements: a GroupByKey of its own.
    shuffles = {entry["group_by_key"]: entry for entry in metrics["group_by_key_inputs"]}
    assert shuffles["Group"]["elements"] == 1000
    assert shuffles["Group"]["pcollection"] == next(
        pid for pid, entry in metrics["pcollections"].items() if entry["name"] == "Pairs.None"
    )
    # Each element encodes to more than its 53-56 characters of key and value.
    assert shuffles["Group"]["estimated_bytes"] > 1000 * 53
    assert metrics["shuffled_elements"] == sum(entry["elements"] for entry in shuffles.values())
    assert metrics["shuffled_bytes"] == sum(entry["estimated_bytes"] for entry in shuffles.values())
    assert metrics["shuffled_bytes_complete"]
