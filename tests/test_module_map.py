"""docs/CONTRIBUTING.md's module map names every module of the four packages, and only those."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "transforms", "pipeline", "training")


def test_the_module_map_matches_the_tree():
    text = (REPO / "docs" / "CONTRIBUTING.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `((?:schemas|transforms|pipeline|training)/[a-z_]+\.py)`:", text, re.M))
    present = {
        f"{package}/{path.name}"
        for package in PACKAGES
        for path in (REPO / package).glob("*.py")
        if path.name != "__init__.py"
    }
    assert sorted(present - listed) == [], "modules missing from docs/CONTRIBUTING.md"
    assert sorted(listed - present) == [], "docs/CONTRIBUTING.md lists modules that do not exist"


def test_imports_flow_one_way():
    rules = {
        "schemas": ("transforms", "pipeline", "training"),
        "transforms": ("pipeline", "training"),
        "training": ("transforms", "pipeline", "apache_beam"),
    }
    for package, forbidden in rules.items():
        for path in (REPO / package).glob("*.py"):
            source = path.read_text(encoding="utf-8")
            for name in forbidden:
                assert not re.search(rf"^\s*(from|import) {name}\b", source, re.M), (path.name, name)
