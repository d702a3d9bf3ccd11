"""Requesting, generating and expiring reports.

A request saves a queued Report and sends its id to a worker on commit (queue "default": reports are
short database work, not model work; see config/run.py). The worker claims it by compare-and-set
(queued → running), builds the report dict, renders the format, stores the file and marks it ready,
moving `progress` as it goes. A failure is marked once, with its reason, and never retried: the same
data would fail the same way.

Reports are kept settings.ASSAY_REPORT_RETENTION_DAYS days: expired ones (row and file) are removed when
a report is requested or generated, and by the hourly beat sweep (`reports.cleanup`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team
from experiments.models import Experiment

from . import experiment as experiment_report
from . import files
from . import portfolio as portfolio_report
from .models import Kind, Report, State
from .rendering import RENDERERS

log = logging.getLogger(__name__)
# A report still running this long after it was requested lost its worker (the task's time limit is
# 11 minutes): a redelivered task may take it over, and the sweep marks it failed after STALE_FAILED.
# Making a report twice is harmless: the file is replaced whole.
STALE_RUNNING = timedelta(minutes=12)
STALE_FAILED = timedelta(minutes=30)
LOST = "The worker stopped before the report was made; request it again."


class ReportError(Exception):
    """A report that cannot be made; the message says why, for people."""


def retention() -> timedelta:
    return timedelta(days=settings.ASSAY_REPORT_RETENTION_DAYS)


def request_report(team: Team, user, kind: str, fmt: str, parameters: dict, title: str) -> Report:
    cleanup_expired()
    with transaction.atomic():
        report = Report.objects.create(
            team=team,
            kind=kind,
            format=fmt,
            title=title[:300],
            parameters=parameters,
            created_by=user,
            stage="Waiting for a worker",
            expires=timezone.now() + retention(),
        )
        from .tasks import generate_report

        transaction.on_commit(lambda: generate_report.apply_async((report.pk,), queue="default"))
    return report


def _progress(report_id: int):
    def step(percent: int, stage: str) -> None:
        Report.objects.filter(pk=report_id, status=State.RUNNING).update(progress=percent, stage=stage[:80])

    return step


def build_document(report: Report, step=None) -> dict:
    if report.kind == Kind.PORTFOLIO:
        return portfolio_report.build(report.team, report.parameters.get("jobs") or [], step)
    experiment = (
        Experiment.objects.filter(team=report.team, code=report.parameters.get("experiment"))
        .select_related("dataset", "team")
        .first()
    )
    if experiment is None:
        raise ReportError("The experiment was deleted before the report was made.")
    return experiment_report.build(experiment, step)


def generate(report_id: int) -> Report | None:
    """Makes the report if it is still queued; returns it (None when it is gone)."""
    stale = timezone.now() - STALE_RUNNING
    claimed = (
        Report.objects.filter(pk=report_id)
        .filter(Q(status=State.QUEUED) | Q(status=State.RUNNING, created__lt=stale))
        .update(status=State.RUNNING, progress=5, stage="Starting")
    )
    report = Report.objects.select_related("team").filter(pk=report_id).first()
    if report is None or not claimed:
        return report  # deleted, or another worker has it / had it
    step = _progress(report.pk)
    try:
        doc = build_document(report, step)
        step(80, f"Writing the {report.get_format_display()}")
        data = RENDERERS[report.format](report.kind, doc)
        name, size = files.write(report, data)
    except ReportError as error:
        return _fail(report, str(error))
    except Exception:
        log.exception("Report %s failed", report.pk)
        return _fail(report, "Something went wrong while making this report; request it again.")
    Report.objects.filter(pk=report.pk).update(
        status=State.DONE, progress=100, stage="", file_name=name, size=size, finished=timezone.now()
    )
    cleanup_expired()
    report.refresh_from_db()
    return report


def _fail(report: Report, message: str) -> Report:
    Report.objects.filter(pk=report.pk).update(
        status=State.FAILED, stage="", message=message, finished=timezone.now()
    )
    report.refresh_from_db()
    return report


def cleanup_expired(now=None) -> int:
    """Removes reports past their time (file and row) and marks those whose worker was lost as failed;
    returns how many were removed."""
    now = now or timezone.now()
    Report.objects.filter(status__in=(State.QUEUED, State.RUNNING), created__lt=now - STALE_FAILED).update(
        status=State.FAILED, stage="", message=LOST, finished=now
    )
    expired = list(Report.objects.expired(now))
    for report in expired:
        files.remove(report)
    if expired:
        Report.objects.filter(pk__in=[r.pk for r in expired]).delete()
    return len(expired)


def delete_report(report: Report) -> None:
    files.remove(report)
    report.delete()
