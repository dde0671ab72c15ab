"""Progress of a running stage, read from the files its workers finish.

Beam's local runner reports nothing while a stage runs, and its workers are other processes.
Each stage writes one file per finished work unit (temp name, then rename), so counting the
finished files under a pattern is an honest progress measure on any runner with a shared
filesystem. A terminal gets a rich progress bar; anything else (a log file, CI) one plain line
when the stage starts and one every ``PLAIN_INTERVAL_S``.

Stages whose work cannot be counted in files (the vocabulary's joins, sentencepiece training)
use :class:`StageStatus`: a spinner with what is being done and the time so far, or plain lines.
Downloads (``fetch``) use :class:`DownloadProgress`: bytes, rate and ETA from the sizes of the
partial and finished files.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from transforms.download import human_bytes
from transforms.download_chunks import file_states
from transforms.fetch_plan import FileTask
from transforms.files import match_files

PLAIN_INTERVAL_S = 10.0


def count_files(pattern: str) -> int:
    return sum(1 for path in match_files(pattern) if not path.endswith(".tmp"))


class FileProgress:
    """``with FileProgress("extract", "out/pages/*/*.parquet", total=120): pipeline.run()``."""

    def __init__(self, label: str, pattern: str, total: int, unit: str = "work items") -> None:
        self.label = label
        self.pattern = pattern
        self.total = total
        self.unit = unit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{label}-progress", daemon=True)

    def __enter__(self) -> FileProgress:
        if self.total > 1:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            if sys.stderr.isatty():
                self._run_rich()
            else:
                self._run_plain()
        except Exception as error:  # progress must never break a stage
            click.echo(f"progress display stopped: {error}", err=True)

    def _run_rich(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns: list[Any] = [
            TextColumn(f"{self.label} ({self.unit})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(self.label, total=self.total)
            while not self._stop.wait(1.0):
                progress.update(task, completed=min(count_files(self.pattern), self.total))

    def _run_plain(self) -> None:
        started = time.monotonic()
        click.echo(f"{self.label}: 0/{self.total} {self.unit} done", err=True)
        while not self._stop.wait(PLAIN_INTERVAL_S):
            done = min(count_files(self.pattern), self.total)
            elapsed = time.monotonic() - started
            click.echo(f"{self.label}: {done}/{self.total} {self.unit} done after {elapsed:.0f} s", err=True)


class StageStatus:
    """``with StageStatus("tokenizer") as status: status.update("sampling en"); ...``.

    A terminal gets a spinner with the current step and the elapsed time; anything else a line
    per step and a "still running" line every ``PLAIN_INTERVAL_S``.
    """

    def __init__(self, label: str, step: str = "running") -> None:
        self.label = label
        self.step = step
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._tty = sys.stderr.isatty()
        self._thread = threading.Thread(target=self._run, name=f"{label}-status", daemon=True)

    def __enter__(self) -> StageStatus:
        if not self._tty:
            self._echo()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._changed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def update(self, step: str) -> None:
        self.step = step
        if not self._tty:
            self._echo()
        self._changed.set()

    def _echo(self) -> None:
        click.echo(f"{self.label}: {self.step} ({time.monotonic() - self._started:.0f} s)", err=True)

    def _run(self) -> None:
        try:
            if self._tty:
                self._run_rich()
            else:
                while not self._stop.wait(PLAIN_INTERVAL_S):
                    click.echo(
                        f"{self.label}: still {self.step} ({time.monotonic() - self._started:.0f} s)",
                        err=True,
                    )
        except Exception as error:  # progress must never break a stage
            click.echo(f"progress display stopped: {error}", err=True)

    def _run_rich(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(f"{self.label}: {self.step}", total=None)
            while not self._stop.is_set():
                self._changed.wait(0.5)
                self._changed.clear()
                progress.update(task, description=f"{self.label}: {self.step}")


# ----------------------------------------------------------------------------------------------
# Downloads (fetch): bytes of partial and finished files

DOWNLOAD_REFRESH_S = 0.5  # the terminal display of downloads


def _show_guarded(show: Callable[[], None]) -> None:
    try:
        show()
    except Exception as error:  # progress must never break a stage
        click.echo(f"progress display stopped: {error}", err=True)


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _shorten(name: str, width: int = 40) -> str:
    # The tail carries the part number and range, the part that tells files apart.
    return name if len(name) <= width else "…" + name[-(width - 1) :]


class DownloadProgress:
    """``with DownloadProgress(plan.tasks): pipeline.run()``: bytes, rate and ETA of ``fetch``.

    Polls the sizes of the chunk and final files of the tasks while the pipeline runs (rather
    than listening to workers), which works for in-process and multi-process local runs alike.
    A terminal gets a rich display (overall and one bar per active file); anything else gets one
    plain line every ``PLAIN_INTERVAL_S`` seconds.
    """

    def __init__(self, tasks: Sequence[FileTask], tty: bool | None = None) -> None:
        self._tasks = list(tasks)
        self._tty = sys.stderr.isatty() if tty is None else tty
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fetch-progress", daemon=True)
        self._total = sum(t.size or 0 for t in tasks)

    def __enter__(self) -> DownloadProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _snapshot(self) -> tuple[int, int, dict[str, tuple[str, int]]]:
        states = file_states(self._tasks)
        done = sum(1 for state, _ in states.values() if state == "present")
        current = sum(
            min(n, t.size) if t.size is not None else n for t in self._tasks for _, n in [states[t.dest]]
        )
        return done, current, states

    def _run(self) -> None:
        _show_guarded(self._run_rich if self._tty else self._run_plain)

    def _run_plain(self) -> None:
        start = time.monotonic()
        _, first, _ = self._snapshot()
        while not self._stop.wait(PLAIN_INTERVAL_S):
            done, current, _ = self._snapshot()
            elapsed = time.monotonic() - start
            rate = (current - first) / elapsed if elapsed > 0 else 0.0
            left = self._total - current
            eta = format_duration(left / rate) if rate > 0 and left > 0 else "?"
            pct = 100.0 * current / self._total if self._total else 100.0
            click.echo(
                f"fetch: {done}/{len(self._tasks)} files, {human_bytes(current)} of "
                f"{human_bytes(self._total)} ({pct:.0f}%), {human_bytes(rate)}/s, ETA {eta}",
                err=True,
            )

    def _run_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        bars: dict[str, Any] = {}
        with progress:
            overall = progress.add_task(f"all {len(self._tasks)} files", total=self._total or None)
            while True:
                done, current, states = self._snapshot()
                progress.update(overall, completed=current, description=f"{done}/{len(self._tasks)} files")
                for task in self._tasks:
                    state, n = states[task.dest]
                    if state == "partial" and task.dest not in bars:
                        bars[task.dest] = progress.add_task(f"  {_shorten(task.name)}", total=task.size)
                    if task.dest in bars:
                        progress.update(bars[task.dest], completed=n)
                        if state == "present":
                            progress.remove_task(bars.pop(task.dest))
                if self._stop.wait(DOWNLOAD_REFRESH_S):
                    break


# ----------------------------------------------------------------------------------------------
