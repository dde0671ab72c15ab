"""Progress of a running stage, read from the files its workers finish.

Beam's local runner reports nothing while a stage runs, and its workers are other processes.
Each stage writes one file per finished work unit (temp name, then rename), so counting the
finished files under a pattern is an honest progress measure on any runner with a shared
filesystem. A terminal gets a rich progress bar; anything else one plain line every 30 s.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import click

from transforms.files import match_files

PLAIN_INTERVAL_S = 30.0


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
        while not self._stop.wait(PLAIN_INTERVAL_S):
            done = min(count_files(self.pattern), self.total)
            elapsed = time.monotonic() - started
            click.echo(f"{self.label}: {done}/{self.total} {self.unit} done after {elapsed:.0f} s", err=True)
