"""Stage gates registered by audits: what each move needs, the refusal's list, the admin override."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits import services
from audits.gates import stage_gate
from audits.models import GatePolicy, Risk, TrailEntry
from opportunities.models import Stage, UseCase
from opportunities.usecases import GateRequirement, StageMoveRejected, move_stage, register_stage_gate

from .conftest import answer_all


def approve(audit, preparer, signer):
    answer_all(audit, preparer)
    services.submit(audit, preparer)
    services.sign(audit, user=signer, decision="approved", comment="")


def set_stage(use_case, stage):
    UseCase.objects.filter(pk=use_case.pk).update(stage=stage)
    use_case.refresh_from_db()


def test_entering_build_needs_a_signed_governance_audit(use_case, owner):
    missing = stage_gate(use_case, Stage.BUILD)
    assert [m.text for m in missing] == ["A signed-off governance audit (none started yet)."]
    assert (
        missing[0].url == reverse("audits:usecase_audits", args=["acme", use_case.code]) + "?kind=governance"
    )
    with pytest.raises(StageMoveRejected) as refused:
        move_stage(use_case, target="build", expected="scope", user=owner)
    assert refused.value.missing == missing
    use_case.refresh_from_db()
    assert use_case.stage == "scope"
    assert TrailEntry.objects.filter(action="usecase.stage_refused").count() == 1


def test_an_audit_in_progress_is_not_enough_and_the_link_goes_to_it(use_case, governance):
    [requirement] = stage_gate(use_case, Stage.BUILD)
    assert "version 1 is in progress" in requirement.text
    assert requirement.url == reverse("audits:audit_detail", args=["acme", governance.code])


def test_an_approved_governance_audit_opens_build(use_case, owner, approved):
    assert stage_gate(use_case, Stage.BUILD) == []
    move_stage(use_case, target="build", expected="scope", user=owner)
    assert UseCase.objects.get(pk=use_case.pk).stage == "build"


def test_a_rejected_audit_does_not_open_the_gate(use_case, submitted, auditor):
    services.sign(submitted, user=auditor, decision="rejected", comment="data retention unclear")
    assert "rejected" in stage_gate(use_case, Stage.BUILD)[0].text


def test_a_reopened_audit_closes_the_gate_again(use_case, approved, editor):
    services.reopen(approved, editor)
    assert "version 2 is in progress" in stage_gate(use_case, Stage.BUILD)[0].text


def test_entering_deploy_needs_model_and_application_audits_and_low_residual_risks(use_case, editor, auditor):
    set_stage(use_case, Stage.INTERNAL_EVALUATION)
    texts = [m.text for m in stage_gate(use_case, Stage.DEPLOY)]
    assert texts == [
        "A signed-off model audit (none started yet).",
        "A signed-off application audit (none started yet).",
    ]
    approve(services.start_audit(use_case, "model", editor), editor, auditor)
    approve(services.start_audit(use_case, "application", editor), editor, auditor)
    assert stage_gate(use_case, Stage.DEPLOY) == []
    risk = Risk(
        team=use_case.team,
        use_case=use_case,
        dimension="fairness",
        description="Worse drafts in Spanish",
        likelihood=4,
        impact=4,
        residual_likelihood=4,
        residual_impact=3,
    )
    services.save_risk(risk, editor, created=True)
    [requirement] = stage_gate(use_case, Stage.DEPLOY)
    assert "residual score 12 (at most 9 allowed)" in requirement.text
    assert requirement.url == reverse("audits:risk_detail", args=["acme", risk.code])
    risk.status = "closed"
    services.save_risk(risk, editor, created=False)
    assert stage_gate(use_case, Stage.DEPLOY) == []


def test_high_risk_use_cases_also_need_governance_at_deploy(use_case, editor, auditor):
    set_stage(use_case, Stage.INTERNAL_EVALUATION)
    UseCase.objects.filter(pk=use_case.pk).update(risk_tier="high")
    use_case.refresh_from_db()
    texts = [m.text for m in stage_gate(use_case, Stage.DEPLOY)]
    assert texts[0] == "A signed-off governance audit (none started yet)."


def test_a_prohibited_use_case_cannot_leave_scope(use_case, approved):
    UseCase.objects.filter(pk=use_case.pk).update(risk_tier="prohibited")
    use_case.refresh_from_db()
    assert "Prohibited" in stage_gate(use_case, Stage.BUILD)[0].text


def test_the_team_policy_changes_the_requirements(use_case):
    GatePolicy.objects.create(team=use_case.team, build_needs_governance=False)
    assert stage_gate(use_case, Stage.BUILD) == []


def test_moving_back_is_never_gated(use_case):
    set_stage(use_case, Stage.BUILD)
    assert stage_gate(use_case, Stage.SCOPE) == []


def test_the_refusal_lists_what_is_missing_with_links_on_the_page(use_case, owner_client, team):
    response = owner_client.post(
        reverse("usecase_stage", args=[team.slug, use_case.code]), {"to": "build", "expected": "scope"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "cannot enter Build yet: 1 requirement is missing" in page
    assert reverse("audits:usecase_audits", args=[team.slug, use_case.code]) in page
    assert 'data-testid="gate-override"' in page  # an admin sees the override form


def test_an_admin_overrides_with_a_recorded_reason(use_case, owner_client, team, owner):
    url = reverse("usecase_stage", args=[team.slug, use_case.code])
    response = owner_client.post(
        url, {"to": "build", "expected": "scope", "override": "1", "override_reason": " "}
    )
    assert response.status_code == 409  # an empty reason is no reason
    response = owner_client.post(
        url,
        {
            "to": "build",
            "expected": "scope",
            "override": "1",
            "override_reason": "Pilot approved by the board",
        },
    )
    assert response.status_code == 302
    use_case.refresh_from_db()
    assert use_case.stage == "build"
    change = use_case.stage_changes.first()
    assert change.note.startswith("Gate overridden: Pilot approved by the board")
    entry = TrailEntry.objects.get(action="usecase.stage_overridden")
    assert entry.change["override"] == {
        "reason": "Pilot approved by the board",
        "missing": ["A signed-off governance audit (none started yet)."],
    }


def test_an_editor_cannot_override(use_case, client, editor, team):
    client.force_login(editor)
    url = reverse("usecase_stage", args=[team.slug, use_case.code])
    response = client.post(
        url, {"to": "build", "expected": "scope", "override": "1", "override_reason": "me"}
    )
    assert response.status_code == 403
    page = client.post(url, {"to": "build", "expected": "scope"}).content.decode()
    assert 'data-testid="gate-override"' not in page


def test_opportunities_consults_any_registered_gate(use_case, owner, monkeypatch):
    from opportunities import usecases

    monkeypatch.setattr(usecases, "_STAGE_GATES", [])
    register_stage_gate(lambda uc, target: [GateRequirement("Fill in the DPIA", "/dpia")])
    with pytest.raises(StageMoveRejected) as refused:
        move_stage(use_case, target="build", expected="scope", user=owner)
    assert refused.value.missing == [GateRequirement("Fill in the DPIA", "/dpia")]
