from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opportunities.models import Job, Task
from tests.factories import make_job, make_task, make_usecase

JOB = {"title": "Claims handler", "description": "Handles claims", "headcount": "12", "hourly_cost": "45.50"}


def list_url(team):
    return reverse("job_list", args=[team.slug])


def job_url(name, job):
    return reverse(name, args=[job.team.slug, job.code])


@pytest.fixture
def job(team):
    job = make_job(team, "Support agent", headcount=10, hourly_cost="40")
    make_task(job, "Answer billing emails")
    make_task(job, "Read call notes", hours_per_week=Decimal("2"))
    return job


# --- list and create ---


def test_job_list_shows_task_counts_and_value_per_job(viewer_client, team, job):
    make_job(team, "Analyst")
    response = viewer_client.get(list_url(team))
    assert response.status_code == 200
    rows = {row.title: row for row in response.context["jobs"]}
    assert rows["Support agent"].task_count == 2
    # 10 × 5 × 52 × 40 × .3 + 10 × 2 × 52 × 40 × .3 = 31,200 + 12,480
    assert rows["Support agent"].value_total == Decimal("43680.00")
    assert rows["Analyst"].task_count == 0 and rows["Analyst"].value_total == Decimal(0)
    assert "$43,680" in response.content.decode()


def test_job_list_query_count_does_not_grow_with_jobs(viewer_client, team, django_assert_max_num_queries):
    make_task(make_job(team, "First"), "A task")
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(list_url(team))
    for index in range(20):
        make_task(make_job(team, f"Job {index}"), "A task")
    with django_assert_max_num_queries(len(few.captured_queries)):
        viewer_client.get(list_url(team))


def test_editor_adds_a_job_and_lands_on_it(as_user, team, editor):
    response = as_user(editor).post(list_url(team), JOB)
    job = Job.objects.get(team=team, title="Claims handler")
    assert response.status_code == 302 and response["Location"] == job_url("job_detail", job)
    assert job.headcount == 12 and job.hourly_cost == Decimal("45.50")


def test_duplicate_title_is_refused_with_a_clear_message(owner_client, team, job):
    response = owner_client.post(list_url(team), {**JOB, "title": "Support agent"})
    assert response.status_code == 200
    assert "A job titled “Support agent” already exists in this team." in response.content.decode()
    assert Job.objects.filter(team=team).count() == 1


