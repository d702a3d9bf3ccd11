"""The change log: who created, changed or deleted jobs, tasks, thresholds, budgets, models and members."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opportunities.forms import TaskForm
from opportunities.models import Job, Task

GOOD_THRESHOLDS = {
    "min_cases": 40,
    "automation_pass_lower": 90,
    "automation_acceptance": 90,
    "augmentation_lower": 60,
    "min_reviewers_automation": 2,
    "min_reviewers_augmentation": 1,
}


@pytest.fixture
def job(team):
    return Job.objects.create(team=team, title="Support agent", headcount=10, hourly_cost=Decimal("40"))


@pytest.fixture
def task(job):
    return Task.objects.create(job=job, statement="Route tickets", hours_per_week=Decimal("5"))


def history(client, team, **params):
    return client.get(reverse("team_history", args=[team.slug]), params)


def test_an_edit_through_the_page_records_who_and_the_fields_before_and_after(team, editor, task, as_user):
    client = as_user(editor)
    form = TaskForm(instance=task)
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(statement="Route tickets to the right queue", hours_per_week="7.5")
    response = client.post(reverse("task_edit", args=[team.slug, task.code]), data)
    assert response.status_code == 302, response.context["form"].errors
    entry = LogEntry.objects.get_for_object(task).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == editor
    assert entry.additional_data == {"team": team.pk}
    assert entry.changes_dict["hours_per_week"] == ["5.00", "7.5"]
    assert "updated" not in entry.changes_dict  # bookkeeping is not a change

    page = history(client, team, object=f"opportunities.task:{task.pk}").content.decode()
    assert "eddie" in page and "hours per week" in page.lower() and "5.00 → 7.5" in page


@pytest.mark.parametrize(
    ("address", "stored"), [("203.0.113.7", "203.0.113.7"), ("", None), ("unknown", None)]
)
def test_a_request_without_a_valid_address_still_saves_and_is_recorded(
    team, editor, task, as_user, address, stored
):
    """The change log stores an IP address: a request whose address is missing or malformed (a test
    client, a misconfigured proxy) saves its change anyway, without one."""
    client = as_user(editor)
    form = TaskForm(instance=task)
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(statement="Route tickets to the right queue")
    response = client.post(reverse("task_edit", args=[team.slug, task.code]), data, REMOTE_ADDR=address)
    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(task).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.remote_addr == stored


def test_role_changes_thresholds_and_deletes_are_recorded(team, owner, editor, job, as_user):
    client = as_user(owner)
    client.post(reverse("member_update", args=[team.slug, editor.memberships.get().pk]), {"role": "viewer"})
    response = client.post(reverse("feasibility_thresholds", args=[team.slug]), GOOD_THRESHOLDS)
    assert response.status_code == 302
    client.post(reverse("job_delete", args=[team.slug, job.code]))
    assert not Job.objects.filter(pk=job.pk).exists()

    entries = LogEntry.objects.filter(additional_data__team=team.pk)
    role = entries.get(content_type__model="membership", action=LogEntry.Action.UPDATE)
    assert role.changes_dict["role"] == ["editor", "viewer"] and role.actor == owner
    policy = entries.get(content_type__model="feasibilitypolicy")
    assert policy.changes_dict["min_cases"][1] == "40"
    deleted = entries.get(content_type__model="job", action=LogEntry.Action.DELETE)
    assert deleted.object_repr == str(job) and deleted.actor == owner

    page = history(client, team).content.decode()
    assert "Deleted job" in page and "Editor → Viewer" in page  # choices read as their labels


def test_strangers_get_404_viewers_read_and_other_teams_entries_stay_out(
    team, viewer, stranger, task, as_user
):
    other_job = Job.objects.create(team=stranger.memberships.get().team, title="Secret other job")
    assert history(as_user(stranger), team).status_code == 404
    response = history(as_user(viewer), team)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Route tickets" in page and "Secret other job" not in page
    assert LogEntry.objects.get_for_object(other_job).get().additional_data["team"] != team.pk


def test_what_people_wrote_is_escaped(team, owner, job, as_user):
    Task.objects.create(job=job, statement="<script>alert(1)</script>", hours_per_week=1)
    page = history(as_user(owner), team).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_an_unknown_object_filter_shows_nothing_rather_than_an_error(team, owner, task, as_user):
    response = history(as_user(owner), team, object="nothing.here:1")
    assert response.status_code == 200 and "Nothing recorded matches this filter" in response.content.decode()


def test_the_page_does_not_query_per_row(team, owner, job, as_user):
    client = as_user(owner)
    for n in range(3):
        Task.objects.create(job=job, statement=f"Task {n}", hours_per_week=1)
    with CaptureQueriesContext(connection) as few:
        history(client, team)
    for n in range(30):
        Task.objects.create(job=job, statement=f"More {n}", hours_per_week=1)
    with CaptureQueriesContext(connection) as many:
        assert history(client, team).status_code == 200
    assert len(many) == len(few)


def test_worker_measurements_and_computed_verdicts_are_not_changes(team, job, task):
    Task.objects.filter(pk=task.pk).update(verdict="augmentation-ready")  # bulk: no entry
    task.refresh_from_db()
    task.feasibility = 0.5
    task.verdict_reasons = ["computed"]
    task.save()
    assert not LogEntry.objects.get_for_object(task).filter(action=LogEntry.Action.UPDATE).exists()
