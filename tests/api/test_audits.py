"""Audits and risks over the API, read only."""

from __future__ import annotations

import pytest

from audits import services
from audits.models import Answer, Risk
from opportunities.usecases import create_use_case
from tests.factories import make_job, make_task

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/acme/"


@pytest.fixture
def signed(team, owner, editor, auditor, settings, tmp_path):
    settings.AUDIT_EVIDENCE_DIR = tmp_path / "evidence"
    use_case = create_use_case(team, owner, [make_task(make_job(team), "Draft replies")], name="Drafting")
    audit = services.start_audit(use_case, "governance", editor)
    for item in audit.items.all():
        services.answer_item(item, answer=Answer.YES, notes="checked", user=editor)
    services.submit(audit, editor)
    services.sign(audit, user=auditor, decision="approved", comment="Fine")
    risk = Risk(
        team=team, use_case=use_case, dimension="privacy", description="Replies may quote personal data",
        likelihood=3, impact=4, residual_likelihood=2, residual_impact=2, owner=owner,
    )  # fmt: skip
    services.save_risk(risk, owner, created=True)
    return audit, risk


def test_personas_on_audits_and_risks(api_as, stranger, viewer, signed):
    audit, _ = signed
    for url in [f"{T}audits/", f"{T}audits/{audit.code}/", f"{T}risks/"]:
        assert api_as(stranger).get(url).status_code == 404, url
        assert api_as(viewer).get(url).status_code == 200, url
        assert api_as(viewer).post(url, {}, format="json").status_code == 405, url


def test_an_audit_shows_its_progress_answers_and_sign_off(api_as, viewer, auditor, signed):
    audit, risk = signed
    client = api_as(viewer)
    listed = client.get(f"{T}audits/", {"status": "approved"}).json()["results"]
    assert [a["code"] for a in listed] == [str(audit.code)]
    detail = client.get(f"{T}audits/{audit.code}/").json()
    assert detail["sign_off"]["signer"] == auditor.username and detail["sign_off"]["decision"] == "approved"
    assert detail["answered"] == detail["items"] == len(detail["answers"]) > 0
    assert {a["answer"] for a in detail["answers"]} == {"yes"}
    risks = client.get(f"{T}risks/", {"dimension": "privacy"}).json()["results"]
    assert [(r["score"], r["residual_score"], r["owner"]) for r in risks] == [(12, 4, "olivia")]
    assert client.get(f"{T}risks/", {"status": "closed"}).json()["count"] == 0
    assert client.get(f"{T}audits/", {"kind": "model"}).json()["count"] == 0


def test_audit_and_risk_lists_use_a_fixed_number_of_queries(
    api_as, viewer, signed, django_assert_max_num_queries
):
    client = api_as(viewer)
    with django_assert_max_num_queries(6):
        assert client.get(f"{T}audits/").json()["count"] == 1
    with django_assert_max_num_queries(6):
        assert client.get(f"{T}risks/").json()["count"] == 1
