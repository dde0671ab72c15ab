"""Entry point of local Beam worker processes: the SDK harness, minus import-time noise.

Beam logs warnings about optional GCP client libraries through the root logger while it is
imported; a handler on the root logger first keeps them off the user's terminal. SIGINT is
ignored here: the launcher (pipeline.interrupt) kills the workers, so a Ctrl-C does not make
every worker print a traceback.
"""

from __future__ import annotations

import logging
import sys

from pipeline.interrupt import ignore_interrupts

logging.getLogger().addHandler(logging.NullHandler())
# A Ctrl-C reaches every process of the terminal's group: the launcher stops the workers.
ignore_interrupts()

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402

if __name__ == "__main__":
    sdk_worker_main.main(sys.argv)
