"""Scale curve of the whole build: cost per page and peak memory of each stage as the wiki grows.

    .venv/bin/python benchmarks/scale.py [--pages 10000,100000,1000000] [--workers 1,2]
        [--stages extract,vocab,shards] [--work benchmarks/work] [--json PATH] [--plot PATH]
        [--markdown PATH] [--keep] [--baseline CHECKOUT] [--prerequisite-workers N]
    .venv/bin/python benchmarks/scale.py --from-json PATH [--plot PATH] [--markdown PATH]

For each target page count it writes (once, cached under --work) the bundled sample mirror at the
smallest scale that gives at least that many pages, then for each worker count runs the stages
through the CLI in a fresh work directory whose dumps/ are hard links to the cached mirror:
``extract --work-item-mb 0.25``, ``vocab build``, ``tokenizer train --vocab-size 8000`` (once per
size, reported apart: shards needs it, it is not part of the curve) and ``shards build``.

Per stage: wall seconds; CPU seconds (user + sys) of the whole process tree, from ``os.wait4`` on
the command (it includes every descendant the tree reaped, Beam's worker processes among them),
checked against a /proc sampling of the tree; peak RSS of the tree (the largest sum of resident
memory over the command and all its descendants, sampled every 0.15 s from /proc; also the sum of
PSS, which splits shared pages, and apart the peak of the CLI process, which is also Beam's runner
and holds the data between fused stages, and of the largest worker); bytes the stage wrote (files new
or changed under the work directory); pages read (reports/extract.json) per second per worker and
per CPU-second; and the bytes shuffled into GroupByKeys, from Beam's own metrics
(``--run_metrics_json``: estimated as mean sampled element size x element count).

Stages outside the curve that a curve stage needs (``--stages shards`` needs extract, vocab and
the tokenizer) run once per size, in the first worker count's work directory and with
``--prerequisite-workers`` if given; the later work directories hard-link their outputs.
``--baseline CHECKOUT`` (a ``git worktree`` of another commit) runs each curve stage with that tree
first, then with this one, on the same inputs, and checks that both wrote the same bytes.

It prints a table per size, then the curve: CPU-seconds per 1,000 pages and peak RSS at each size
with the ratio largest/smallest size (1.0 is linear cost, flat memory), and for vocab the distinct
titles and entities, since its memory grows with distinct titles rather than pages.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CURVE_STAGES = ("extract", "vocab", "shards")
STAGE_COMMANDS = {
    "extract": ["extract", "--work-item-mb", "0.25"],
    "vocab": ["vocab", "build"],
    "tokenizer": ["tokenizer", "train", "--vocab-size", "8000"],
    "shards": ["shards", "build"],
}
BEAM_STAGES = ("extract", "vocab", "shards")
# What each stage writes under the work directory: linked into later work directories of a size
# when the stage is only a prerequisite there, and hashed to compare a baseline tree's output.
STAGE_OUTPUTS = {
    "extract": ("pages", "redirects", "errors", "reports/extract.json"),
    "vocab": ("vocab",),
    "tokenizer": ("tokenizer",),
    "shards": ("shards", "reports/shards.json"),
}
SAMPLE_INTERVAL_S = 0.15
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


# ---------------------------------------------------------------- process tree sampling


def _read_stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, start time in ticks, utime + stime in seconds) of a pid, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    # Fields after "(comm)": state ppid ... utime (14th of the line) stime ... starttime (22nd).
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _read_rss(pid: int) -> int:
    """Resident bytes of a process (RssAnon + RssFile + RssShmem), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _read_pss(pid: int) -> int:
    """Proportional set size in bytes (shared pages split between their users), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeSampler:
    """Samples a process tree from /proc: the largest sum of RSS, the last CPU time of each process."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss = 0
        self.peak_pss = 0
        # The root is the CLI process, which is also the runner: it holds the data between fused
        # stages and every GroupByKey's input; the descendants are Beam workers and parser children.
        self.peak_root_rss = 0
        self.peak_descendant_rss = 0
        self.peak_processes = 0
        self.max_processes = 0
        self.samples = 0
        self.cpu_by_process: dict[tuple[int, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> dict[int, tuple[int, float]]:
        """{pid: (start time, cpu seconds)} of the root and all its descendants."""
        children: dict[int, list[int]] = {}
        stats: dict[int, tuple[int, float]] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            stat = _read_stat(int(name))
            if stat is None:
                continue
            ppid, start, cpu = stat
            children.setdefault(ppid, []).append(int(name))
            stats[int(name)] = (start, cpu)
        tree: dict[int, tuple[int, float]] = {}
        pending = [self.root]
        while pending:
            pid = pending.pop()
            if pid in stats and pid not in tree:
                tree[pid] = stats[pid]
                pending.extend(children.get(pid, ()))
        return tree

    def sample(self) -> None:
        tree = self._tree()
        rss = pss = 0
        for pid, (start, cpu) in tree.items():
            process_rss = _read_rss(pid)
            rss += process_rss
            pss += _read_pss(pid)
            self.cpu_by_process[(pid, start)] = cpu
            if pid == self.root:
                self.peak_root_rss = max(self.peak_root_rss, process_rss)
            else:
                self.peak_descendant_rss = max(self.peak_descendant_rss, process_rss)
        self.samples += 1
        self.max_processes = max(self.max_processes, len(tree))
        if rss > self.peak_rss:
            self.peak_rss, self.peak_processes = rss, len(tree)
        self.peak_pss = max(self.peak_pss, pss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_INTERVAL_S)

    @property
    def sampled_cpu(self) -> float:
        return sum(self.cpu_by_process.values())

    @property
    def sampled_cpu_descendants(self) -> float:
        return sum(cpu for (pid, _), cpu in self.cpu_by_process.items() if pid != self.root)


# ---------------------------------------------------------------- one stage


@dataclass
class StageRun:
    stage: str
    workers: int
    wall_s: float
    cpu_s: float  # wait4: user + sys of the command and every descendant it reaped
    cpu_user_s: float
    cpu_sys_s: float
    cpu_sampled_s: float  # /proc sampling: last seen utime + stime of each process of the tree
    cpu_sampled_descendants_s: float
    peak_tree_rss_mb: float  # the largest sum of RSS over the tree (shared pages count in each process)
    peak_tree_pss_mb: float  # the largest sum of PSS (shared pages split): the tree's own memory
    # wait4 ru_maxrss of the tree's largest process. The child starts as a fork of this benchmark,
    # whose memory (the generated mirror) counts until exec: a bound, not shown in the tables.
    max_process_rss_mb: float
    peak_runner_rss_mb: float  # sampled peak RSS of the CLI process (the runner, in-process work)
    peak_worker_rss_mb: float  # sampled peak RSS of the largest descendant (worker or parser child)
    processes_at_peak: int
    max_processes: int
    rss_samples: int
    written_bytes: int
    written_files: int
    pages: int = 0
    shuffled_bytes: int | None = None
    shuffled_elements: int | None = None
    shuffled_bytes_complete: bool | None = None
    group_by_keys: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tree: str = "this"  # or "baseline": the tree given by --baseline
    output_sha256: str = ""  # of every file the stage wrote (STAGE_OUTPUTS)

    @property
    def pages_per_s_per_core(self) -> float:
        return self.pages / self.wall_s / self.workers if self.wall_s else 0.0

    @property
    def pages_per_cpu_s(self) -> float:
        return self.pages / self.cpu_s if self.cpu_s else 0.0


def _listing(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, int]]:
    """{relative path: (size, mtime ns, inode)} of every file under root."""
    found: dict[str, tuple[int, int, int]] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if rel_folder.split(os.sep)[0] in skip:
            dirs[:] = []
            continue
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            found[os.path.normpath(os.path.join(rel_folder, name))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def output_digest(out: Path, stage: str) -> str:
    """sha256 over the relative paths and contents of every file of a stage's outputs."""
    digest = hashlib.sha256()
    for name in STAGE_OUTPUTS[stage]:
        root = out / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(out)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def run_stage(exe: str, stage: str, out: Path, workers: int, baseline: Path | None = None) -> StageRun:
    """Run one stage through the CLI and measure it; ``baseline``: a checkout of another tree to run."""
    command = [exe, *STAGE_COMMANDS[stage], "--out", str(out)]
    environment = dict(os.environ)
    if baseline is not None:
        # First on the path, so its packages shadow this tree's; cwd (the work directory) is outside both.
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(baseline), environment.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
    if stage in BEAM_STAGES:
        command += ["--workers", str(workers), "--run_metrics_json", str(out / "metrics" / f"{stage}.json")]
    before = _listing(out, skip=("metrics",))
    log = out / "logs" / f"{stage}{'-baseline' if baseline else ''}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=out, env=environment)
        sampler = TreeSampler(process.pid)
        sampler.sample()
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"{stage} failed ({process.returncode}): {' '.join(command)}\n{log.read_text()[-3000:]}"
        )
    after = _listing(out, skip=("metrics", "logs"))
    changed = [path for path, entry in after.items() if before.get(path) != entry]
    run = StageRun(
        stage=stage,
        workers=workers,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        cpu_user_s=usage.ru_utime,
        cpu_sys_s=usage.ru_stime,
        cpu_sampled_s=sampler.sampled_cpu,
        cpu_sampled_descendants_s=sampler.sampled_cpu_descendants,
        peak_tree_rss_mb=sampler.peak_rss / MB,
        peak_tree_pss_mb=sampler.peak_pss / MB,
        max_process_rss_mb=usage.ru_maxrss / 1024,
        peak_runner_rss_mb=sampler.peak_root_rss / MB,
        peak_worker_rss_mb=sampler.peak_descendant_rss / MB,
        processes_at_peak=sampler.peak_processes,
        max_processes=sampler.max_processes,
        rss_samples=sampler.samples,
        written_bytes=sum(after[path][0] for path in changed),
        written_files=len(changed),
        tree="baseline" if baseline else "this",
        output_sha256=output_digest(out, stage),
    )
    metrics_path = out / "metrics" / f"{stage}.json"
    if stage in BEAM_STAGES and metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        run.shuffled_bytes = metrics["shuffled_bytes"]
        run.shuffled_elements = metrics["shuffled_elements"]
        run.shuffled_bytes_complete = metrics["shuffled_bytes_complete"]
        run.group_by_keys = len(metrics["group_by_key_inputs"])
    return run


# ---------------------------------------------------------------- the sample mirror


def pages_per_scale() -> tuple[int, int]:
    """(pages at scale 0 by extrapolation, pages added per scale unit), counted from the generator."""
    from pipeline.sample import SAMPLE_LANGS
    from pipeline.sample.content_pages import iter_pages

    one = sum(1 for lang in SAMPLE_LANGS for _ in iter_pages(lang, 1))
    two = sum(1 for lang in SAMPLE_LANGS for _ in iter_pages(lang, 2))
    return one - (two - one), two - one


def scale_for(pages: int, base: int, per_scale: int) -> int:
    return max(1, math.ceil((pages - base) / per_scale))


def cached_mirror(work: Path, scale: int) -> tuple[Path, dict[str, Any]]:
    """The sample mirror at a scale under work/ (written once) and {seconds, bytes, files, cached}."""
    from pipeline.sample import write_sample_mirror

    mirror = work / f"scale-mirror-x{scale}"
    info_path = work / f"scale-mirror-x{scale}.json"
    if mirror.exists() and info_path.exists():
        return mirror, {**json.loads(info_path.read_text()), "cached": True}
    partial = work / f"scale-mirror-x{scale}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(mirror, ignore_errors=True)
    start = time.perf_counter()
    write_sample_mirror(str(partial), scale=scale)
    seconds = time.perf_counter() - start
    listing = _listing(partial)
    partial.rename(mirror)
    info = {
        "scale": scale,
        "seconds": seconds,
        "bytes": sum(s for s, _, _ in listing.values()),
        "files": len(listing),
    }
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return mirror, {**info, "cached": False}


def link_tree(source: Path, target: Path) -> None:
    """target/ mirrors source/ with hard links (a copy where linking is refused)."""
    for folder, _, files in os.walk(source):
        destination = target / os.path.relpath(folder, source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(os.path.join(folder, name), destination / name)
            except OSError:
                shutil.copy2(os.path.join(folder, name), destination / name)


# ---------------------------------------------------------------- one size


def vocab_counts(out: Path) -> dict[str, int]:
    report = json.loads((out / "vocab" / "report.json").read_text())
    languages = report.get("languages", {})
    return {
        "entities": int(report.get("entities", 0)),
        "titles": sum(int(stats.get("title_rows", 0)) for stats in languages.values()),
        "link_targets": sum(int(stats.get("link_targets", 0)) for stats in languages.values()),
        "links": sum(int(stats.get("links", 0)) for stats in languages.values()),
    }


def link_outputs(source: Path, target: Path, stage: str) -> None:
    """A prerequisite stage's outputs, hard-linked from the size's first work directory."""
    for name in STAGE_OUTPUTS[stage]:
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(source / name, target / name)
        elif (source / name).exists():
            link_tree(source / name, target / name)


def measure_size(
    exe: str,
    work: Path,
    target: int,
    scale: int,
    workers_list: list[int],
    stages: list[str],
    keep: bool,
    baseline: Path | None = None,
    prerequisite_workers: int | None = None,
) -> dict[str, Any]:
    """One size: every worker count in a fresh work directory.

    A stage that is only a prerequisite (not in ``stages``) runs once per size, in the first work
    directory (with ``prerequisite_workers``), and later ones link its outputs. With ``baseline``,
    each curve stage runs first with that tree, then with this one, on the same inputs.
    """
    mirror, mirror_info = cached_mirror(work, scale)
    mirror_listing = _listing(mirror)
    runs: list[StageRun] = []
    tokenizer_run: StageRun | None = None
    vocab: dict[int, dict[str, int]] = {}
    pages = 0
    tokenizer_dir: Path | None = None
    outs = []
    # Each stage reads what the ones before it wrote: shards needs vocab and the tokenizer.
    required = {"extract", *stages} | ({"vocab", "tokenizer"} if "shards" in stages else set())
    for workers in workers_list:
        out = work / f"scale-x{scale}-w{workers}"
        outs.append(out)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        link_tree(mirror, out / "dumps")
        for stage in STAGE_COMMANDS:
            if stage not in required:
                continue
            if stage == "tokenizer" and tokenizer_dir is not None:
                shutil.copytree(tokenizer_dir, out / "tokenizer")  # trained once per size
                continue
            if stage not in stages and out != outs[0]:
                link_outputs(outs[0], out, stage)
                continue
            if stage in stages and baseline is not None:
                runs.append(run_stage(exe, stage, out, workers, baseline))
            stage_workers = workers if stage in stages else (prerequisite_workers or workers)
            run = run_stage(exe, stage, out, 1 if stage == "tokenizer" else stage_workers)
            if stage == "tokenizer":
                tokenizer_run, tokenizer_dir = run, out / "tokenizer"
            elif stage in stages:
                runs.append(run)
            if stage == "extract":
                report = json.loads((out / "reports" / "extract.json").read_text())["languages"]
                pages = sum(stats["pages_read"] for stats in report.values())
            if stage == "vocab":
                vocab[workers] = vocab_counts(out)
        if _listing(mirror) != mirror_listing or _listing(out / "dumps") != mirror_listing:
            raise SystemExit(f"the stages changed their inputs: {out / 'dumps'} differs from {mirror}")
    for run in [*runs, *([tokenizer_run] if tokenizer_run else [])]:
        run.pages = pages
        if run.stage == "vocab":
            run.extra = dict(vocab.get(run.workers, {}))
    if not keep:
        for out in outs:
            shutil.rmtree(out, ignore_errors=True)
    return {
        "target_pages": target,
        "scale": scale,
        "pages": pages,
        "mirror": mirror_info,
        "runs": runs,
        "tokenizer": tokenizer_run,
    }


# ---------------------------------------------------------------- output


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:.1f}"


def _rss(value: float) -> str:
    """A sampled per-process peak in MB; "-" where none was sampled (no such process, older JSON)."""
    return f"{value:.0f}" if value else "-"


def print_size(size: dict[str, Any]) -> None:
    mirror = size["mirror"]
    cached = " (cached)" if mirror["cached"] else ""
    print(
        f"\n== {size['pages']:,} pages read (target {size['target_pages']:,}, sample scale {size['scale']}); "
        f"mirror {mirror['bytes'] / MB:.1f} MB in {mirror['files']} files, written in {mirror['seconds']:.1f} s{cached}"
    )
    header = (
        f"{'stage':10} {'workers':>7} {'wall s':>7} {'CPU s':>7} {'pages/s/core':>12} {'pages/CPU-s':>11} "
        f"{'peak RSS MB':>11} {'PSS MB':>7} {'runner MB':>9} {'worker MB':>9} "
        f"{'MB written':>10} {'MB shuffled':>11}"
    )
    print(header)
    for run in size["runs"]:
        print(
            f"{run_label(run):10} {run.workers:>7} {run.wall_s:7.1f} {run.cpu_s:7.1f} {run.pages_per_s_per_core:12.0f} "
            f"{run.pages_per_cpu_s:11.0f} {run.peak_tree_rss_mb:11.0f} {run.peak_tree_pss_mb:7.0f} "
            f"{_rss(run.peak_runner_rss_mb):>9} {_rss(run.peak_worker_rss_mb):>9} "
            f"{run.written_bytes / MB:10.1f} "
            f"{_mb(run.shuffled_bytes):>11}"
        )
    token = size["tokenizer"]
    if token is not None:
        print(
            f"tokenizer (once, not in the curve): {token.wall_s:.1f} s wall, {token.cpu_s:.1f} CPU s, "
            f"peak RSS {token.peak_tree_rss_mb:.0f} MB, {token.written_bytes / MB:.1f} MB written"
        )
    print("CPU of the tree, wait4 vs /proc sampling (descendants' share of the sampled):")
    for run in size["runs"]:
        share = run.cpu_sampled_descendants_s / run.cpu_sampled_s if run.cpu_sampled_s else 0.0
        print(
            f"  {run_label(run):8} w{run.workers}: {run.cpu_s:6.1f} s vs {run.cpu_sampled_s:6.1f} s sampled "
            f"({share:.0%} in {run.max_processes - 1} descendant processes at most)"
        )
    for run in size["runs"]:
        if run.tree == "baseline":
            this = find_run(size, run.stage, run.workers)
            same = "the same" if this.output_sha256 == run.output_sha256 else "DIFFERENT"
            print(
                f"  {run.stage} w{run.workers}: baseline and this tree wrote {same} output ({this.output_sha256[:16]})"
            )


def print_curve(sizes: list[dict[str, Any]], stages: list[str], workers_list: list[int]) -> None:
    if not sizes:
        return
    pages = [size["pages"] for size in sizes]
    columns = " ".join(f"{p:>10,}" for p in pages)
    span = pages[-1] - pages[0]
    print(f"\n== curve over pages read ({', '.join(f'{p:,}' for p in pages)})")
    print(
        "largest/smallest: ratio of the largest size's figure to the smallest's (1.00: linear cost, flat "
        "memory); marginal: the increase between them per 1,000 more pages (no fixed start-up cost)"
    )
    for title, value in (
        ("CPU-seconds per 1,000 pages", lambda r: r.cpu_s / r.pages * 1000 if r.pages else 0.0),
        ("peak tree RSS MB", lambda r: r.peak_tree_rss_mb),
        ("peak tree PSS MB", lambda r: r.peak_tree_pss_mb),
        ("peak runner (CLI process) RSS MB", lambda r: r.peak_runner_rss_mb),
        ("peak worker process RSS MB", lambda r: r.peak_worker_rss_mb),
    ):
        print(f"\n{title:30} {columns} {'largest/smallest':>16} {'marginal':>9}")
        for stage, workers, tree in itertools.product(stages, workers_list, trees_of(sizes)):
            runs = [find_run(size, stage, workers, tree) for size in sizes]
            values = [value(run) for run in runs]
            ratio = values[-1] / values[0] if values[0] else float("nan")
            if title.startswith("CPU"):
                marginal = (runs[-1].cpu_s - runs[0].cpu_s) / span * 1000 if span else float("nan")
            else:
                marginal = (values[-1] - values[0]) / span * 1000 if span else float("nan")
            cells = " ".join(f"{v:10.2f}" if title.startswith("CPU") else f"{v:10.0f}" for v in values)
            print(f"  {run_label(runs[0]) + ' w' + str(workers):28} {cells} {ratio:16.2f} {marginal:9.3f}")
    if "vocab" in stages:
        print("\nvocab: memory grows with distinct titles (title rows over all languages)")
        for workers in workers_list:
            runs = [find_run(size, "vocab", workers) for size in sizes]
            for size, run in zip(sizes, runs, strict=True):
                titles = run.extra.get("titles", 0)
                per = run.peak_tree_rss_mb / titles * 1000 if titles else float("nan")
                print(
                    f"  w{workers} {size['pages']:>10,} pages: {titles:>9,} titles, "
                    f"{run.extra.get('entities', 0):>8,} entities, peak RSS {run.peak_tree_rss_mb:6.0f} MB, "
                    f"{per:8.1f} MB per 1,000 titles"
                )
            more = runs[-1].extra.get("titles", 0) - runs[0].extra.get("titles", 0)
            if more > 0:
                grown = runs[-1].peak_tree_rss_mb - runs[0].peak_tree_rss_mb
                print(
                    f"  w{workers} marginal: {grown / more * 1000:.2f} MB of peak RSS per 1,000 more titles"
                )


def find_run(size: dict[str, Any], stage: str, workers: int, tree: str = "this") -> StageRun:
    return next(r for r in size["runs"] if r.stage == stage and r.workers == workers and r.tree == tree)


def trees_of(sizes: list[dict[str, Any]]) -> list[str]:
    """["baseline", "this"] when a baseline tree was measured, else ["this"]."""
    return ["baseline", "this"] if any(r.tree == "baseline" for s in sizes for r in s["runs"]) else ["this"]


def run_label(run: StageRun) -> str:
    return run.stage + (" (baseline)" if run.tree == "baseline" else "")


def write_plot(path: Path, sizes: list[dict[str, Any]], stages: list[str], workers_list: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, (wall_axes, rss_axes) = plt.subplots(1, 2, figsize=(13, 6.5))
    pages = [size["pages"] for size in sizes]
    markers = {1: "o", 2: "s", 4: "^", 8: "D"}
    for stage_index, stage in enumerate(stages):
        color = f"C{stage_index}"
        for workers, tree in itertools.product(workers_list, trees_of(sizes)):
            runs = [find_run(size, stage, workers, tree) for size in sizes]
            style = {
                "color": color,
                "marker": markers.get(workers, "x"),
                "linestyle": "-" if workers == 1 else "--",
                "alpha": 0.45 if tree == "baseline" else 1.0,
            }
            label = f"{run_label(runs[0])}, {workers} worker{'s' if workers > 1 else ''}"
            wall_axes.plot(pages, [r.wall_s for r in runs], label=label, **style)
            rss_axes.plot(pages, [r.peak_tree_rss_mb for r in runs], label=label, **style)
    tokenizer = [(size["pages"], size["tokenizer"]) for size in sizes if size["tokenizer"] is not None]
    if tokenizer:
        style = {"color": "grey", "marker": "v", "linestyle": ":"}
        wall_axes.plot(
            [p for p, _ in tokenizer], [t.wall_s for _, t in tokenizer], label="tokenizer (once)", **style
        )
        rss_axes.plot(
            [p for p, _ in tokenizer],
            [t.peak_tree_rss_mb for _, t in tokenizer],
            label="tokenizer (once)",
            **style,
        )
    wall_axes.set(
        xscale="log", yscale="log", xlabel="pages read", ylabel="wall seconds", title="Wall time per stage"
    )
    rss_axes.set(
        xscale="log", xlabel="pages read", ylabel="peak RSS of the process tree (MB)", title="Peak memory"
    )
    rss_axes.set_ylim(bottom=0)
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    for axes in (wall_axes, rss_axes):
        axes.grid(True, which="both", alpha=0.3)
        axes.set_xticks(pages)  # a labelled tick at each measured size
        axes.xaxis.set_major_formatter(plain)
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    wall_axes.yaxis.set_major_locator(
        matplotlib.ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0))
    )
    wall_axes.yaxis.set_major_formatter(plain)
    wall_axes.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    handles, labels = wall_axes.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    figure.suptitle(f"mluke-data build scale curve ({os.cpu_count()} cores)")
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_info() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    memory_kb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    import apache_beam

    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(memory_kb / 1024 / 1024, 1) if memory_kb else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "apache_beam": apache_beam.__version__,
        "commit": commit,
    }


