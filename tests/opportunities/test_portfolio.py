from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opportunities.forms import order_by_for
from opportunities.models import Task
from opportunities.views.portfolio import sort_headers
from tests.factories import make_job, make_task


def url(team, **params):
    from urllib.parse import urlencode

    base = reverse("portfolio", args=[team.slug])
    return f"{base}?{urlencode(params)}" if params else base


@pytest.fixture
def portfolio(team):
    support = make_job(team, "Support agent", headcount=10, hourly_cost="40")
    analyst = make_job(team, "Analyst", headcount=2, hourly_cost="80")
    make_task(
        support, "Answer billing emails", kind="write", hours_per_week=Decimal("10"), exposure_label="E1"
    )
    make_task(support, "Read call notes", kind="read", hours_per_week=Decimal("2"), mode="automate")
    make_task(analyst, "Write weekly report", kind="write", hours_per_week=Decimal("4"), verdict="not-yet")
    return {"support": support, "analyst": analyst}


def statements(response) -> list[str]:
    return [task.statement for task in response.context["page"].object_list]


def test_portfolio_lists_every_task_of_the_team_biggest_value_first(viewer_client, team, portfolio):
    response = viewer_client.get(url(team))
    assert response.status_code == 200
    # values: 10×10×52×40×.3=62,400; 10×2×…=12,480; 2×4×52×80×.3=9,984
    assert statements(response) == ["Answer billing emails", "Read call notes", "Write weekly report"]
    assert response.context["value_total"] == Decimal("84864.00")
    assert "$84,864" in response.content.decode()


def test_portfolio_does_not_show_other_teams_tasks(viewer_client, team, portfolio, stranger):
    other_job = make_job(stranger.teams.get(), "Their job")
    make_task(other_job, "Secret task")
    assert "Secret task" not in viewer_client.get(url(team)).content.decode()


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("value", ["Write weekly report", "Read call notes", "Answer billing emails"]),
        ("statement", ["Answer billing emails", "Read call notes", "Write weekly report"]),
        ("-statement", ["Write weekly report", "Read call notes", "Answer billing emails"]),
        ("job", ["Write weekly report", "Answer billing emails", "Read call notes"]),
        ("-hours", ["Answer billing emails", "Write weekly report", "Read call notes"]),
        ("kind", ["Read call notes", "Answer billing emails", "Write weekly report"]),
    ],
)
def test_portfolio_sorts_by_the_chosen_column(viewer_client, team, portfolio, sort, expected):
    assert statements(viewer_client.get(url(team, sort=sort))) == expected


def test_unknown_sort_falls_back_to_value(viewer_client, team, portfolio):
    response = viewer_client.get(url(team, sort="job__team__name"))
    assert response.status_code == 200
    assert response.context["sort"] == "-value"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"kind": "read"}, ["Read call notes"]),
        ({"mode": "automate"}, ["Read call notes"]),
        ({"exposure": "E1"}, ["Answer billing emails"]),
        ({"exposure": "none"}, ["Read call notes", "Write weekly report"]),
        ({"verdict": "not-yet"}, ["Write weekly report"]),
        ({"kind": "write", "verdict": "untested"}, ["Answer billing emails"]),
    ],
)
def test_portfolio_filters(viewer_client, team, portfolio, params, expected):
    assert statements(viewer_client.get(url(team, **params))) == expected


def test_filter_by_job_and_the_total_covers_only_the_filtered_tasks(viewer_client, team, portfolio):
    response = viewer_client.get(url(team, job=str(portfolio["analyst"].code)))
    assert statements(response) == ["Write weekly report"]
    assert response.context["value_total"] == Decimal("9984.00")


def test_invalid_filter_values_are_ignored(viewer_client, team, portfolio):
    response = viewer_client.get(url(team, kind="sing", job="not-a-job"))
    assert response.status_code == 200
    assert len(statements(response)) == 3


def test_portfolio_paginates_fifty_a_page(viewer_client, team):
    job = make_job(team)
    Task.objects.bulk_create(Task(job=job, statement=f"Task {index:03}") for index in range(120))
    first = viewer_client.get(url(team, sort="statement"))
    last = viewer_client.get(url(team, sort="statement", page=3))
    assert len(statements(first)) == 50 and statements(first)[0] == "Task 000"
    assert statements(last) == [f"Task {index:03}" for index in range(100, 120)]
    assert "Page 3 of 3" in last.content.decode()
    # Page links keep the sort.
    assert "sort=statement&amp;page=2" in first.content.decode()


