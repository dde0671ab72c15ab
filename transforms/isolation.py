"""Run a function in a child process with a wall-clock timeout and a memory cap.

mwparserfromhell has pages that loop forever inside its C tokenizer (ignoring signals), pages
that take tens of GB, and RecursionErrors. A page like that must cost one dead letter, not a
stalled or killed worker: the child is killed on timeout and restarted for the next page.

The timeout covers the call only: a (re)started child first reports that it is ready, within
``startup_timeout_s``, so a slow start on a loaded machine (a fresh interpreter importing the
parser) is never mistaken for a page that hangs.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import resource
import signal
import traceback
from collections.abc import Callable
from typing import Any


class IsolatedCallError(Exception):
    """The call failed in the child: ``kind`` is timeout, crash, or the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _child_main(
    conn: multiprocessing.connection.Connection, func: Callable[..., Any], memory_bytes: int | None
) -> None:
    # A Ctrl-C reaches the whole process group: the launcher stops everything, the child waits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send(("ready",))
    except (OSError, ValueError):
        return
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = ("ok", func(*args))
        except MemoryError:
            result = ("error", "MemoryError", "the memory cap was exceeded")
        except RecursionError:
            result = ("error", "RecursionError", "maximum recursion depth exceeded")
        except Exception as error:  # reported to the parent as data, never raised there
            tail = traceback.format_exception_only(type(error), error)[-1].strip()
            result = ("error", type(error).__name__, tail)
        try:
            conn.send(result)
        except (OSError, ValueError):
            return


class IsolatedFunction:
    """Calls ``func(*args)`` in a persistent child process (spawned, so safe in threaded hosts)."""

    def __init__(
        self,
        func: Callable[..., Any],
        timeout_s: float,
        memory_bytes: int | None = None,
        startup_timeout_s: float = 300.0,
    ) -> None:
        self._func = func
        self._timeout_s = timeout_s
        self._startup_timeout_s = startup_timeout_s
        self._memory_bytes = memory_bytes
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_child_main, args=(child, self._func, self._memory_bytes), daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        try:
            ready = parent.poll(self._startup_timeout_s) and parent.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._process.exitcode
            self._kill()
            raise IsolatedCallError(
                "crash",
                f"the isolated process did not start within {self._startup_timeout_s:g} s (exit code {code})",
            )

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process = None
        self._conn = None

    def __call__(self, *args: Any) -> Any:
        if self._process is None or not self._process.is_alive():
            self._kill()
            self._start()
        assert self._conn is not None
        try:
            self._conn.send(args)
            ready = self._conn.poll(self._timeout_s)
        except (OSError, ValueError) as error:
            self._kill()
            self.restarts += 1
            raise IsolatedCallError("crash", f"the isolated process failed: {error}") from error
        if not ready:
            self._kill()
            self.restarts += 1
            raise IsolatedCallError("timeout", f"no result within {self._timeout_s:g} s")
        try:
            reply = self._conn.recv()
        except (EOFError, OSError) as error:
            code = self._process.exitcode if self._process is not None else None
            self._kill()
            self.restarts += 1
            raise IsolatedCallError("crash", f"the isolated process died (exit code {code})") from error
        if reply[0] == "ok":
            return reply[1]
        raise IsolatedCallError(reply[1], reply[2])

    def close(self) -> None:
        self._kill()
