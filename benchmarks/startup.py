"""Fixed cost of the stages: the quickstart build, this tree against a baseline, alternated.

    git worktree add /tmp/baseline 0d4fdac
    .venv/bin/python benchmarks/startup.py --baseline /tmp/baseline --pairs 3 [--graph]

Runs ``mluke-data build --source sample --out DIR`` (410 pages in 10 languages: almost all of each
stage is its fixed cost) with each tree first on ``PYTHONPATH``, from outside the checkout so the
current tree does not shadow the baseline, alternating baseline and this tree ``--pairs`` times.
Prints the wall and CPU seconds of each run and the build's own per-stage seconds, and checks
that both trees wrote the same bytes (sha256 of every output but the timing reports).
``--graph`` also prints the size of the vocab stage's Beam graph in each tree: leaf transforms,
ParDos, GroupByKeys, the fused stages the local runner executes, and how often Beam asked for a
DoFn's state and timer specs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
STAGES = ("extract", "vocab", "tokenizer", "shards")

_BUILD = "import sys; sys.argv = ['mluke-data', *sys.argv[1:]]; from pipeline.cli import main; main()"

_GRAPH = """
import json, sys
import pipeline.cli  # the CLI's start-up, as a build has it
from apache_beam.transforms import userstate
from apache_beam.runners.portability.fn_api_runner import fn_runner
import apache_beam as beam
from pipeline.vocab import plan_vocab_inputs, run_vocab_build
from transforms.vocab import BuildEntityVocabulary, VocabSettings
asked, bundles = [0], [0]
find_specs = userstate.get_dofn_specs
def counting(dofn):
    asked[0] += 1
    return find_specs(dofn)
userstate.get_dofn_specs = counting
execute = fn_runner.FnApiRunner._execute_bundle
def counting_bundles(self, *args):
    bundles[0] += 1
    return execute(self, *args)
fn_runner.FnApiRunner._execute_bundle = counting_bundles
workdir = sys.argv[1]
p = beam.Pipeline()
_ = p | "EntityVocabulary" >> BuildEntityVocabulary(plan_vocab_inputs(workdir, None, "page-props"), VocabSettings(), {})
leaves = [t for t in p.to_runner_api().components.transforms.values() if not t.subtransforms]
asked[0] = 0
run_vocab_build(workdir)
print(json.dumps({
    "leaf transforms": len(leaves),
    "ParDos": sum(t.spec.urn.endswith("pardo:v1") for t in leaves),
    "GroupByKeys": sum("group_by_key" in t.spec.urn for t in leaves),
    "fused stages run": bundles[0],
    "get_dofn_specs calls": asked[0],
}))
"""


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def output_digest(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*")):
        if path.is_file() and "reports" not in path.relative_to(out).parts:
            digest.update(str(path.relative_to(out)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_build(tree: Path, out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _BUILD, "build", "--source", "sample", "--out", str(out)],
        env=_env(tree), cwd=tempfile.gettempdir(), capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"build with {tree} failed:\n{result.stderr[-2000:]}")
    stages = {}
    for stage in STAGES:
        found = re.search(rf"│ {stage}\s*│\s*\w+\s*│\s*([0-9.]+) │", result.stdout)
        stages[stage] = float(found.group(1)) if found else None
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": round(wall, 2), "cpu": round(cpu, 2), **stages, "sha256": output_digest(out)[:16]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the baseline commit")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--graph", action="store_true", help="also print the vocab stage's graph size")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this tree": HERE}
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            for name, tree in trees.items():
                run = {"tree": name, "pair": pair + 1, **run_build(tree, Path(scratch) / "out")}
                runs.append(run)
                print(json.dumps(run), flush=True)
        if args.graph:
            for name, tree in trees.items():
                out = Path(scratch) / "out"
                run_build(tree, out)
                shown = subprocess.run(
                    [sys.executable, "-c", _GRAPH, str(out)], env=_env(tree), cwd=tempfile.gettempdir(),
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                print(name, shown.stdout.strip().splitlines()[-1])
    digests = {run["sha256"] for run in runs}
    print("outputs identical across trees and runs" if len(digests) == 1 else f"OUTPUTS DIFFER: {digests}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
