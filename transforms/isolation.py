"""Run a function in a child process with a wall-clock timeout and a memory cap.

mwparserfromhell has pages that loop forever inside its C tokenizer (ignoring signals), pages
that take tens of GB, and RecursionErrors. A page like that must cost one dead letter, not a
stalled or killed worker: the child is killed on timeout and restarted for the next page.

The timeout covers the call only: a (re)started child first reports that it is ready, within
``startup_timeout_s``, so a slow start on a loaded machine is never mistaken for a page that hangs.

The child is a fresh interpreter that imports only the function's module. (multiprocessing's
spawn and forkserver children first import the parent's ``__main__``, which for the CLI or a Beam
worker is all of Beam: about 2 s per start instead of a fifth of one.)
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import pickle
import resource
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

_CHILD_COMMAND = "import sys; from transforms.isolation import child_main; child_main(int(sys.argv[1]))"


class IsolatedCallError(Exception):
    """The call failed in the child: ``kind`` is timeout, crash, or the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def child_main(fd: int) -> None:
    """The child's loop: receive sys.path, then (func, memory cap), then calls, one at a time."""
    # A Ctrl-C reaches the whole process group: the launcher stops everything, the child waits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = multiprocessing.connection.Connection(fd)
    try:
        # The parent's import path first, so that the function's module unpickles as it does there.
        sys.path[:] = conn.recv()
        func, memory_bytes = pickle.loads(conn.recv_bytes())
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        conn.send(("ready",))
    except (EOFError, OSError, ValueError):
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
    """Calls ``func(*args)`` in a persistent child process (a fresh interpreter, so safe to start
    from threaded hosts such as Beam's worker). ``func`` must be picklable by reference."""

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
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self.restarts = 0

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_COMMAND, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._conn = multiprocessing.connection.Connection(ours.detach())
        try:
            self._conn.send(list(sys.path))
            self._conn.send_bytes(pickle.dumps((self._func, self._memory_bytes)))
            ready = self._conn.poll(self._startup_timeout_s) and self._conn.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._process.poll()
            self._kill()
            raise IsolatedCallError(
                "crash",
                f"the isolated process did not start within {self._startup_timeout_s:g} s (exit code {code})",
            )

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process = None
        self._conn = None

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __call__(self, *args: Any) -> Any:
        if not self._alive():
            self._kill()
            self._start()
        assert self._conn is not None and self._process is not None
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
            code = self._process.wait()
            self._kill()
            self.restarts += 1
            raise IsolatedCallError("crash", f"the isolated process died (exit code {code})") from error
        if reply[0] == "ok":
            return reply[1]
        raise IsolatedCallError(reply[1], reply[2])

    def close(self) -> None:
        self._kill()
