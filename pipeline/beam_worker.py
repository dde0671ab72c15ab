"""Entry point of local Beam worker processes: the SDK harness, minus import-time noise.

Beam logs warnings about optional GCP client libraries through the root logger while it is
imported; a handler on the root logger first keeps them off the user's terminal.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logging.getLogger().addHandler(logging.NullHandler())

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402


class _WithoutFileErrorTracebacks:
    """stderr minus the tracebacks of ``UnusableFileError`` (a bad input file, a full disk): the
    command prints those as one ``Error:`` line, and the SDK harness would print each in full."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if "UnusableFileError: " in text:
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


if __name__ == "__main__":
    sys.stderr = _WithoutFileErrorTracebacks(sys.stderr)
    sdk_worker_main.main(sys.argv)
