from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.views.home import verdict_bars
from tests.factories import make_job, make_task


def home_url(team):
    return reverse("team_home", args=[team.slug])


def test_empty_team_home_points_editors_to_adding_a_job_or_importing(as_user, team, editor):
    body = as_user(editor).get(home_url(team)).content.decode()
    assert "No tasks in this portfolio yet" in body
    assert reverse("job_list", args=[team.slug]) in body
    assert reverse("task_import", args=[team.slug]) in body


def test_empty_team_home_tells_viewers_an_editor_adds_tasks(viewer_client, team):
    body = viewer_client.get(home_url(team)).content.decode()
    assert "An editor of this team adds jobs and tasks" in body
    assert reverse("task_import", args=[team.slug]) not in body


def test_team_home_shows_totals_and_value_by_verdict(viewer_client, team):
    job = make_job(team, headcount=10, hourly_cost="40")
    # 10 × 1 × 5 h × 52 × $40 × 0.3 = $31,200 each
    make_task(job, "Draft replies")
    make_task(job, "Summarise tickets", verdict="automation-ready")
    make_job(team, "Analyst")
    response = viewer_client.get(home_url(team))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["task_count"] == 2
    assert response.context["job_count"] == 2
    assert response.context["value_total"] == Decimal("62400.00")
    assert "$62,400" in body
    bars = {bar.verdict: bar for bar in response.context["bars"]}
    assert bars["automation-ready"].count == 1 and bars["automation-ready"].total == Decimal("31200.00")
    assert bars["not-yet"].count == 0
    assert "<svg" in body and "Annual value by feasibility verdict" in body


def test_team_home_lists_the_top_ten_opportunities_biggest_first(viewer_client, team):
    job = make_job(team)
    for hours in range(1, 13):
        make_task(job, f"Task worth {hours} hours", hours_per_week=Decimal(hours))
    response = viewer_client.get(home_url(team))
    top = list(response.context["top_tasks"])
    assert len(top) == 10
    assert top[0].statement == "Task worth 12 hours"
    assert "Task worth 1 hours" not in response.content.decode()
    assert reverse("task_detail", args=[team.slug, top[0].code]) in response.content.decode()


def test_team_home_escapes_task_and_job_text(viewer_client, team):
    job = make_job(team, "<b>Boss</b>")
    make_task(job, "<script>alert(1)</script>")
    body = viewer_client.get(home_url(team)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b&gt;Boss&lt;/b&gt;" in body


def test_stranger_gets_404_on_team_home(stranger_client, team):
    assert stranger_client.get(home_url(team)).status_code == 404


def test_team_home_query_count_does_not_grow_with_tasks(viewer_client, team, django_assert_max_num_queries):
    job = make_job(team)
    for index in range(30):
        make_task(job, f"Task {index}")
    # 9 for the portfolio, 3 for what audits have due (opportunities.panels).
    with django_assert_max_num_queries(12):
        assert viewer_client.get(home_url(team)).status_code == 200


def test_verdict_bars_scale_to_the_largest_positive_total():
    bars = verdict_bars(
        {
            "automation-ready": (2, Decimal("100")),
            "not-yet": (1, Decimal("50")),
            "untested": (1, Decimal("-5")),
        }
    )
    widths = {bar.verdict: bar.width for bar in bars}
    assert [bar.verdict for bar in bars] == ["automation-ready", "augmentation-ready", "not-yet", "untested"]
    assert widths == {"automation-ready": 320, "augmentation-ready": 0, "not-yet": 160, "untested": 0}


def test_verdict_bars_of_an_empty_portfolio_are_all_zero():
    assert {bar.width for bar in verdict_bars({})} == {0}


@pytest.mark.parametrize("user_fixture", ["owner", "editor", "viewer", "auditor"])
def test_every_member_sees_team_home(request, as_user, team, user_fixture):
    user = request.getfixturevalue(user_fixture)
    assert as_user(user).get(home_url(team)).status_code == 200
