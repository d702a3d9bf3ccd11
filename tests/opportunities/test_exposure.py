"""Job exposure: the share of a job's time in E1 and E2 tasks and the two blends, from human labels where
present and predictions otherwise (marked), on the job page, the jobs list, the portfolio, the matrix
tooltip and the exports."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities import exposure
from opportunities.models import LabelSource
from tests.factories import make_job, make_task

HUMAN, PREDICTED = LabelSource.HUMAN, LabelSource.PREDICTED


@pytest.fixture
def analyst(team):
    """8 h/week: E1 4 h (human), E2 2 h (predicted), E0 1 h (human), 2 h at half the people unlabelled."""
    job = make_job(team, "Analyst", headcount=10)
    make_task(job, "Write the weekly report", hours_per_week=Decimal(4), exposure_label="E1", label_source=HUMAN)
    make_task(job, "Search the archive", hours_per_week=Decimal(2), exposure_label="E2", label_source=PREDICTED)
    make_task(job, "Walk the site", hours_per_week=Decimal(1), exposure_label="E0", label_source=HUMAN)
    make_task(job, "Call suppliers", hours_per_week=Decimal(2), people_share=Decimal("0.5"))
    return job


def test_shares_are_of_the_labelled_time_weighted_by_share_of_people(team, analyst):
    e = exposure.for_team(team).get(analyst.pk)
    assert e.hours == pytest.approx(8)
    assert e.e1_share == pytest.approx(4 / 7)
    assert e.e2_share == pytest.approx(2 / 7)
    assert e.e1_half_e2 == pytest.approx(5 / 7)
    assert e.e1_e2 == pytest.approx(6 / 7)
    assert e.predicted_share == pytest.approx(2 / 7)
    assert e.coverage == pytest.approx(7 / 8)
    assert [(label, width) for label, _, width in e.bar] == [
        ("E1", 50.0), ("E2", 25.0), ("E0", 12.5), ("not labelled", 12.5)
    ]  # fmt: skip


def test_the_team_figure_weighs_jobs_by_headcount(team, analyst):
    clerk = make_job(team, "Clerk", headcount=30)
    make_task(clerk, "Lift boxes", hours_per_week=Decimal(10), exposure_label="E0", label_source=HUMAN)
    team_figure = exposure.for_team(team).team
    # Analyst: 10 people × 7 labelled h (4 E1); clerk: 30 people × 10 h E0.
    assert team_figure.e1_share == pytest.approx(40 / (70 + 300))
    assert exposure.for_team(team).get(clerk.pk).e1_e2 == 0


def test_a_job_without_labels_has_no_figures_and_says_how_to_get_them(owner_client, team):
    job = make_job(team, "New job")
    make_task(job, "Something")
    assert exposure.for_team(team).get(job.pk).e1_share is None
    page = owner_client.get(reverse("job_detail", args=[team.slug, job.code])).content.decode()
    assert "No exposure labels yet" in page and reverse("triage", args=[team.slug]) in page


def test_job_page_shows_the_figures_and_marks_predictions(owner_client, team, analyst):
    page = owner_client.get(reverse("job_detail", args=[team.slug, analyst.code])).content.decode()
    assert "Exposed time" in page
    for figure in ("57%", "29%", "71%", "86%"):  # E1, E2, E1 + ½E2, E1 + E2
        assert f"<dd>{figure}</dd>" in page
    assert "Includes predictions" in page and "88% of the time is labelled" in page
    # The predicted task's label is marked in the task table.
    assert "E2<span class=\"muted small\"> · predicted</span>" in page


def test_job_page_fragment_refreshes_the_figures_after_a_task_change(owner_client, team, analyst):
    make_task(analyst, "Draft emails", hours_per_week=Decimal(7), exposure_label="E1", label_source=HUMAN)
    response = owner_client.get(
        reverse("job_detail", args=[team.slug, analyst.code]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="job-exposure",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="job-exposure"')
    assert "<dd>79%</dd>" in body  # E1: 11 of 14 labelled hours


def test_jobs_list_shows_each_jobs_exposed_time_without_a_query_per_job(
    owner_client, team, analyst, django_assert_max_num_queries
):
    for i in range(3):
        other = make_job(team, f"Other {i}")
        make_task(other, "Write", exposure_label="E1", label_source=HUMAN)
    url = reverse("job_list", args=[team.slug])
    owner_client.get(url)
    with django_assert_max_num_queries(12) as queries:
        page = owner_client.get(url).content.decode()
    baseline = len(queries)
    for i in range(3, 13):
        other = make_job(team, f"Other {i}")
        make_task(other, "Write", exposure_label="E2", label_source=PREDICTED)
    with django_assert_max_num_queries(baseline):
        page = owner_client.get(url).content.decode()
    assert "71%" in page and "incl. predicted" in page and "100%" in page


def test_portfolio_shows_the_teams_exposed_time_and_each_jobs_in_its_link(owner_client, team, analyst):
    page = owner_client.get(reverse("portfolio", args=[team.slug])).content.decode()
    assert "Exposed time across the team" in page
    assert "E1 + ½·E2 71%" in page
    assert "The job's exposed time: E1 + ½·E2 71%, E1 + E2 86% (incl. predictions)" in page


def test_matrix_tooltip_names_the_label_its_source_and_the_jobs_exposed_time(owner_client, team, analyst):
    page = owner_client.get(reverse("matrix", args=[team.slug])).content.decode()
    assert "Exposure E2 (predicted) · job’s exposed time E1 + ½·E2 71% incl. predictions" in page
    assert "Exposure E1 · job’s" in page


def test_exports_carry_the_jobs_exposure_and_the_label_source(owner_client, team, analyst):
    response = owner_client.get(reverse("portfolio_export", args=[team.slug, "csv"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    predicted = next(row for row in rows if row["task"] == "Search the archive")
    assert predicted["label_source"] == "predicted"
    assert predicted["job_exposure_e1_half_e2"] == "0.714"
    assert predicted["job_exposure_predicted"] == "0.286"

    response = owner_client.get(reverse("portfolio_export", args=[team.slug, "json"]))
    document = json.loads(b"".join(response.streaming_content))
    assert document["jobs"][0]["exposure"]["e1_e2"] == pytest.approx(0.8571, abs=1e-4)
    assert document["tasks"][0]["job_exposure"]["labelled_hours_share"] == pytest.approx(0.875)

    import openpyxl

    response = owner_client.get(reverse("portfolio_export", args=[team.slug, "xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [cell.value for cell in sheet[1]]
    values = [cell.value for cell in sheet[2]]
    assert float(values[header.index("job_exposure_e1")]) == pytest.approx(0.571)

