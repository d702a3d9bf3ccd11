"""Jobs and tasks over the API: personas, errors, pages, sync filters, bulk import, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from opportunities.models import Job, Task
from tests.factories import make_job, make_task, make_team

pytestmark = pytest.mark.django_db

JOBS = "/api/v1/teams/acme/jobs/"
TASKS = "/api/v1/teams/acme/tasks/"


@pytest.fixture
def job(team):
    return make_job(team, "Support agent", headcount=10, hourly_cost="40")


@pytest.fixture
def task(job):
    return make_task(job, "Answer customer emails")


def test_a_stranger_gets_404_for_the_team_and_its_objects(api_as, stranger, job, task):
    client = api_as(stranger)
    for url in [JOBS, f"{JOBS}{job.code}/", TASKS, f"{TASKS}{task.code}/", "/api/v1/teams/acme/"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert client.post(JOBS, {"title": "Mine now"}, format="json").status_code == 404
    assert client.patch(f"{TASKS}{task.code}/", {"notes": "x"}, format="json").status_code == 404
    assert client.delete(f"{JOBS}{job.code}/").status_code == 404
    assert Job.objects.filter(team__slug="acme").count() == 1


def test_a_viewer_reads_but_gets_403_on_every_write(api_as, viewer, job, task):
    client = api_as(viewer)
    assert client.get(JOBS).status_code == 200
    assert client.get(f"{TASKS}{task.code}/").json()["statement"] == "Answer customer emails"
    writes = [
        client.post(JOBS, {"title": "New"}, format="json"),
        client.patch(f"{JOBS}{job.code}/", {"title": "Renamed"}, format="json"),
        client.delete(f"{JOBS}{job.code}/"),
        client.post(TASKS, {"job": str(job.code), "statement": "x"}, format="json"),
        client.patch(f"{TASKS}{task.code}/", {"notes": "x"}, format="json"),
        client.delete(f"{TASKS}{task.code}/"),
        client.post(f"{TASKS}import/", {"rows": [{"job": "A", "task": "B"}]}, format="json"),
    ]
    for response in writes:
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "permission_denied" and "viewer" in error["message"].lower()
    assert Job.objects.get().title == "Support agent" and Task.objects.count() == 1


def test_an_editor_creates_changes_and_deletes_jobs_and_tasks(api_as, editor, job):
    client = api_as(editor)
    created = client.post(JOBS, {"title": "Claims handler", "headcount": 4, "hourly_cost": 55}, format="json")
    assert created.status_code == 201, created.json()
    code = created.json()["code"]
    assert created.json()["task_count"] == 0
    task = client.post(
        TASKS,
        {"job": code, "statement": "Summarise claims", "hours_per_week": 6, "people_share": 0.5,
         "time_saved": 0.4, "kind": "read", "exposure_label": "E1"},
        format="json",
    )  # fmt: skip
    assert task.status_code == 201, task.json()
    body = task.json()
    # 4 people × 0.5 × 6 h × 52 × 55 $/h × 0.4
    assert body["annual_value"] == pytest.approx(4 * 0.5 * 6 * 52 * 55 * 0.4)
    assert body["label_source"] == "human" and body["job_title"] == "Claims handler"
    moved = client.patch(f"{TASKS}{body['code']}/", {"job": str(job.code), "mode": "automate"}, format="json")
    assert moved.status_code == 200 and moved.json()["job_title"] == "Support agent"
    renamed = client.patch(f"/api/v1/teams/acme/jobs/{code}/", {"title": "Claims lead"}, format="json")
    assert renamed.json()["title"] == "Claims lead"
    assert client.delete(f"{TASKS}{body['code']}/").status_code == 204
    assert client.delete(f"/api/v1/teams/acme/jobs/{code}/").status_code == 204
    assert list(Job.objects.values_list("title", flat=True)) == ["Support agent"]


def test_invalid_fields_come_back_named_in_the_error_shape(api_as, editor, job, team):
    client = api_as(editor)
    response = client.post(
        TASKS, {"job": str(job.code), "statement": "", "hours_per_week": 81, "kind": "sing"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"statement", "hours_per_week", "kind"}
    assert "hours_per_week" in error["message"]
    duplicate = client.post(JOBS, {"title": "Support  agent"}, format="json").json()["error"]
    assert "already exists" in duplicate["fields"]["title"][0]
    other_team_job = make_job(make_team("Else", "else"), "Theirs")
    foreign = client.post(TASKS, {"job": str(other_team_job.code), "statement": "x"}, format="json")
    assert foreign.status_code == 400 and "job" in foreign.json()["error"]["fields"]
    malformed = client.post(JOBS, "{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "parse_error"


def test_lists_are_paginated(api_as, viewer, job):
    for i in range(7):
        make_task(job, f"Task {i}")
    client = api_as(viewer)
    first = client.get(TASKS, {"page_size": 3}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["next"] and first["previous"] is None
    last = client.get(TASKS, {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    beyond = client.get(TASKS, {"page": 9})
    assert beyond.status_code == 404 and beyond.json()["error"]["code"] == "not_found"


def test_updated_after_returns_changes_since_oldest_first(api_as, viewer, job):
    old, recent, newest = (make_task(job, name) for name in ("Old", "Recent", "Newest"))
    now = timezone.now()
    Task.objects.filter(pk=old.pk).update(updated=now - timedelta(days=3))
    Task.objects.filter(pk=recent.pk).update(updated=now - timedelta(hours=1))
    Task.objects.filter(pk=newest.pk).update(updated=now - timedelta(minutes=1))
    Job.objects.filter(pk=job.pk).update(updated=now - timedelta(days=3))
    client = api_as(viewer)
    since = (now - timedelta(days=1)).isoformat()
    body = client.get(TASKS, {"updated_after": since}).json()
    assert [t["statement"] for t in body["results"]] == ["Recent", "Newest"]
    assert client.get(JOBS, {"updated_after": since}).json()["count"] == 0
    bad = client.get(TASKS, {"updated_after": "yesterday"})
    assert bad.status_code == 400 and "updated_after" in bad.json()["error"]["fields"]


def test_tasks_filter_by_job_kind_and_verdict(api_as, viewer, team, job):
    other = make_job(team, "Analyst")
    make_task(job, "Write replies", kind="write")
    make_task(other, "Read reports", kind="read")
    client = api_as(viewer)
    assert [t["statement"] for t in client.get(TASKS, {"job": str(other.code)}).json()["results"]] == [
        "Read reports"
    ]
    assert client.get(TASKS, {"kind": "write"}).json()["count"] == 1
    assert client.get(TASKS, {"verdict": "untested"}).json()["count"] == 2
    assert client.get(TASKS, {"kind": "sing"}).status_code == 400


def test_bulk_import_reports_the_same_row_errors_as_the_page_and_imports_nothing(api_as, editor):
    client = api_as(editor)
    rows = [
        {"job": "Support agent", "task": "Answer emails", "hours_per_week": 5},
        {"job": "Support agent", "task": "", "hours_per_week": "lots"},
        {"job": "Analyst", "task": "Read reports", "people_share": 2},
    ]
    response = client.post(f"{TASKS}import/", {"rows": rows}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "import_invalid" and "nothing was imported" in error["message"]
    problems = {(p["row"], p["field"]) for p in error["rows"]}
    assert {(3, "task"), (3, "hours_per_week"), (4, "people_share")} <= problems
    assert not Task.objects.exists() and not Job.objects.exists()


def test_bulk_import_applies_all_rows_or_plans_them_in_a_dry_run(api_as, editor, job):
    client = api_as(editor)
    rows = [
        {"job": "support agent", "task": "Answer emails", "hours_per_week": 5, "kind": "write"},
        {"job": "Analyst", "task": "Read reports", "headcount": 3},
    ]
    dry = client.post(f"{TASKS}import/", {"rows": rows, "dry_run": True}, format="json")
    assert dry.status_code == 200 and dry.json()["new_jobs"] == ["Analyst"]
    assert not Task.objects.exists()
    done = client.post(f"{TASKS}import/", {"rows": rows}, format="json")
    assert done.status_code == 201
    assert done.json() | {"warnings": []} == {
        "dry_run": False, "tasks_created": 2, "jobs_created": 1, "new_jobs": ["Analyst"], "warnings": [],
    }  # fmt: skip
    assert Task.objects.filter(job=job).count() == 1


def test_bulk_import_takes_a_csv_file_too(api_as, editor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_as(editor)
    good = SimpleUploadedFile("tasks.csv", b"job,task,hours_per_week\nAgent,Answer emails,4\n", "text/csv")
    assert client.post(f"{TASKS}import/", {"file": good}, format="multipart").status_code == 201
    bad = SimpleUploadedFile("tasks.xls", b"whatever", "application/vnd.ms-excel")
    response = client.post(f"{TASKS}import/", {"file": bad}, format="multipart")
    assert response.status_code == 400 and ".xls" in response.json()["error"]["fields"]["file"][0]


def test_list_endpoints_use_a_fixed_number_of_queries(api_as, viewer, team, django_assert_max_num_queries):
    for j in range(5):
        job = make_job(team, f"Job {j}")
        for t in range(8):
            make_task(job, f"Task {t}")
    client = api_as(viewer)
    # Token, membership, count, page (+ savepoint-free last_used write): the same for 40 rows as for 1.
    with django_assert_max_num_queries(6):
        assert len(client.get(TASKS, {"page_size": 100}).json()["results"]) == 40
    with django_assert_max_num_queries(6):
        assert len(client.get(JOBS).json()["results"]) == 5
    with django_assert_max_num_queries(6):
        assert client.get(TASKS, {"job": str(job.code), "kind": "write"}).json()["count"] == 8
