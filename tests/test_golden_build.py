"""Golden test: every output file of `mluke-data build --source sample` has a recorded sha256.

A refactor must leave every byte as it was. A change that alters outputs on purpose updates the
record (``MLUKE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_build.py``) and says why in
its commit message.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "build_sample.sha256"


def output_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_sample_build_outputs_are_byte_identical_to_the_record(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--source", "sample", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    found = output_hashes(tmp_path)
    if os.environ.get("MLUKE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text("".join(f"{digest}  {name}\n" for name, digest in found.items()), encoding="utf-8")
    recorded = {}
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        recorded[name] = digest
    changed = sorted(name for name in recorded.keys() & found.keys() if recorded[name] != found[name])
    assert not changed, f"outputs changed: {changed[:10]}"
    assert sorted(found.keys() - recorded.keys()) == [], "new output files"
    assert sorted(recorded.keys() - found.keys()) == [], "output files missing"
