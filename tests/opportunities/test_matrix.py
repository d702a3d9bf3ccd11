from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.models import Job, Task
from opportunities.views.matrix import team_matrix_svg
from tests.factories import make_job, make_task, make_team


def matrix_url(team, **params):
    url = reverse("matrix", args=[team.slug])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def bulk_portfolio(team, jobs: int, tasks_per_job: int) -> None:
    created = Job.objects.bulk_create(
        Job(team=team, title=f"Job {j:03}", headcount=5 + j, hourly_cost=Decimal(30 + j)) for j in range(jobs)
    )
    verdicts = ["untested", "not-yet", "augmentation-ready", "automation-ready"]
    Task.objects.bulk_create(
        Task(
            job=job,
            statement=f"Task {i} of {job.title}",
            hours_per_week=Decimal(1 + i % 10),
            verdict=verdicts[i % 4],
            feasibility=None if i % 4 == 0 else (i % 10) / 10,
        )
        for job in created
        for i in range(tasks_per_job)
    )


def test_viewer_sees_the_matrix_with_a_point_per_task(viewer_client, team):
    job = make_job(team, "Support agent")
    ready = make_task(job, "Draft replies", verdict="automation-ready", feasibility=0.9)
    make_task(job, "Triage tickets")
    response = viewer_client.get(matrix_url(team))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("</circle></a>") == 2
    assert f'href="{reverse("task_detail", args=[team.slug, ready.code])}"' in body
    assert "Quick wins" in body and "Untested" in body


def test_stranger_gets_404(stranger_client, team):
    assert stranger_client.get(matrix_url(team)).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, team):
    assert client.get(matrix_url(team)).status_code == 302


def test_owner_sees_the_matrix(owner_client, team):
    assert owner_client.get(matrix_url(team)).status_code == 200


def test_filters_by_job_kind_mode_and_verdict_like_the_portfolio(viewer_client, team):
    support, sales = make_job(team, "Support agent"), make_job(team, "Sales rep")
    make_task(support, "Write replies", kind="write", mode="automate")
    make_task(support, "Read contracts", kind="read")
    make_task(sales, "Write proposals", kind="write")
    body = viewer_client.get(matrix_url(team, job=support.code, kind="write")).content.decode()
    assert "Write replies" in body and "Write proposals" not in body and "Read contracts" not in body
    body = viewer_client.get(matrix_url(team, mode="automate")).content.decode()
    assert body.count("</circle></a>") == 1
    body = viewer_client.get(matrix_url(team, verdict="untested")).content.decode()
    assert body.count("</circle></a>") == 3


def test_an_unknown_job_filter_is_reported_and_ignored(viewer_client, team):
    make_task(make_job(team), "Write replies")
    other = make_job(make_team("Else", "else"), "Theirs")
    response = viewer_client.get(matrix_url(team, job=other.code))
    body = response.content.decode()
    assert "That job is not in this team" in body  # reported, and the chart shows every task
    assert body.count("</circle></a>") == 1


def test_another_teams_tasks_never_appear(viewer_client, team, stranger):
    other_job = make_job(stranger.teams.get(), "Their job")
    make_task(other_job, "Their secret task")
    make_task(make_job(team), "Our task")
    body = viewer_client.get(matrix_url(team)).content.decode()
    assert "Their secret task" not in body and "Our task" in body


def test_a_chosen_value_threshold_moves_the_quadrant_line(viewer_client, team):
    job = make_job(team, headcount=1, hourly_cost="100")
    make_task(job, "Small", hours_per_week=Decimal(1), feasibility=0.9, verdict="automation-ready")
    make_task(job, "Large", hours_per_week=Decimal(40), feasibility=0.9, verdict="automation-ready")
    body = viewer_client.get(matrix_url(team, threshold="1000000")).content.decode()
    assert "the chosen value" in body
    assert "$1M threshold" in body


