"""Fairness results as audit evidence: resolve and choices per kind, with exactly LinkedResult's fields."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from audits.fairness import evidence, groupfair, services
from tests.factories import make_team

FIELDS = {"kind", "code", "title", "url", "passed", "summary", "updated"}


@pytest.fixture
def assessment(team, owner, label_run):
    options = groupfair.Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=0)
    return services.assess_run(team, owner, label_run, options, name="Loans by group")


def test_an_assessment_resolves_with_its_verdict_and_summary(team, assessment):
    linked = evidence.resolve_fairness_assessment(team, assessment.code)
    assert set(linked) == FIELDS
    assert linked["kind"] == "fairness_assessment" and linked["code"] == str(assessment.code)
    assert linked["passed"] is False
    assert linked["title"] == "Group fairness assessment: Loans by group"
    assert linked["url"] == f"/t/{team.slug}/fairness/assessments/{assessment.code}/"
    assert "four-fifths" in linked["summary"]["rule"] and isinstance(linked["updated"], datetime)
    assert evidence.choices_fairness_assessment(team) == [linked]


def test_another_teams_result_or_a_bad_code_resolves_to_nothing(team, assessment):
    other = make_team("Other", "other-team")
    assert evidence.resolve_fairness_assessment(other, assessment.code) is None
    assert evidence.choices_fairness_assessment(other) == []
    assert evidence.resolve_fairness_assessment(team, uuid.uuid4()) is None
    assert evidence.resolve_fairness_assessment(team, "not-a-uuid") is None


def test_every_kind_has_resolve_and_choices(team, owner, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        probe = services.start_stereotype(team, owner, "admin", model=tiny_model, suite=None)
    for kind in ("fairness_assessment", "counterfactual_probe", "stereotype_probe", "redteam_run"):
        assert callable(getattr(evidence, f"resolve_{kind}")) and callable(
            getattr(evidence, f"choices_{kind}")
        )
    (linked,) = evidence.choices_stereotype_probe(team)
    assert set(linked) == FIELDS and linked["passed"] is None and linked["summary"]["status"] == "queued"
    assert evidence.resolve_stereotype_probe(team, probe.code) == linked


def test_an_audit_can_link_a_fairness_assessment_through_the_evidence_registry(team, assessment):
    from audits import evidence_kinds

    linked = evidence_kinds.resolve(team, "fairness_assessment", str(assessment.code))
    assert isinstance(linked, evidence_kinds.LinkedResult)
    assert linked.passed is False and linked.title == "Group fairness assessment: Loans by group"
    assert set(evidence_kinds.registered()) >= {
        "experiment_run",
        "fairness_assessment",
        "counterfactual_probe",
        "stereotype_probe",
        "redteam_run",
    }
