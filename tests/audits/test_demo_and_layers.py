"""The demo seed's audits, and the dependency direction (no lower app imports audits)."""

from __future__ import annotations

import ast
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from audits.models import Audit, Evidence, Risk, TrailEntry
from audits.trail import verify
from opportunities.models import UseCase

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_has_a_signed_governance_audit_a_model_audit_risks_and_a_refused_move(db, monkeypatch):
    monkeypatch.setattr("audits.demo.broker_reachable", lambda: True)  # on_commit never runs in this test
    out = StringIO()
    call_command("seed_demo", stdout=out)
    use_case = UseCase.objects.get(team__slug="demo", name="Email reply drafting")
    governance = Audit.objects.get(use_case=use_case, kind="governance")
    assert governance.status == "approved"
    assert (
        governance.preparer.username == "demo-editor"
        and governance.sign_off.signer.username == "demo-auditor"
    )
    model = Audit.objects.get(use_case=use_case, kind="model")
    assert model.status == "in_progress" and model.items.exclude(answer="").count() == 3
    assert Evidence.objects.get(item__audit=model).kind == "experiment_run"
    assert Risk.objects.filter(use_case=use_case).count() == 3
    refused = TrailEntry.objects.get(action="usecase.stage_refused")
    assert (
        refused.change["stage"] == ["internal-evaluation", "deploy"] and len(refused.change["missing"]) == 3
    )
    use_case.refresh_from_db()
    assert use_case.stage == "internal-evaluation" and use_case.risk_tier == "limited"
    assert verify().ok
    count = TrailEntry.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert TrailEntry.objects.count() == count  # idempotent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_lower_app_imports_audits():
    for app in ("accounts", "llmcore", "experiments", "opportunities"):
        for path in (ROOT / app).rglob("*.py"):
            bad = [name for name in _imports(path) if name == "audits" or name.startswith("audits.")]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
    for path in (ROOT / "templates" / "opportunities").glob("*.html"):
        assert "audits:" not in path.read_text(), path.name
