from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_job, make_task


def url(team, fmt: str) -> str:
    return reverse("portfolio_export", args=[team.slug, fmt])


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body_of(response).decode("utf-8-sig"))))


@pytest.fixture
def portfolio(team):
    support = make_job(team, "Support agent", headcount=10, hourly_cost="40")
    analyst = make_job(team, "Analyst", headcount=2)
    make_task(support, '=HYPERLINK("http://evil")', kind="write", exposure_label="E1", label_source="human")
    make_task(support, "Tag tickets", kind="read")
    make_task(analyst, "Read reports", kind="read", verdict="not-yet")
    return support, analyst


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_viewer_can_export_every_format_as_an_attachment(viewer_client, team, portfolio, fmt):
    response = viewer_client.get(url(team, fmt))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="acme-portfolio-')
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    assert body_of(response)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_stranger_gets_404(stranger_client, team, portfolio, fmt):
    assert stranger_client.get(url(team, fmt)).status_code == 404


def test_the_owner_can_export(owner_client, team, portfolio):
    assert len(csv_rows(owner_client.get(url(team, "csv")))) == 3


def test_an_unknown_format_is_404(viewer_client, team):
    assert viewer_client.get(url(team, "pdfx")).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(client, team):
    response = client.get(url(team, "csv"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_csv_streams_escaped_rows(viewer_client, team, portfolio):
    response = viewer_client.get(url(team, "csv"))
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    assert [row["task"] for row in rows] == ["Read reports", '\'=HYPERLINK("http://evil")', "Tag tickets"]
    assert rows[1]["annual_value"] == "31200.00"  # 10 × 100% × 5 h × 52 × $40 × 30%


def test_the_xlsx_holds_the_same_rows(viewer_client, team, portfolio):
    data = body_of(viewer_client.get(url(team, "xlsx")))
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("job", "task") and len(rows) == 4
    assert rows[2][1] == '\'=HYPERLINK("http://evil")'


def test_the_json_follows_the_versioned_schema(viewer_client, team, portfolio):
    document = json.loads(body_of(viewer_client.get(url(team, "json"))))
    assert document["schema"] == "assay.portfolio/1"
    assert document["team"]["slug"] == "acme"
    assert [job["title"] for job in document["jobs"]] == ["Analyst", "Support agent"]
    assert document["totals"]["tasks"] == 3
    assert document["totals"]["tasks_by_verdict"] == {
        "automation-ready": 0,
        "augmentation-ready": 0,
        "not-yet": 1,
        "untested": 2,
    }


def test_the_portfolio_filters_in_the_querystring_apply(viewer_client, team, portfolio):
    support, _ = portfolio
    assert [r["task"] for r in csv_rows(viewer_client.get(url(team, "csv") + "?kind=read"))] == [
        "Read reports",
        "Tag tickets",
    ]
    response = viewer_client.get(url(team, "json") + f"?job={support.code}&exposure=none")
    document = json.loads(body_of(response))
    assert [t["statement"] for t in document["tasks"]] == ["Tag tickets"]
    assert document["filters"] == {"job": str(support.code), "exposure": "none"}
    assert [job["title"] for job in document["jobs"]] == ["Support agent"]
    assert len(csv_rows(viewer_client.get(url(team, "csv") + "?verdict=not-yet&mode=augment"))) == 1


def test_other_teams_tasks_never_appear(viewer_client, team, stranger, portfolio):
    make_task(make_job(stranger.teams.get(), "Secret job"), "Secret task")
    for fmt in ("csv", "json"):
        assert b"Secret" not in body_of(viewer_client.get(url(team, fmt)))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_the_number_of_queries_does_not_grow_with_the_rows(viewer_client, team, fmt):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            body_of(viewer_client.get(url(team, fmt)))
        return len(queries)

    job = make_job(team, "Job 0")
    make_task(job, "only task")
    few = count_queries()
    for j in range(1, 20):
        job = make_job(team, f"Job {j}")
        for t in range(10):
            make_task(job, f"task {t}")
    assert count_queries() == few
    assert few <= 6


def bulk_tasks(team, jobs: int, per_job: int, first: int = 0) -> None:
    from decimal import Decimal

    from opportunities.models import Job, Task

    created = Job.objects.bulk_create(
        Job(team=team, title=f"Job {j:03}", headcount=3, hourly_cost=Decimal(40))
        for j in range(first, first + jobs)
    )
    Task.objects.bulk_create(
        Task(job=job, statement=f"Task {i} of {job.title} " + "x" * 200, hours_per_week=Decimal(2))
        for job in created
        for i in range(per_job)
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_every_export_streams_in_about_the_same_memory_for_ten_times_the_rows(
    viewer_client, team, fmt, monkeypatch
):
    import tracemalloc

    monkeypatch.setattr("opportunities.views.io.STREAM_CHUNK", 100)  # rows held at once (2,000 in use)

    def peak_bytes() -> int:
        tracemalloc.start()
        try:
            response = viewer_client.get(url(team, fmt))
            assert response.streaming  # sent in pieces, not built in memory first
            size = sum(len(piece) for piece in response.streaming_content)
            return tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    bulk_tasks(team, 2, 100)
    small, small_size = peak_bytes()
    bulk_tasks(team, 18, 100, first=2)
    large, large_size = peak_bytes()
    assert large_size > 5 * small_size  # (zipped XLSX: 7.7 times)
    assert large < small * 2 + 2_000_000, (small, large)