def _as_json(size: dict[str, Any]) -> dict[str, Any]:
    def run_json(run: StageRun | None) -> dict[str, Any] | None:
        if run is None:
            return None
        return {
            **asdict(run),
            "pages_per_s_per_core": run.pages_per_s_per_core,
            "pages_per_cpu_s": run.pages_per_cpu_s,
        }

    return {**size, "runs": [run_json(r) for r in size["runs"]], "tokenizer": run_json(size["tokenizer"])}


def sizes_from_json(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The sizes of a ``--json`` file with StageRun objects again (fields an older file lacks are 0)."""
    names = {f.name for f in fields(StageRun)}

    def run_of(data: dict[str, Any] | None) -> StageRun | None:
        if data is None:
            return None
        values = {name: data.get(name, 0.0) for name in names}
        values["extra"] = dict(data.get("extra") or {})
        return StageRun(**values)

    return [
        {**size, "runs": [run_of(r) for r in size["runs"]], "tokenizer": run_of(size["tokenizer"])}
        for size in document["sizes"]
    ]


def markdown_tables(sizes: list[dict[str, Any]], stages: list[str], workers_list: list[int]) -> str:
    """The figures as Markdown tables: every run, then the curve (per-page cost and peak RSS)."""
    lines = [
        "| pages | stage | workers | wall s | CPU s | CPU s per 1,000 pages | peak RSS MB (tree) "
        "| PSS MB | runner process MB | largest worker MB | MB written | MB shuffled |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for run in size["runs"]:
            per_page = run.cpu_s / run.pages * 1000 if run.pages else float("nan")
            lines.append(
                f"| {size['pages']:,} | {run_label(run)} | {run.workers} | {run.wall_s:.1f} | {run.cpu_s:.1f} "
                f"| {per_page:.2f} | {run.peak_tree_rss_mb:.0f} | {run.peak_tree_pss_mb:.0f} "
                f"| {_rss(run.peak_runner_rss_mb)} | {_rss(run.peak_worker_rss_mb)} "
                f"| {run.written_bytes / MB:.1f} | {_mb(run.shuffled_bytes)} |"
            )
        token = size["tokenizer"]
        if token is not None:
            lines.append(
                f"| {size['pages']:,} | tokenizer (once) | 1 | {token.wall_s:.1f} | {token.cpu_s:.1f} "
                f"| | {token.peak_tree_rss_mb:.0f} | {token.peak_tree_pss_mb:.0f} "
                f"| {_rss(token.peak_runner_rss_mb)} | - | {token.written_bytes / MB:.1f} | |"
            )
    pages = [size["pages"] for size in sizes]
    head = " / ".join(f"{p:,}" for p in pages)
    intervals = " / ".join(f"{a:,}-{b:,}" for a, b in itertools.pairwise(pages))
    lines += [
        "",
        f"| stage | workers | CPU s per 1,000 pages at {head} | marginal CPU s per 1,000 more pages, "
        f"{intervals} | peak RSS MB at {head} | largest/smallest |",
        "| --- | ---: | --- | --- | --- | ---: |",
    ]
    for stage, workers, tree in itertools.product(stages, workers_list, trees_of(sizes)):
        runs = [find_run(size, stage, workers, tree) for size in sizes]
        cost = [r.cpu_s / r.pages * 1000 if r.pages else float("nan") for r in runs]
        marginal = [(b.cpu_s - a.cpu_s) / (b.pages - a.pages) * 1000 for a, b in itertools.pairwise(runs)]
        rss = [r.peak_tree_rss_mb for r in runs]
        lines.append(
            f"| {run_label(runs[0])} | {workers} | {' / '.join(f'{c:.2f}' for c in cost)} "
            f"| {' / '.join(f'{m:.2f}' for m in marginal)} "
            f"| {' / '.join(f'{m:.0f}' for m in rss)} | {rss[-1] / rss[0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _int_list(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", default="10000,100000,1000000", help="target page counts, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument(
        "--stages", default=",".join(CURVE_STAGES), help="stages in the curve (of extract,vocab,shards)"
    )
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / "work")
    parser.add_argument("--json", type=Path, help="write every measured figure here")
    parser.add_argument("--plot", type=Path, help="write a PNG: wall seconds and peak RSS against pages")
    parser.add_argument("--keep", action="store_true", help="keep each size's work directories")
    parser.add_argument("--markdown", type=Path, help="write the figures as Markdown tables here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another tree (e.g. a git worktree): each curve stage runs with it first, then with this tree",
    )
    parser.add_argument(
        "--prerequisite-workers",
        type=int,
        help="workers for the stages outside the curve (run once per size); default: each run's count",
    )
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: print (and plot, tabulate) a --json file's figures"
    )
    args = parser.parse_args()
    if args.from_json:
        document = json.loads(args.from_json.read_text())
        sizes = sizes_from_json(document)
        stages, workers_list = document["stages"], document["workers"]
        for size in sizes:
            print_size(size)
        print_curve(sizes, stages, workers_list)
        if args.plot:
            write_plot(args.plot, sizes, stages, workers_list)
            print(f"wrote {args.plot}")
        if args.markdown:
            args.markdown.write_text(markdown_tables(sizes, stages, workers_list))
            print(f"wrote {args.markdown}")
        return
    targets = sorted(_int_list(args.pages))
    workers_list = _int_list(args.workers)
    stages = [s for s in CURVE_STAGES if s in args.stages.split(",")]
    unknown = set(args.stages.split(",")) - set(CURVE_STAGES)
    if unknown or not stages:
        parser.error(f"--stages takes {','.join(CURVE_STAGES)}")
    exe = str(Path(sys.executable).parent / "mluke-data")
    args.work.mkdir(parents=True, exist_ok=True)

    base, per_scale = pages_per_scale()
    print(f"sample: {per_scale} pages per scale unit (+{base}); {os.cpu_count()} cores")
    sizes = []

    def write_json() -> None:
        # Written after every size, so a long run that is cut short keeps what it measured.
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": machine_info(),
            "pages_per_scale": per_scale,
            "pages_at_scale_0": base,
            "sample_interval_s": SAMPLE_INTERVAL_S,
            "stages": stages,
            "workers": workers_list,
            "sizes": [_as_json(size) for size in sizes],
        }
        args.json.write_text(json.dumps(document, indent=1) + "\n")

    for target in targets:
        scale = scale_for(target, base, per_scale)
        size = measure_size(
            exe,
            args.work.resolve(),
            target,
            scale,
            workers_list,
            stages,
            args.keep,
            args.baseline.resolve() if args.baseline else None,
            args.prerequisite_workers,
        )
        print_size(size)
        sizes.append(size)
        if args.json:
            write_json()
    print_curve(sizes, stages, workers_list)
    if args.json:
        print(f"\nwrote {args.json}")
    if args.plot:
        write_plot(args.plot, sizes, stages, workers_list)
        print(f"wrote {args.plot}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_tables(sizes, stages, workers_list))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
