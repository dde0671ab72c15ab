"""Progress of a running stage, read from the files its workers finish.

Beam's local runner reports nothing while a stage runs, and its workers are other processes.
Each stage writes one file per finished work unit (temp name, then rename), so counting the
finished files under a pattern is an honest progress measure on any runner with a shared
filesystem. A terminal gets a rich progress bar; anything else (a log file, CI) one plain line
when the stage starts and one every ``PLAIN_INTERVAL_S``.

Stages whose work cannot be counted in files (the vocabulary's joins, sentencepiece training)
use :class:`StageStatus`: a spinner with what is being done and the time so far, or plain lines.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import click

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