def test_export_links_keep_the_current_filters(viewer_client, team, portfolio):
    body = viewer_client.get(url(team, kind="write", sort="job")).content.decode()
    for fmt in ("csv", "xlsx", "json"):
        assert f'{reverse("portfolio_export", args=[team.slug, fmt])}?kind=write&amp;sort=job"' in body


def test_htmx_request_gets_only_the_table_fragment(viewer_client, team, portfolio):
    response = viewer_client.get(url(team, kind="read"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="portfolio-table">')
    assert "Read call notes" in body and "Answer billing emails" not in body
    assert "<html" not in body and 'id="portfolio-filters"' not in body
    assert "HX-Request" in response["Vary"]
    assert response["HX-Push-Url"] == f"{url(team)}?kind=read&sort=-value"


def test_htmx_history_restore_gets_the_whole_page(viewer_client, team, portfolio):
    response = viewer_client.get(url(team), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_full_page_has_a_get_filter_form_that_works_without_javascript(viewer_client, team, portfolio):
    body = viewer_client.get(url(team)).content.decode()
    assert 'id="portfolio-filters" method="get"' in body
    assert 'hx-push-url="true"' in body
    # The sort is submitted with the filters (the input belongs to the form by its id).
    assert 'name="sort" value="-value" form="portfolio-filters"' in body


def test_sort_headers_toggle_direction_and_keep_filters():
    headers = {h["label"]: h for h in sort_headers("-value", {"kind": "write"})}
    assert headers["Annual value"]["state"] == "descending"
    assert headers["Annual value"]["query"] == "kind=write&sort=value"
    assert headers["Job"]["query"] == "kind=write&sort=job"
    assert headers["Hours/week"]["query"] == "kind=write&sort=-hours"


def test_order_by_is_whitelisted():
    assert order_by_for("-value") == ["-annual_value", "-id"]
    assert order_by_for("password") == ["-annual_value", "-id"]


def test_task_text_is_escaped(viewer_client, team):
    make_task(make_job(team, "<i>Job</i>"), "<script>alert(1)</script>")
    body = viewer_client.get(url(team)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;i&gt;Job&lt;/i&gt;" in body


def test_empty_portfolio_shows_what_to_do(as_user, team, editor):
    body = as_user(editor).get(url(team)).content.decode()
    assert "No tasks yet." in body and reverse("task_import", args=[team.slug]) in body


def test_no_match_offers_to_clear_filters(viewer_client, team, portfolio):
    assert "No task matches these filters" in viewer_client.get(url(team, kind="chat")).content.decode()


def test_stranger_gets_404(stranger_client, team, portfolio):
    assert stranger_client.get(url(team)).status_code == 404


@pytest.mark.parametrize("user_fixture", ["owner", "editor", "viewer", "auditor"])
def test_every_member_reads_the_portfolio(request, as_user, team, portfolio, user_fixture):
    assert as_user(request.getfixturevalue(user_fixture)).get(url(team)).status_code == 200


def _fill(team, prefix: str, jobs: int, tasks_per_job: int) -> None:
    for j in range(jobs):
        job = make_job(team, f"{prefix} job {j}")
        Task.objects.bulk_create(Task(job=job, statement=f"Task {j}-{t}") for t in range(tasks_per_job))


@pytest.mark.parametrize("params", [{}, {"kind": "other", "sort": "job"}, {"page": "2"}])
def test_query_count_does_not_grow_with_rows(viewer_client, team, params, django_assert_max_num_queries):
    _fill(team, "few", jobs=1, tasks_per_job=5)
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(url(team, **params))
    _fill(team, "many", jobs=11, tasks_per_job=5)  # 60 tasks in 12 jobs: two pages
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(url(team, **params))
    assert response.status_code == 200
    assert len(few.captured_queries) <= 10


def test_filter_form_keeps_the_chosen_values_selected(viewer_client, team, portfolio):
    code = portfolio["analyst"].code
    body = viewer_client.get(url(team, job=str(code), verdict="not-yet")).content.decode()
    assert f'<option value="{code}" selected>Analyst</option>' in body
    assert '<option value="not-yet" selected>Not yet</option>' in body
    assert '<option value="" selected>Any kind</option>' in body
