"""fairness sits above experiments and llmcore and registers its results with the audits app's evidence
kinds: it never imports opportunities, and the lower layers never import it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(folder: Path) -> set[tuple[str, str]]:
    found = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update((str(path.relative_to(ROOT)), alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module))
    return found


def test_fairness_does_not_import_opportunities():
    bad = [
        (f, m)
        for f, m in imported_modules(ROOT / "audits" / "fairness")
        if m.split(".")[0] == "opportunities"
    ]
    assert bad == []


def test_lower_layers_do_not_import_fairness():
    for app in ("experiments", "llmcore", "accounts"):
        bad = [(f, m) for f, m in imported_modules(ROOT / app) if m.startswith("audits")]
        assert bad == [], app
