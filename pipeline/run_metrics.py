"""The runner's own metrics of a local run, written as JSON: ``--run_metrics_json PATH``.

After a run on the FnApiRunner (in-process or with worker processes) the result holds Beam's
monitoring infos: per PCollection the element count (``beam:metric:element_count:v1``) and a
distribution of sampled encoded element sizes (``beam:metric:sampled_byte_size:v1``). The file has,
per PCollection, its name, the element count, the sampled sizes and the estimated bytes
(mean sampled size x element count), and ``shuffled_bytes``: the estimated bytes of every input of
a GroupByKey as the runner executes it (CoGroupByKey and Combine expand into GroupByKeys; a
lifted Combine shuffles its pre-combined accumulators, which is what is counted). Remote runners
are not touched: their results carry no such monitoring infos and nothing is written.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

ELEMENT_COUNT_URN = "beam:metric:element_count:v1"
SAMPLED_BYTE_SIZE_URN = "beam:metric:sampled_byte_size:v1"
GROUP_BY_KEY_URN = "beam:transform:group_by_key:v1"


# Beam names a PCollection "<length of the producer's label><label>.<tag>" ("5Group.None").
_LENGTH_PREFIX = re.compile(r"^(\d+)(.*)$")


def _readable(name: str) -> str:
    match = _LENGTH_PREFIX.match(name)
    if match and int(match.group(1)) == len(match.group(2).rsplit(".", 1)[0]):
        return match.group(2)
    return name


class RunMetricsOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--run_metrics_json",
            default=None,
            help="After a local run, write the runner's metrics to PATH (JSON: per-PCollection "
            "element counts and sampled byte sizes, bytes shuffled into GroupByKeys).",
        )


def _pcollection_metrics(result: Any) -> dict[str, dict[str, int]]:
    """{pcollection id: {elements, sampled_count, sampled_sum, sampled_min, sampled_max}}.

    A PCollection that crosses a fusion break is reported by the stage writing it and the one
    reading it, each with all its elements: the largest report is kept, not the sum.
    """
    from apache_beam.metrics import monitoring_infos

    found: dict[str, dict[str, int]] = {}
    for info in result.monitoring_infos():
        pcoll = info.labels.get(monitoring_infos.PCOLLECTION_LABEL)
        if not pcoll:
            continue
        entry = found.setdefault(pcoll, {})
        if info.urn == ELEMENT_COUNT_URN:
            entry["elements"] = max(entry.get("elements", 0), monitoring_infos.extract_counter_value(info))
        elif info.urn == SAMPLED_BYTE_SIZE_URN:
            count, total, low, high = monitoring_infos.extract_distribution(info)
            if count > entry.get("sampled_count", -1):
                entry.update(sampled_count=count, sampled_sum=total, sampled_min=low, sampled_max=high)
    return found


def _group_by_key_inputs(pipeline_proto: Any) -> tuple[dict[str, str], dict[str, str], str]:
    """({GroupByKey input pcollection id: GroupByKey name}, {pcollection id: name}, how found).

    The same first translation phases as the FnApiRunner (it names the PCollections it adds in
    order, so the ids match its metrics): a lifted Combine's GroupByKey reads the pre-combined
    accumulators. Falls back to the GroupByKeys of the pipeline as written.
    """
    names = {pid: p.unique_name for pid, p in pipeline_proto.components.pcollections.items()}
    inputs: dict[str, str] = {}
    try:
        import copy

        from apache_beam.portability import common_urns
        from apache_beam.runners.portability.fn_api_runner import translations

        context, stages = translations.create_and_optimize_stages(
            copy.deepcopy(pipeline_proto),
            phases=[
                translations.annotate_downstream_side_inputs,
                translations.fix_side_input_pcoll_coders,
                translations.pack_combiners,
                translations.lift_combiners,
            ],
            known_runner_urns=frozenset(
                [common_urns.primitives.FLATTEN.urn, common_urns.primitives.GROUP_BY_KEY.urn]
            ),
        )
        names.update({pid: p.unique_name for pid, p in context.components.pcollections.items()})
        for stage in stages:
            for transform in stage.transforms:
                if transform.spec.urn == GROUP_BY_KEY_URN:
                    for pid in transform.inputs.values():
                        inputs[pid] = transform.unique_name
        return inputs, names, "runner translation (combiner lifting applied)"
    except Exception:
        inputs.clear()
    for transform in pipeline_proto.components.transforms.values():
        if transform.spec.urn == GROUP_BY_KEY_URN:
            for pid in transform.inputs.values():
                inputs[pid] = transform.unique_name
    return inputs, names, "pipeline as written"


def run_metrics(result: Any, pipeline: Any) -> dict[str, Any]:
    """The runner's metrics of a finished local run, as a JSON-ready dict."""
    by_pcoll = _pcollection_metrics(result)
    gbk_inputs, names, how = _group_by_key_inputs(pipeline.to_runner_api())
    pcollections: dict[str, dict[str, Any]] = {}
    for pid, entry in sorted(by_pcoll.items()):
        elements = entry.get("elements", 0)
        sampled = entry.get("sampled_count", 0)
        estimated = round(entry["sampled_sum"] / sampled * elements) if sampled else None
        pcollections[pid] = {"name": _readable(names.get(pid, pid)), **entry, "estimated_bytes": estimated}
    shuffles = []
    for pid, gbk in sorted(gbk_inputs.items(), key=lambda item: item[1]):
        entry = pcollections.get(pid, {})
        shuffles.append(
            {
                "group_by_key": gbk,
                "pcollection": pid,
                "elements": entry.get("elements"),
                "estimated_bytes": entry.get("estimated_bytes"),
            }
        )
    known = [s["estimated_bytes"] for s in shuffles if s["estimated_bytes"] is not None]
    return {
        "pcollections": pcollections,
        "group_by_key_inputs": shuffles,
        "group_by_key_inputs_from": how,
        "shuffled_elements": sum(s["elements"] or 0 for s in shuffles),
        "shuffled_bytes": sum(known),
        "shuffled_bytes_complete": len(known) == len(shuffles),
    }


def has_run_metrics(result: Any) -> bool:
    """True for a local FnApiRunner result (RunnerResult), which holds the workers' monitoring infos."""
    from apache_beam.runners.portability.fn_api_runner.fn_runner import RunnerResult

    return isinstance(result, RunnerResult)


def write_run_metrics(result: Any, pipeline: Any, path: str) -> None:
    """Writes ``run_metrics(result, pipeline)`` to a local PATH (its folder is created)."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(run_metrics(result, pipeline), handle, indent=1, sort_keys=True)
        handle.write("\n")
