"""Celery tasks of the fairness measurements: thin wrappers over services, ids in."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import CounterfactualProbe, FairnessAssessment, RedTeamRun


@shared_task(
    name="fairness.run_stereotype_probe",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=55 * 60,
    time_limit=60 * 60,
)
def run_stereotype_probe(probe_id: int) -> str:
    """One chunk of pairs, then the next chunk is queued behind whatever else is waiting."""
    try:
        status = services.run_stereotype_chunks(probe_id, chunk=services.STEREOTYPE_CHUNK, max_chunks=1)
        if status == "running":
            from .models import StereotypeProbe

            probe = StereotypeProbe.objects.select_related("model").get(pk=probe_id)
            services.enqueue_stereotype_chunk(probe)
        return str(status)
    except Exception as exc:
        from django.utils import timezone

        from .models import Status, StereotypeProbe

        StereotypeProbe.objects.filter(pk=probe_id, status=Status.RUNNING).update(
            status=Status.FAILED, finished=timezone.now(), message=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise


@shared_task(name="fairness.analyse", acks_late=True, soft_time_limit=9 * 60, time_limit=10 * 60)
def analyse(kind: str, pk: int) -> str:
    if kind == "assessment":
        assessment = FairnessAssessment.objects.select_related("run").filter(pk=pk).first()
        return str(services.compute_pending_assessment(assessment).status) if assessment else "missing"
    if kind == "counterfactual":
        probe = CounterfactualProbe.objects.filter(pk=pk).first()
        return str(services.analyse_counterfactual(probe).status) if probe else "missing"
    run = RedTeamRun.objects.filter(pk=pk).first()
    return str(services.analyse_redteam(run).status) if run else "missing"
