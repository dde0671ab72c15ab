"""Entry point of local Beam worker processes: the SDK harness, minus import-time noise.

Beam logs warnings about optional GCP client libraries through the root logger while it is
imported; a handler on the root logger first keeps them off the user's terminal.
"""

from __future__ import annotations

import logging
import sys

logging.getLogger().addHandler(logging.NullHandler())

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402

if __name__ == "__main__":
    sdk_worker_main.main(sys.argv)
