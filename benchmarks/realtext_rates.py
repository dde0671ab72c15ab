"""Per-core rates of extract, vocab and shards on real Wikipedia text, without fixed start-up cost.

    .venv/bin/python benchmarks/realtext_rates.py SOURCE... [--copies 10,30] [--work DIR] [--json PATH]

SOURCE as for ``benchmarks/realtext.py`` (folders of ``*.txt`` articles, pages-articles XML). For
each copy count it writes the real-text mirror, then runs through the CLI, one worker each:
``extract``, ``vocab build --min-languages 1``, ``tokenizer train`` (once, on the smallest size;
the other sizes reuse the model) and ``shards build``. CPU seconds are user + sys of the command
and every process it reaped (``os.wait4``). The rate of a stage is the difference between the
largest and the smallest size, per CPU-second: the fixed start-up (imports, pipeline
construction) cancels out. Bytes shuffled come from ``--run_metrics_json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realtext import read_real_articles, write_real_mirror

STAGES = {
    "extract": ["extract"],
    "vocab": ["vocab", "build", "--min-languages", "1"],
    "tokenizer": ["tokenizer", "train", "--vocab-size", "32000", "--sample-sentences", "100000"],
    "shards": ["shards", "build"],
}
MB = 1e6


def run_stage(exe: str, stage: str, out: Path) -> dict[str, Any]:
    command = [exe, *STAGES[stage], "--out", str(out)]
    if stage != "tokenizer":
        command += ["--workers", "1", "--run_metrics_json", str(out / f"metrics-{stage}.json")]
    started = time.perf_counter()
    with open(out / f"{stage}.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {out / f'{stage}.log'}")
    figures: dict[str, Any] = {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}
    metrics = out / f"metrics-{stage}.json"
    if metrics.exists():
        figures["shuffled_bytes"] = json.loads(metrics.read_text()).get("shuffled_bytes")
    return figures


def paragraph_bytes(out: Path) -> int:
    total = 0
    for path in sorted((out / "pages").rglob("*.parquet")):
        paragraphs = pc.list_flatten(pq.read_table(path, columns=["paragraphs"]).column("paragraphs"))
        total += pc.sum(pc.binary_length(pc.struct_field(paragraphs, "text"))).as_py() or 0
    return total


def measure(
    exe: str, work: Path, articles: list[tuple[str, str]], copies: int, tokenizer: Path | None
) -> dict[str, Any]:
    out = work / f"copies-{copies}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    pages, wikitext = write_real_mirror(str(out / "dumps"), articles, copies)
    size: dict[str, Any] = {"copies": copies, "pages": pages, "wikitext_bytes": wikitext, "stages": {}}
    for stage in STAGES:
        if stage == "tokenizer" and tokenizer is not None:
            shutil.copytree(tokenizer, out / "tokenizer")
            continue
        size["stages"][stage] = run_stage(exe, stage, out)
        if stage == "extract":
            size["paragraph_bytes"] = paragraph_bytes(out)
            report = json.loads((out / "reports" / "extract.json").read_text())["languages"]
            size["links"] = sum(int(stats.get("links", 0)) for stats in report.values())
    return size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--copies", default="10,30", help="two or more copy counts, comma-separated")
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work" / "realtext-rates")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    counts = sorted(int(part) for part in args.copies.split(","))
    if len(counts) < 2:
        parser.error("--copies needs two sizes or more (the rate is their difference)")
    exe = str(Path(sys.executable).parent / "mluke-data")
    articles = read_real_articles(args.sources)
    sizes: list[dict[str, Any]] = []
    tokenizer: Path | None = None
    for copies in counts:
        sizes.append(measure(exe, args.work.resolve(), articles, copies, tokenizer))
        tokenizer = args.work.resolve() / f"copies-{counts[0]}" / "tokenizer"
    small, large = sizes[0], sizes[-1]
    delta = {key: large[key] - small[key] for key in ("pages", "wikitext_bytes", "paragraph_bytes", "links")}
    print(
        f"{len(articles)} real articles; {', '.join(str(s['copies']) for s in sizes)} copies; "
        f"difference {delta['pages']:,} pages, {delta['wikitext_bytes'] / MB:.1f} MB of wikitext, "
        f"{delta['paragraph_bytes'] / MB:.1f} MB of paragraph text "
        f"({delta['paragraph_bytes'] / delta['wikitext_bytes']:.0%}), {delta['links']:,} links"
    )
    print(
        f"{'stage':9} "
        + " ".join(f"{'CPU s x' + str(s['copies']):>11}" for s in sizes)
        + f" {'MB wikitext/CPU-s':>18} {'pages/CPU-s':>11} {'shuffled B per B':>16}"
    )
    rates: dict[str, Any] = {}
    for stage in ("extract", "vocab", "shards"):
        cpu = [s["stages"][stage]["cpu_s"] for s in sizes]
        extra = cpu[-1] - cpu[0]
        shuffled = [s["stages"][stage].get("shuffled_bytes") or 0 for s in sizes]
        rates[stage] = {
            "wikitext_mb_per_cpu_s": delta["wikitext_bytes"] / MB / extra,
            "paragraph_mb_per_cpu_s": delta["paragraph_bytes"] / MB / extra,
            "pages_per_cpu_s": delta["pages"] / extra,
            "shuffled_bytes_per_wikitext_byte": (shuffled[-1] - shuffled[0]) / delta["wikitext_bytes"],
        }
        print(
            f"{stage:9} "
            + " ".join(f"{c:11.2f}" for c in cpu)
            + f" {rates[stage]['wikitext_mb_per_cpu_s']:18.2f} {rates[stage]['pages_per_cpu_s']:11.0f}"
            f" {rates[stage]['shuffled_bytes_per_wikitext_byte']:16.3f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"sizes": sizes, "difference": delta, "rates": rates}, indent=1) + "\n"
        )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
