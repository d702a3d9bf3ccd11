"""Celery tasks for the portfolio: the exposure pre-screen runs on the "cpu" queue (it embeds with
MiniLM and trains scikit-learn models)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="opportunities.triage", acks_late=True, soft_time_limit=30 * 60, time_limit=31 * 60)
def triage_team(run_id: int) -> dict:
    from .triage import service

    run = service.execute(run_id)
    return {"status": run.status, "predicted": run.predicted}


# The model's queue ("cpu", or "gpu" for a CUDA model): service.start routes it, like an experiment batch.
@shared_task(name="opportunities.breakdown", acks_late=True, soft_time_limit=10 * 60, time_limit=11 * 60)
def break_down_job(run_id: int) -> dict:
    from .breakdown import service

    run = service.execute(run_id)
    return {"status": run.status if run else "gone", "proposals": run.proposals.count() if run else 0}
