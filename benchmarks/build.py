"""Whole-build throughput: per-stage pages/s per core, time shares, 1 -> 2 worker speed-up, peak RSS.

    .venv/bin/python benchmarks/build.py [--scale 70] [--workers 1,2]

Writes the bundled sample scaled up (scale 70: about 21,000 pages in 10 languages) as a mirror,
then runs `mluke-data build --source mirror`-equivalent stages through the CLI once per worker
count, each in a fresh work directory, and prints a table. Peak RSS is the largest resident set
of any process of the run (launcher or Beam worker).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

STAGE_COMMANDS = {
    "extract": ["extract", "--work-item-mb", "0.25"],
    "vocab": ["vocab", "build"],
    "tokenizer": ["tokenizer", "train", "--vocab-size", "8000"],
    "shards": ["shards", "build"],
}


def run_stage(exe: str, stage: str, out: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the stage's process tree)."""
    command = [exe, *STAGE_COMMANDS[stage], "--out", str(out)]
    if stage != "tokenizer":
        command += ["--workers", str(workers)]
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter();"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{stage} failed:\n{result.stderr[-3000:]}")
    seconds, rss_kb = result.stdout.split()
    return float(seconds), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "mluke-data")

    from pipeline.sample import write_sample_mirror

    mirror = args.work / f"build-mirror-x{args.scale}"
    if not mirror.exists():
        write_sample_mirror(str(mirror), scale=args.scale)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    pages = articles = 0
    for workers in (int(w) for w in args.workers.split(",")):
        out = args.work / f"build-x{args.scale}-w{workers}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        shutil.copytree(mirror, out / "dumps")
        results[workers] = {stage: run_stage(exe, stage, out, workers) for stage in STAGE_COMMANDS}
        report = json.loads((out / "reports" / "extract.json").read_text())["languages"]
        pages = sum(stats["pages_read"] for stats in report.values())
        articles = sum(stats["article"] for stats in report.values())
    cores = os.cpu_count() or 1
    print(f"sample x{args.scale}: {pages} pages read ({articles} articles), {cores} cores")
    print(
        f"\n{'stage':10} "
        + " ".join(
            f"{'w' + str(w) + ' s':>8} {'pages/s/core':>12} {'share':>6} {'RSS MB':>7}" for w in results
        )
    )
    for stage in STAGE_COMMANDS:
        cells = []
        for workers, stages in results.items():
            total = sum(seconds for seconds, _ in stages.values())
            seconds, rss = stages[stage]
            cells.append(
                f"{seconds:8.1f} {pages / seconds / min(workers, cores):12.0f} {seconds / total:6.0%} {rss:7.0f}"
            )
        print(f"{stage:10} " + " ".join(cells))
    if 1 in results and 2 in results:
        for stage in STAGE_COMMANDS:
            print(f"speed-up 1 -> 2 workers, {stage}: {results[1][stage][0] / results[2][stage][0]:.2f}x")
        total1 = sum(s for s, _ in results[1].values())
        total2 = sum(s for s, _ in results[2].values())
        print(f"speed-up 1 -> 2 workers, whole build: {total1 / total2:.2f}x")


if __name__ == "__main__":
    main()
