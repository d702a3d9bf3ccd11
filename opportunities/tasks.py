"""Celery tasks for the portfolio: the exposure pre-screen runs on the "cpu" queue (it embeds with
MiniLM and trains scikit-learn models)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="opportunities.triage", acks_late=True, soft_time_limit=30 * 60, time_limit=31 * 60)
def triage_team(run_id: int) -> dict:
    from .triage import service

    run = service.execute(run_id)
    return {"status": run.status, "predicted": run.predicted}
