"""Ctrl-C, ``kill -INT`` and ``kill -TERM`` stop the whole process tree at once, in one line.

A local Beam run is a launcher plus worker processes (and the workers' parse-guard children).
The launcher handles SIGINT and SIGTERM itself: it kills every descendant process, prints one
line and exits with 128 + the signal number. The handler is installed explicitly because a
process started in the background by a non-interactive shell inherits SIGINT as *ignored*, and
Python then never raises KeyboardInterrupt. Workers ignore SIGINT (pipeline.beam_worker), so a
Ctrl-C that reaches the whole terminal process group leaves them to the launcher instead of
printing a traceback each.

Nothing is lost: every stage writes through temporary names and records itself as done only at
its end (pipeline.build), so running the same command again resumes and ends with the same
bytes as an uninterrupted build.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

INTERRUPTED = "interrupted; run the same command to resume"


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc; [] where there is no /proc."""
    children = _children_by_parent()
    found: list[int] = []
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop(0)
        if child in found:
            continue
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL every descendant of ``pid`` (not ``pid`` itself)."""
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
    if pid != os.getpid():
        return
    try:  # our own children, where /proc cannot list them
        import multiprocessing

        for child in multiprocessing.active_children():
            child.kill()
    except Exception:
        pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    kill_tree(os.getpid())
    try:
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[2K\x1b[?25h")  # clear a progress bar, show the cursor again
        sys.stderr.write(f"\n{INTERRUPTED}\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def install_interrupt_handlers() -> None:
    """Make SIGINT and SIGTERM stop this process and everything it started."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


def ignore_interrupts() -> None:
    """For worker processes: leave Ctrl-C to the launcher, which stops the whole tree."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_interruptibly(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a helper thread while the main thread waits in short steps.

    Python runs signal handlers in the main thread between bytecodes, so a long call into C++
    (sentencepiece training can take minutes) would hold a Ctrl-C back until it returns.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func(*args)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="interruptible", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
