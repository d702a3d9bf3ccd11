"""Reports are kept settings.ASSAY_REPORT_RETENTION_DAYS days: then their file and row go, when another
report is requested or made and in the beat sweep; the Reports page never lists an expired one."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from reports import files, services
from reports.models import Report
from reports.tasks import cleanup_reports


def make(team, user, capture):
    with capture(execute=False):
        report = services.request_report(team, user, "portfolio", "json", {"jobs": []}, "Portfolio report")
    return services.generate(report.pk)


def test_a_report_expires_after_the_retention_setting_and_its_file_is_removed(
    team, owner, settings, portfolio, django_capture_on_commit_callbacks
):
    settings.ASSAY_REPORT_RETENTION_DAYS = 7
    old = make(team, owner, django_capture_on_commit_callbacks)
    assert old.expires - old.created > timedelta(days=6, hours=23)
    path = files.path_of(old)
    assert path is not None and path.is_file() and settings.ASSAY_REPORTS_DIR in path.parents

    Report.objects.filter(pk=old.pk).update(expires=timezone.now() - timedelta(seconds=1))
    new = make(team, owner, django_capture_on_commit_callbacks)  # requesting sweeps expired ones
    assert list(Report.objects.all()) == [new]
    assert not path.exists() and files.path_of(new).is_file()


def test_the_beat_sweep_removes_expired_reports_and_the_page_hides_them_until_then(
    team, owner, client, portfolio, django_capture_on_commit_callbacks
):
    report = make(team, owner, django_capture_on_commit_callbacks)
    Report.objects.filter(pk=report.pk).update(expires=timezone.now() - timedelta(minutes=1))
    client.force_login(owner)
    page = client.get(reverse("reports:report_list", args=[team.slug]))
    assert "No reports yet." in page.text
    assert cleanup_reports.apply().get() == 1
    assert not Report.objects.exists() and files.path_of(report) is None
    assert cleanup_reports.apply().get() == 0


def test_a_file_name_outside_the_reports_folder_is_never_served(
    team, owner, portfolio, django_capture_on_commit_callbacks
):
    report = make(team, owner, django_capture_on_commit_callbacks)
    report.file_name = "../../etc/passwd"
    assert files.path_of(report) is None


def test_a_report_whose_worker_was_lost_is_taken_over_or_marked_failed(
    team, owner, portfolio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        report = services.request_report(team, owner, "portfolio", "csv", {"jobs": []}, "Portfolio report")
    Report.objects.filter(pk=report.pk).update(status="running")
    assert services.generate(report.pk).status == "running"  # another worker has it: left alone
    Report.objects.filter(pk=report.pk).update(created=timezone.now() - timedelta(minutes=13))
    assert services.generate(report.pk).status == "done"  # redelivered after its worker died

    with django_capture_on_commit_callbacks(execute=False):
        lost = services.request_report(team, owner, "portfolio", "csv", {"jobs": []}, "Portfolio report")
    Report.objects.filter(pk=lost.pk).update(created=timezone.now() - timedelta(minutes=31))
    services.cleanup_expired()
    lost.refresh_from_db()
    assert lost.status == "failed" and lost.message == services.LOST