def test_same_title_is_fine_in_another_team(owner_client, team, stranger):
    make_job(stranger.teams.get(), "Claims handler")
    assert owner_client.post(list_url(team), JOB).status_code == 302


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", "", "Give the job a title."),
        ("headcount", "-1", "Must be a number between 0 and 1,000,000."),
        ("headcount", "many", "Must be a number between 0 and 1,000,000."),
        ("hourly_cost", "20000", "Must be a number between 0 and 10,000."),
        ("hourly_cost", "1.234", "Use at most 2 decimal places."),
    ],
)
def test_invalid_job_shows_a_specific_error_and_saves_nothing(owner_client, team, field, value, message):
    response = owner_client.post(list_url(team), {**JOB, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_viewer_sees_jobs_but_no_add_form_and_cannot_post(viewer_client, team, job):
    body = viewer_client.get(list_url(team)).content.decode()
    assert "Support agent" in body and "Add a job" not in body
    assert viewer_client.post(list_url(team), JOB).status_code == 403
    assert Job.objects.count() == 1


def test_auditor_cannot_add_jobs(as_user, team, auditor):
    assert as_user(auditor).post(list_url(team), JOB).status_code == 403


def test_stranger_gets_404_on_the_job_list(stranger_client, team):
    assert stranger_client.get(list_url(team)).status_code == 404
    assert stranger_client.post(list_url(team), JOB).status_code == 404


# --- detail ---


def test_job_detail_lists_its_tasks_with_total_and_add_form_for_editors(as_user, team, editor, job):
    response = as_user(editor).get(job_url("job_detail", job))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Answer billing emails" in body and "Read call notes" in body
    assert response.context["value_total"] == Decimal("43680.00")
    assert reverse("task_create", args=[team.slug, job.code]) in body
    assert 'hx-get="' + job_url("job_detail", job) in body  # the totals row refreshes itself


def test_viewer_reads_job_detail_without_edit_controls(viewer_client, team, job):
    body = viewer_client.get(job_url("job_detail", job)).content.decode()
    assert "Answer billing emails" in body
    assert reverse("task_create", args=[team.slug, job.code]) not in body
    assert job_url("job_edit", job) not in body
    assert "Edit</a>" not in body


def test_stranger_gets_404_on_job_detail(stranger_client, job):
    assert stranger_client.get(job_url("job_detail", job)).status_code == 404


def test_job_of_another_team_is_404_even_for_members(owner_client, team, stranger):
    other = make_job(stranger.teams.get(), "Theirs")
    assert owner_client.get(reverse("job_detail", args=[team.slug, other.code])).status_code == 404


def test_job_detail_query_count_does_not_grow_with_tasks(viewer_client, job, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(job_url("job_detail", job))
    Task.objects.bulk_create(Task(job=job, statement=f"Task {index}") for index in range(40))
    with django_assert_max_num_queries(len(few.captured_queries)):
        viewer_client.get(job_url("job_detail", job))


def test_htmx_totals_refresh_returns_only_the_totals_row(viewer_client, job):
    response = viewer_client.get(
        job_url("job_detail", job), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-totals"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<tfoot id="job-totals"')
    assert "$43,680" in body and "2 tasks" in body


def test_job_text_is_escaped(owner_client, team):
    job = make_job(team, "<script>alert(1)</script>")
    job.description = "<img src=x onerror=alert(2)>"
    job.save()
    body = owner_client.get(job_url("job_detail", job)).content.decode()
    assert "<script>alert(1)</script>" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# --- edit ---


def test_editor_edits_a_job(as_user, team, editor, job):
    client = as_user(editor)
    assert client.get(job_url("job_edit", job)).status_code == 200
    response = client.post(job_url("job_edit", job), {**JOB, "title": "Support agent", "headcount": "20"})
    assert response.status_code == 302 and response["Location"] == job_url("job_detail", job)
    job.refresh_from_db()
    assert job.headcount == 20


def test_editing_to_a_taken_title_is_refused(owner_client, team, job):
    other = make_job(team, "Analyst")
    response = owner_client.post(job_url("job_edit", other), {**JOB, "title": "Support agent"})
    assert "already exists in this team" in response.content.decode()
    other.refresh_from_db()
    assert other.title == "Analyst"


def test_viewer_cannot_edit_a_job(viewer_client, job):
    assert viewer_client.get(job_url("job_edit", job)).status_code == 403
    assert viewer_client.post(job_url("job_edit", job), JOB).status_code == 403
    job.refresh_from_db()
    assert job.title == "Support agent"


def test_stranger_gets_404_on_job_edit(stranger_client, job):
    assert stranger_client.post(job_url("job_edit", job), JOB).status_code == 404


# --- delete ---


def test_delete_asks_for_confirmation_then_deletes_job_and_tasks(owner_client, team, job):
    confirm = owner_client.get(job_url("job_delete", job))
    assert confirm.status_code == 200
    assert "This also deletes its 2 tasks" in confirm.content.decode()
    assert Job.objects.filter(pk=job.pk).exists()
    response = owner_client.post(job_url("job_delete", job))
    assert response.status_code == 302 and response["Location"] == list_url(team)
    assert not Job.objects.filter(pk=job.pk).exists() and not Task.objects.exists()


def test_viewer_cannot_delete_a_job(viewer_client, job):
    assert viewer_client.get(job_url("job_delete", job)).status_code == 403
    assert viewer_client.post(job_url("job_delete", job)).status_code == 403
    assert Job.objects.filter(pk=job.pk).exists()


def test_stranger_gets_404_on_job_delete(stranger_client, job):
    assert stranger_client.post(job_url("job_delete", job)).status_code == 404
    assert Job.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("model", ["job", "task", "usecase"])
def test_admin_lists_and_opens_portfolio_objects(admin_client, team, job, model):
    task = job.tasks.first()
    use_case = make_usecase(team, "Drafting")
    use_case.tasks.add(task)
    obj = {"job": job, "task": task, "usecase": use_case}[model]
    assert admin_client.get(reverse(f"admin:opportunities_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:opportunities_{model}_change", args=[obj.pk])).status_code == 200


# --- inline editing over htmx ---

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_job_list_rows_offer_inline_edit_and_delete_to_editors(as_user, team, editor, job):
    body = as_user(editor).get(list_url(team)).content.decode()
    assert f'id="job-{job.code}"' in body
    assert f'hx-get="{job_url("job_edit", job)}"' in body
    assert f'hx-post="{job_url("job_delete", job)}"' in body and "hx-confirm=" in body
    assert f'hx-post="{list_url(team)}"' in body


def test_viewer_sees_no_inline_job_controls(viewer_client, team, job):
    body = viewer_client.get(list_url(team)).content.decode()
    assert job_url("job_edit", job) not in body and job_url("job_delete", job) not in body


def test_htmx_edit_returns_only_the_edit_row(as_user, editor, job):
    response = as_user(editor).get(job_url("job_edit", job), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="job-{job.code}" class="editing"')
    assert "<html" not in body and 'value="Support agent"' in body
    assert f'form="job-form-{job.code}"' in body


def test_htmx_save_returns_the_display_row_with_new_values(as_user, editor, job):
    job.description = "Keeps its description"
    job.save()
    data = {"title": "Support lead", "headcount": "20", "hourly_cost": "40"}
    response = as_user(editor).post(job_url("job_edit", job), data, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="job-{job.code}">') and "Support lead" in body
    assert '<td class="num">2</td>' in body  # its two tasks are still counted
    job.refresh_from_db()
    assert (job.title, job.headcount, job.description) == ("Support lead", 20, "Keeps its description")


def test_htmx_save_with_errors_returns_the_edit_row_and_saves_nothing(as_user, team, editor, job):
    make_job(team, "Analyst")
    data = {"title": "Analyst", "headcount": "-1", "hourly_cost": "40"}
    response = as_user(editor).post(job_url("job_edit", job), data, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="job-{job.code}" class="editing"')
    assert "A job titled “Analyst” already exists in this team." in body
    assert "errorlist" in body
    job.refresh_from_db()
    assert (job.title, job.headcount) == ("Support agent", 10)


def test_htmx_cancel_puts_the_display_row_back(as_user, editor, job):
    response = as_user(editor).get(job_url("job_detail", job), HTTP_HX_TARGET=f"job-{job.code}", **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="job-{job.code}">') and "Support agent" in body


def test_htmx_delete_removes_the_row(as_user, editor, job):
    response = as_user(editor).post(job_url("job_delete", job), **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not Job.objects.filter(pk=job.pk).exists()


def test_htmx_create_returns_the_table_with_the_new_job_and_a_fresh_form(as_user, team, editor, job):
    response = as_user(editor).post(list_url(team), JOB, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="job-list">') and "<html" not in body
    assert "Claims handler" in body and "Support agent" in body
    assert Job.objects.filter(team=team, title="Claims handler").exists()
    assert 'value="Claims handler"' not in body


def test_htmx_create_with_errors_shows_them_in_the_swapped_table(as_user, team, editor, job):
    response = as_user(editor).post(list_url(team), {**JOB, "title": ""}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="job-list">') and "Give the job a title." in body
    assert not Job.objects.filter(team=team, title="Claims handler").exists()


def test_viewer_gets_403_on_htmx_edit_and_delete(viewer_client, job):
    assert viewer_client.get(job_url("job_edit", job), **HTMX).status_code == 403
    assert viewer_client.post(job_url("job_edit", job), JOB, **HTMX).status_code == 403
    assert viewer_client.post(job_url("job_delete", job), **HTMX).status_code == 403
    job.refresh_from_db()
    assert job.title == "Support agent"


def test_stranger_gets_404_on_htmx_edit_and_delete(stranger_client, job):
    assert stranger_client.get(job_url("job_edit", job), **HTMX).status_code == 404
    assert stranger_client.post(job_url("job_delete", job), **HTMX).status_code == 404
    assert Job.objects.filter(pk=job.pk).exists()
