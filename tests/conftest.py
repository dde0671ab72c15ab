"""Shared fixtures."""

from __future__ import annotations

import os
import sys

# tests/ holds helpers (dumpfactory, fetch_server) imported by several test modules.
sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("NO_GCE_CHECK", "true")
