"""Celery tasks for reports: generation (sent to the "default" queue on commit) and the retention sweep
(Celery beat, settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.generate", acks_late=True, soft_time_limit=10 * 60, time_limit=11 * 60)
def generate_report(report_id: int) -> dict:
    from .services import generate

    report = generate(report_id)
    return {"status": None if report is None else report.status}


@shared_task(name="reports.cleanup")
def cleanup_reports() -> int:
    from .services import cleanup_expired

    return cleanup_expired()