def test_task_text_is_escaped_in_the_chart_and_the_table(viewer_client, team):
    job = make_job(team, "<i>Agents</i>")
    make_task(job, "<script>alert(1)</script>", verdict="automation-ready", feasibility=0.9)
    body = viewer_client.get(matrix_url(team)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "<i>Agents</i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_table_counts_tasks_per_quadrant(viewer_client, team):
    job = make_job(team)
    make_task(job, "Ready", verdict="automation-ready", feasibility=0.9)
    make_task(job, "Unknown")
    response = viewer_client.get(matrix_url(team))
    summary = {q.key: q.count for q in response.context["summary"]}
    assert summary["untested"] == 1
    assert sum(summary.values()) == 2


def test_htmx_filter_requests_get_only_the_chart(viewer_client, team):
    make_task(make_job(team), "Write replies")
    response = viewer_client.get(matrix_url(team, kind="write"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="matrix-chart">')
    assert "<html" not in body


def test_empty_portfolio_explains_what_to_do(viewer_client, team):
    body = viewer_client.get(matrix_url(team)).content.decode()
    assert "Add jobs and tasks" in body


def test_the_same_svg_is_available_outside_a_request_for_pdf_exports(team):
    make_task(make_job(team), "Write replies")
    make_task(make_job(team, "Sales rep"), "Write proposals", kind="read")
    svg = team_matrix_svg(team)
    assert svg.startswith("<svg") and "Write replies" in svg and "Write proposals" in svg
    filtered = team_matrix_svg(team, {"kind": "write"})
    assert "Write replies" in filtered and "Write proposals" not in filtered


@pytest.mark.parametrize("jobs,per_job", [(4, 5), (200, 25)])
def test_the_matrix_needs_the_same_few_queries_for_20_or_5000_tasks(
    viewer_client, team, django_assert_max_num_queries, jobs, per_job
):
    bulk_portfolio(team, jobs, per_job)
    with django_assert_max_num_queries(8):
        response = viewer_client.get(matrix_url(team))
    assert response.content.decode().count("</circle></a>") == jobs * per_job


def test_5000_points_stay_reasonably_small(viewer_client, team):
    bulk_portfolio(team, 200, 25)
    svg = str(team_matrix_svg(team))
    assert len(svg) / 5000 < 260  # bytes per point, all links and hover titles included


def test_a_bad_threshold_is_explained_and_the_median_used(viewer_client, team):
    make_task(make_job(team), "Write replies")
    body = viewer_client.get(matrix_url(team, threshold="lots")).content.decode()
    assert "Enter the threshold as a dollar amount" in body
    assert "the median value" in body


def test_beyond_the_limit_a_sample_is_drawn_and_the_page_says_so(
    viewer_client, team, settings, django_assert_max_num_queries
):
    settings.ASSAY_MATRIX_MAX_POINTS = 100
    bulk_portfolio(team, 10, 50)  # 500 tasks
    with django_assert_max_num_queries(10):
        body = viewer_client.get(matrix_url(team)).content.decode()
    assert body.count("</circle></a>") == 100
    assert "A sample is drawn:" in body and "100 of 500 tasks" in body
    # The counts cover every task, not only the drawn ones.
    counts = [int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>', body)]
    assert sum(counts) == 500


def test_the_sample_keeps_each_quadrants_top_tasks_and_its_proportions():
    from opportunities.matrix import BIG_BETS, QUICK_WINS, UNTESTED, sample_for_matrix

    rows = [(pk, "automation-ready", 0.9, 1000.0 + pk) for pk in range(1, 801)]  # quick wins or maybe later
    rows += [(pk, "not-yet", 0.1, 10.0) for pk in range(801, 1001)]  # avoid
    rows += [(pk, "untested", None, 5.0) for pk in range(1001, 2001)]
    sample = sample_for_matrix(rows, limit=200)

    assert sample.total == 2000 and len(sample.ids) == 200
    assert sum(sample.counts.values()) == 2000 and sample.counts[UNTESTED] == 1000
    assert {796, 797, 798, 799, 800} <= sample.ids  # the five highest-value quick wins
    untested = sum(1 for pk in sample.ids if pk > 1000)
    assert 90 <= untested <= 110  # half the tasks are untested: about half the dots
    assert sample.counts[QUICK_WINS] == 800 and sample.counts[BIG_BETS] == 200  # median 7.5
    assert sample == sample_for_matrix(rows, limit=200)  # the same page each time
