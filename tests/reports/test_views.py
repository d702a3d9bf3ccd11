"""The Reports page, requesting a report (made by the worker task, run eagerly here), its progress page
and its download, as a stranger (404), a viewer (reads and downloads, may not request: 403) and an
editor."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse

from reports import services
from reports.models import Report, State


def list_url(team):
    return reverse("reports:report_list", args=[team.slug])


def request_url(team):
    return reverse("reports:report_request", args=[team.slug])


def make_report(team, user, fmt="xlsx", django_capture_on_commit_callbacks=None):
    """A portfolio report requested and generated in this process, as the worker would."""
    with django_capture_on_commit_callbacks(execute=False):
        report = services.request_report(
            team, user, "portfolio", fmt, {"jobs": []}, "Portfolio report: every job"
        )
    return services.generate(report.pk)


def test_an_editor_requests_a_report_the_worker_makes_it_and_members_download_it(
    team, editor, viewer, portfolio, as_user, eager_celery, django_capture_on_commit_callbacks
):
    client = as_user(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(request_url(team), {"kind": "portfolio", "format": "xlsx"})
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/reports/{report.code}/")
    assert report.status == State.DONE and report.progress == 100 and report.size > 0
    assert report.created_by == editor and report.title == "Portfolio report: every job"

    client = as_user(viewer)
    page = client.get(reverse("reports:report_detail", args=[team.slug, report.code]))
    assert page.status_code == 200 and 'data-testid="report-download"' in page.text
    download = client.get(reverse("reports:report_download", args=[team.slug, report.code]))
    assert download.status_code == 200
    assert download["Cache-Control"] == "private, no-store"
    assert download["Content-Disposition"].startswith('attachment; filename="acme-portfolio-report-')
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert book.sheetnames[0] == "Tasks"
    listing = client.get(list_url(team))
    assert listing.status_code == 200 and report.title in listing.text
    assert "Request the report" not in listing.text  # viewers read; editors request
    assert reverse("audits:report", args=[team.slug, portfolio["use_case"].code]) in listing.text


def test_a_stranger_sees_nothing_and_a_viewer_may_not_request_or_delete(
    team, owner, viewer, stranger, portfolio, as_user, django_capture_on_commit_callbacks
):
    report = make_report(team, owner, "json", django_capture_on_commit_callbacks)
    urls = [
        list_url(team),
        reverse("reports:report_detail", args=[team.slug, report.code]),
        reverse("reports:report_download", args=[team.slug, report.code]),
    ]
    client = as_user(stranger)
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    assert client.post(request_url(team), {"kind": "portfolio", "format": "csv"}).status_code == 404
    delete = reverse("reports:report_delete", args=[team.slug, report.code])
    assert client.post(delete).status_code == 404

    client = as_user(viewer)
    assert [client.get(url).status_code for url in urls] == [200, 200, 200]
    assert client.post(request_url(team), {"kind": "portfolio", "format": "csv"}).status_code == 403
    assert client.post(delete).status_code == 403
    assert Report.objects.count() == 1

    client = as_user(owner)
    assert client.post(delete).status_code == 302
    assert not Report.objects.exists()


def test_bad_requests_say_what_is_wrong_and_save_nothing(team, editor, portfolio, as_user, experiment):
    client = as_user(editor)
    response = client.post(request_url(team), {"kind": "experiment", "format": "pdf"})
    assert response.status_code == 400 and "Choose the experiment the report is about." in response.text
    response = client.post(request_url(team), {"kind": "portfolio", "format": "docx"})
    assert response.status_code == 400 and "Select a valid choice" in response.text
    response = client.post(
        request_url(team),
        {"kind": "portfolio", "format": "csv", "jobs": ["00000000-0000-0000-0000-000000000000"]},
    )
    assert response.status_code == 400 and "no longer in this team" in response.text
    assert not Report.objects.exists()


def test_an_experiment_report_as_pdf_and_one_that_fails_with_its_reason(
    team, editor, portfolio, experiment, as_user, eager_celery, django_capture_on_commit_callbacks
):
    client = as_user(editor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            request_url(team), {"kind": "experiment", "format": "pdf", "experiment": str(experiment.code)}
        )
    report = Report.objects.get()
    assert report.status == State.DONE and report.title == f"Experiment report: {experiment.name}"
    download = client.get(reverse("reports:report_download", args=[team.slug, report.code]))
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    # The experiment's code is gone by the time a worker gets to it: failed, with the reason.
    with django_capture_on_commit_callbacks(execute=False):
        gone = services.request_report(team, editor, "experiment", "json", {"experiment": "0" * 32}, "x")
    gone = services.generate(gone.pk)
    assert gone.status == State.FAILED and "deleted" in gone.message
    page = client.get(reverse("reports:report_detail", args=[team.slug, gone.code]))
    assert "The experiment was deleted before the report was made." in page.text
    assert client.get(reverse("reports:report_download", args=[team.slug, gone.code])).status_code == 404


def test_the_progress_fragment_polls_while_queued_then_refreshes(
    team, editor, portfolio, as_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        report = services.request_report(team, editor, "portfolio", "csv", {"jobs": []}, "Portfolio")
    client = as_user(editor)
    url = reverse("reports:report_detail", args=[team.slug, report.code])
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in fragment.text and "<html" not in fragment.text
    assert 'aria-valuenow="0"' in fragment.text
    services.generate(report.pk)
    assert client.get(url, headers={"HX-Request": "true"})["HX-Refresh"] == "true"
    assert services.generate(report.pk).status == State.DONE  # a second delivery does nothing


@pytest.mark.parametrize("count", [1, 12])
def test_the_reports_page_reads_a_fixed_number_of_queries(
    team, owner, portfolio, as_user, count, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    for _ in range(count):
        make_report(team, owner, "json", django_capture_on_commit_callbacks)
    client = as_user(owner)
    with django_assert_max_num_queries(12):
        assert client.get(list_url(team)).status_code == 200
