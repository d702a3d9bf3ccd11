"""What audits add to the team home (what is due) and to the use case page."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audits import services
from audits.models import Risk


def test_home_shows_audits_waiting_for_sign_off_overdue_risks_and_blocked_moves(
    submitted, use_case, as_user, editor, auditor
):
    risk = Risk(
        team=use_case.team,
        use_case=use_case,
        dimension="privacy",
        description="Logs keep addresses",
        likelihood=2,
        impact=3,
        residual_likelihood=1,
        residual_impact=3,
        due=timezone.localdate() - timedelta(days=2),
    )
    services.save_risk(risk, editor, created=True)
    page = as_user(auditor).get(reverse("team_home", args=["acme"])).content.decode()
    assert "Governance audit v1 of Email drafting" in page and "you can sign it" in page
    assert "Logs keep addresses" in page
    assert "Email drafting</a> → Build" in page
    assert "A signed-off governance audit (version 1 is waiting for sign-off)." in page
    # the preparer is told nothing about signing it themselves
    assert "you can sign it" not in as_user(editor).get(reverse("team_home", args=["acme"])).content.decode()


def test_home_says_when_nothing_is_due(team, viewer_client):
    page = viewer_client.get(reverse("team_home", args=["acme"])).content.decode()
    assert "Nothing is due" in page


def test_the_use_case_page_shows_its_audits_risks_tier_and_trail(approved, use_case, viewer_client):
    page = viewer_client.get(reverse("usecase_detail", args=["acme", use_case.code])).content.decode()
    assert 'data-testid="usecase-audits"' in page
    assert reverse("audits:audit_detail", args=["acme", approved.code]) in page
    assert reverse("audits:risk_register", args=["acme", use_case.code]) in page
    assert reverse("audits:report", args=["acme", use_case.code]) in page
    assert "signed an audit" in page and "answered an item" in page
    assert "not started" in page  # the model and application audits
