"""Stage progress read from finished files."""

from __future__ import annotations

import time

import pipeline.progress as progress


def test_plain_progress_counts_finished_files_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.05)
    (tmp_path / "en").mkdir()
    with progress.FileProgress("extract", str(tmp_path / "*" / "*.parquet"), total=4):
        (tmp_path / "en" / "a.parquet").write_bytes(b"x")
        (tmp_path / "en" / "b.parquet.tmp").write_bytes(b"x")  # still being written
        time.sleep(0.3)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("extract: 1/4 work items done after")
