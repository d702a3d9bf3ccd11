"""Portfolio search and bulk actions on ticked tasks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from opportunities.models import Job, Task, UseCase


@pytest.fixture
def tasks(team):
    job = Job.objects.create(team=team, title="Support agent", headcount=5, hourly_cost=Decimal("40"))
    other = Job.objects.create(team=team, title="Billing clerk", headcount=2, hourly_cost=Decimal("35"))
    return [
        Task.objects.create(job=job, statement="Route incoming tickets", hours_per_week=5),
        Task.objects.create(job=job, statement="Draft replies to customers", hours_per_week=3),
        Task.objects.create(job=other, statement="Reconcile invoices", hours_per_week=4),
    ]


def bulk(client, team, codes, **data):
    return client.post(
        reverse("portfolio_bulk", args=[team.slug]), {"tasks": [str(c) for c in codes], **data}
    )


def test_search_finds_words_in_the_task_or_its_job(viewer_client, team, tasks):
    page = viewer_client.get(reverse("portfolio", args=[team.slug]), {"q": "billing"}).text
    assert "Reconcile invoices" in page and "Route incoming tickets" not in page
    page = viewer_client.get(reverse("portfolio", args=[team.slug]), {"q": "draft customers"}).text
    assert "Draft replies to customers" in page and "Reconcile invoices" not in page
    assert "1 task match these filters" in page.replace("\n", " ").replace("</strong>", "").replace(
        "<strong>", ""
    )


def test_an_editor_sets_the_mode_of_ticked_tasks_and_each_change_is_logged(team, editor, tasks, as_user):
    client = as_user(editor)
    response = bulk(client, team, [tasks[0].code, tasks[1].code], action="mode:automate")
    assert response.status_code == 302
    assert set(Task.objects.filter(mode="automate").values_list("pk", flat=True)) == {
        tasks[0].pk,
        tasks[1].pk,
    }
    assert LogEntry.objects.filter(content_type__model="task", action=LogEntry.Action.UPDATE).count() == 2
    page = client.get(response.url).text
    assert "Set the mode of 2 tasks to automate." in page


def test_ticked_tasks_join_a_use_case(team, editor, tasks, as_user):
    use_case = UseCase.objects.create(team=team, name="Inbox triage")
    client = as_user(editor)
    bulk(client, team, [t.code for t in tasks[:2]], action="usecase", use_case=use_case.code)
    assert set(use_case.tasks.all()) == set(tasks[:2])
    response = bulk(client, team, [tasks[2].code], action="usecase")
    assert "Choose the use case to add the tasks to." in client.get(response.url).text


def test_delete_asks_first_and_then_deletes_only_the_ticked_tasks(team, editor, tasks, as_user):
    client = as_user(editor)
    confirm = bulk(client, team, [tasks[2].code], action="delete")
    assert confirm.status_code == 200 and "Delete 1 task?" in confirm.text and Task.objects.count() == 3
    bulk(client, team, [tasks[2].code], action="delete", confirm="on")
    assert list(Task.objects.order_by("id")) == tasks[:2]


def test_viewers_get_403_strangers_404_and_other_teams_tasks_are_refused(
    team, viewer, stranger, tasks, as_user
):
    assert bulk(as_user(viewer), team, [tasks[0].code], action="delete", confirm="on").status_code == 403
    assert bulk(as_user(stranger), team, [tasks[0].code], action="delete", confirm="on").status_code == 404
    theirs = Task.objects.create(
        job=Job.objects.create(team=stranger.memberships.get().team, title="X"), statement="Theirs"
    )
    client = as_user(stranger)
    other_team = stranger.memberships.get().team
    response = bulk(client, other_team, [tasks[0].code, theirs.code], action="delete", confirm="on")
    assert Task.objects.filter(pk=tasks[0].pk).exists()  # not theirs to delete: nothing happened
    assert "no longer in this team&#x27;s portfolio: reload the page" in client.get(response.url).text
    assert Task.objects.filter(pk=theirs.pk).exists()


def test_the_bulk_bar_is_for_editors_only(team, viewer, editor, tasks, as_user):
    assert 'id="portfolio-bulk"' not in as_user(viewer).get(reverse("portfolio", args=[team.slug])).text
    page = as_user(editor).get(reverse("portfolio", args=[team.slug])).text
    assert 'id="portfolio-bulk"' in page and page.count('name="tasks"') == 3
