"""Reports over the API: list, request (the page's form rules), status and the file."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from reports import services
from reports.models import Report
from tests.experiments.factories import make_experiment
from tests.factories import make_job, make_task

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/acme/"


@pytest.fixture(autouse=True)
def _report_files(settings, tmp_path):
    settings.ASSAY_REPORTS_DIR = tmp_path / "reports"


@pytest.fixture
def job(team):
    job = make_job(team, "Support <b>agent</b>")
    make_task(job, "Answer customer emails")
    return job


@pytest.fixture
def ready(team, owner, job):
    """A portfolio report made here (not on a worker), as JSON."""
    report = services.request_report(team, owner, "portfolio", "json", {"jobs": []}, "Portfolio report")
    return services.generate(report.pk)


def test_personas_on_reports(api_as, stranger, viewer, editor, ready):
    urls = [f"{T}reports/", f"{T}reports/{ready.code}/", f"{T}reports/{ready.code}/download/"]
    for url in urls:
        assert api_as(stranger).get(url).status_code == 404, url
        assert api_as(viewer).get(url).status_code == 200, url
    body = {"kind": "portfolio", "format": "csv"}
    refused = api_as(viewer).post(f"{T}reports/", body, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert api_as(stranger).post(f"{T}reports/", body, format="json").status_code == 404
    assert Report.objects.count() == 1
    assert api_as(editor).post(f"{T}reports/", body, format="json").status_code == 202
    assert Report.objects.count() == 2


def test_an_editor_requests_a_portfolio_report_and_polls_it(api_as, editor, job, team):
    client = api_as(editor)
    response = client.post(
        f"{T}reports/", {"kind": "portfolio", "format": "json", "jobs": [str(job.code)]}, format="json"
    )
    assert response.status_code == 202, response.json()
    created = response.json()
    assert created["status"] == "queued" and created["ready"] is False and created["download_url"] is None
    assert created["title"] == "Portfolio report: Support <b>agent</b>"
    assert created["parameters"] == {"jobs": [str(job.code)]} and created["created_by"] == editor.username
    report = Report.objects.get(code=created["code"])
    assert report.team == team and report.created_by == editor
    waiting = client.get(f"{T}reports/{report.code}/download/")
    assert waiting.status_code == 409 and waiting.json()["error"]["code"] == "not_ready"
    services.generate(report.pk)
    detail = client.get(f"{T}reports/{report.code}/").json()
    assert detail["status"] == "done" and detail["progress"] == 100 and detail["ready"] is True
    assert detail["size"] > 0 and detail["expires"]
    assert detail["download_url"].endswith(f"{T}reports/{report.code}/download/")


def test_the_download_is_the_file_and_private(api_as, viewer, ready):
    response = api_as(viewer).get(f"{T}reports/{ready.code}/download/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"] and ".json" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert len(body) == ready.size
    assert "Support <b>agent</b>" in json.dumps(json.loads(body))


def test_failed_and_expired_reports_say_why_they_have_no_file(api_as, viewer, team, owner, ready):
    failed = Report.objects.create(
        team=team, kind="portfolio", format="pdf", title="Failed", status="failed",
        message="The experiment was deleted.", expires=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    answer = api_as(viewer).get(f"{T}reports/{failed.code}/download/")
    assert answer.status_code == 409 and answer.json()["error"] == {
        "code": "failed", "message": "The report failed: The experiment was deleted.", "fields": {},
    }  # fmt: skip
    services.files.remove(ready)
    gone = api_as(viewer).get(f"{T}reports/{ready.code}/download/")
    assert gone.status_code == 404 and "no longer kept" in gone.json()["error"]["message"]
    Report.objects.filter(pk=ready.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert [r["code"] for r in api_as(viewer).get(f"{T}reports/").json()["results"]] == [str(failed.code)]


def test_bad_requests_name_the_field(api_as, editor, team, owner):
    client = api_as(editor)

    def error(body):
        response = client.post(f"{T}reports/", body, format="json")
        assert response.status_code == 400, response.json()
        return response.json()["error"]

    assert error({"kind": "summary", "format": "pdf"})["fields"].keys() == {"kind"}
    assert error({"kind": "portfolio", "format": "docx"})["fields"].keys() == {"format"}
    assert error({"kind": "portfolio", "format": "pdf", "jobs": ["not-a-code"]})["fields"].keys() == {
        "jobs.0"
    }
    unknown = error({"kind": "portfolio", "format": "pdf", "jobs": [str(uuid.uuid4())]})
    assert unknown["code"] == "invalid" and "no longer in this team" in unknown["fields"]["jobs"][0]
    missing = error({"kind": "experiment", "format": "xlsx"})
    assert missing["fields"] == {"experiment": ["Choose the experiment the report is about."]}
    draft = make_experiment(team, owner)
    not_started = error({"kind": "experiment", "format": "xlsx", "experiment": str(draft.code)})
    assert "not a started experiment" in not_started["fields"]["experiment"][0]
    assert Report.objects.count() == 0
    type(draft).objects.filter(pk=draft.pk).update(status="done")
    ok = client.post(
        f"{T}reports/", {"kind": "experiment", "format": "xlsx", "experiment": str(draft.code)}, format="json"
    )
    assert ok.status_code == 202 and ok.json()["parameters"] == {"experiment": str(draft.code)}


def test_the_report_list_uses_a_fixed_number_of_queries(
    api_as, viewer, team, owner, ready, django_assert_max_num_queries
):
    for number in range(6):
        services.request_report(team, owner, "portfolio", "csv", {"jobs": []}, f"Report {number}")
    client = api_as(viewer)
    with django_assert_max_num_queries(8):
        listed = client.get(f"{T}reports/").json()
    assert listed["count"] == 7 and listed["results"][-1]["download_url"]
