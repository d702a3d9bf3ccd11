"""The dependency rule, kept by the suite: each app imports only the apps below it.

    reports, api  →  opportunities, audits  →  experiments  →  llmcore  →  (nothing of ours)
    accounts sits below all; config wires everything and is imported by no app.

A lower layer tells a higher one about changes through a signal it declares, never by importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each app may import from our own apps (besides itself).
ALLOWED: dict[str, set[str]] = {
    "accounts": set(),
    "llmcore": {"accounts"},
    "experiments": {"llmcore", "accounts"},
    "opportunities": {"experiments", "llmcore", "accounts"},
    "audits": {"opportunities", "experiments", "llmcore", "accounts"},
    "reports": {"audits", "opportunities", "experiments", "llmcore", "accounts"},
    "api": {"reports", "audits", "opportunities", "experiments", "llmcore", "accounts"},
}
OURS = set(ALLOWED) | {"config"}


def imported_apps(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in the file, relative ones resolved, including imports
    inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                resolved = parts[: max(len(parts) - node.level + 1, 0)] + (node.module or "").split(".")
                found.append((node.lineno, next(p for p in resolved if p)))
            elif node.module:
                found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(app: str, root: Path = ROOT) -> list[str]:
    problems = []
    for path in sorted((root / app).rglob("*.py")):
        relative = path.relative_to(root)
        package = ".".join(relative.with_suffix("").parts[:-1]) or app
        for line, target in imported_apps(path, package):
            if target in OURS and target != app and target not in ALLOWED[app]:
                problems.append(f"{relative}:{line} imports {target}")
    return problems


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_imports_point_down_the_layers(app):
    if not (ROOT / app).is_dir():
        pytest.skip(f"no {app} app yet")
    assert violations(app) == []


def test_the_check_catches_an_import_that_points_up(tmp_path):
    (tmp_path / "experiments" / "views").mkdir(parents=True)
    (tmp_path / "experiments" / "views" / "pages.py").write_text(
        "from __future__ import annotations\n\ndef f():\n    from opportunities.models import Task\n"
    )
    (tmp_path / "experiments" / "ok.py").write_text(
        "from llmcore.models import ModelConfig\nfrom . import keys\n"
    )
    (tmp_path / "llmcore").mkdir()
    (tmp_path / "llmcore" / "bad.py").write_text("from ..experiments import models\nimport config.settings\n")
    assert violations("experiments", tmp_path) == ["experiments/views/pages.py:4 imports opportunities"]
    assert violations("llmcore", tmp_path) == [
        "llmcore/bad.py:1 imports experiments",
        "llmcore/bad.py:2 imports config",
    ]
