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


def test_stage_status_without_a_terminal_prints_steps_and_keeps_talking(capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.05)
    with progress.StageStatus("tokenizer", "reading sizes") as status:
        status.update("sampling en (1/2 languages)")
        time.sleep(0.3)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("tokenizer: reading sizes (")
    assert lines[1].startswith("tokenizer: sampling en (1/2 languages) (")
    assert any(line.startswith("tokenizer: still sampling en") for line in lines[2:])


def test_file_progress_without_a_terminal_speaks_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 3600)
    with progress.FileProgress("shards", str(tmp_path / "*.arrow"), total=3, unit="page files"):
        pass
    assert capsys.readouterr().err.splitlines()[0] == "shards: 0/3 page files done"
