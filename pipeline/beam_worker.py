"""Entry point of local Beam worker processes: the SDK harness, minus import-time noise.

Beam logs warnings about optional GCP client libraries through the root logger while it is
imported; a handler on the root logger first keeps them off the user's terminal. SIGINT is
ignored here: the launcher (pipeline.interrupt) kills the workers, so a Ctrl-C does not make
every worker print a traceback. A failed work item's traceback, which the harness prints to the
worker's stderr, is dropped too: the harness also sends it to the launcher, which reports the
failure once (one ``Error:`` line for a user's mistake, the traceback for anything else).
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any, TextIO

from pipeline.interrupt import ignore_interrupts

logging.getLogger().addHandler(logging.NullHandler())
# A Ctrl-C reaches every process of the terminal's group: the launcher stops the workers.
ignore_interrupts()

from pipeline.beam_startup import import_beam, remember_dofn_specs  # noqa: E402

import_beam()

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402

remember_dofn_specs()
# Beam's modules live as long as the worker: keep them out of every full collection's traversal.
gc.freeze()


class _WithoutTracebacks:
    """stderr without the tracebacks the harness prints (``print(traceback, file=sys.stderr)``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._dropped = False

    def write(self, text: str) -> int:
        if text.startswith("Traceback (most recent call last):"):
            self._dropped = True
            return len(text)
        if self._dropped and text == "\n":  # the newline print() adds after it
            self._dropped = False
            return len(text)
        self._dropped = False
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


if __name__ == "__main__":
    sys.stderr = _WithoutTracebacks(sys.stderr)  # type: ignore[assignment]
    sdk_worker_main.main(sys.argv)
