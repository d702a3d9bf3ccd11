"""Celery tasks for experiments: thin wrappers over experiments.execution, ids in, ids out.

Queues: the orchestrator and scoring run on "default"; each batch runs on its model's queue ("cpu" or
"gpu", from the registry). Every task acks late and is requeued if its worker dies; the execution
functions make a second delivery harmless.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from llmcore.engine.types import TransientBackendError

from . import execution, latency, recovery, scoring
from .models import Run, Status

log = logging.getLogger(__name__)

GENERATE_SOFT_TIME_LIMIT_S = 20 * 60
LATENCY_RETRY_S = 20  # a latency sample that gave way to an experiment's batches tries again after this
LATENCY_MAX_DEFERRALS = 90  # then it measures anyway (half an hour of continuous experiments)
GENERATE_TIME_LIMIT_S = GENERATE_SOFT_TIME_LIMIT_S + 60
TRANSIENT_RETRIES = 4


@shared_task(
    name="experiments.orchestrate",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=9 * 60,
    time_limit=10 * 60,
)
def orchestrate_experiment(experiment_id: int) -> dict:
    plan = execution.plan_experiment(experiment_id)
    for batch_id, queue in plan.batches:
        generate_batch.apply_async((batch_id,), queue=queue)
    for run_id, generation_ids in plan.copied.items():
        enqueue_scoring(run_id, generation_ids)
    return {"batches": len(plan.batches), "copied": sum(len(ids) for ids in plan.copied.values())}


@shared_task(
    bind=True,
    name="experiments.generate_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=GENERATE_SOFT_TIME_LIMIT_S,
    time_limit=GENERATE_TIME_LIMIT_S,
    max_retries=TRANSIENT_RETRIES,
)
def generate_batch(self, batch_id: int) -> dict:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        outcome = execution.generate_batch(
            batch_id, redelivered=redelivered, worker=self.request.hostname or "", on_saved=enqueue_scoring
        )
    except TransientBackendError as exc:
        if self.request.retries >= self.max_retries:
            execution.fail_batch(batch_id, f"The model kept failing after {self.max_retries} retries: {exc}")
            return {"status": "failed"}
        execution.release_batch(batch_id)
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc
    except Exception as exc:
        # A bug must not leave the batch "running" forever: fail it, keep the traceback in the log.
        execution.fail_batch(batch_id, f"Unexpected error: {type(exc).__name__}: {exc}")
        raise
    if outcome.generation_ids and outcome.run_id is not None:
        enqueue_scoring(outcome.run_id, outcome.generation_ids)
    if outcome.run_id is not None:
        enqueue_latency_sample(outcome.run_id)
    return {"status": outcome.status, "generations": len(outcome.generation_ids), "message": outcome.message}


@shared_task(
    name="experiments.score",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=29 * 60,
    time_limit=30 * 60,
)
def score_generations(run_id: int, generation_ids: list[int]) -> dict:
    return {"scored": scoring.score_generations(run_id, generation_ids)}


def enqueue_scoring(run_id: int, generation_ids: list[int]) -> None:
    run = Run.objects.select_related("experiment").filter(pk=run_id).first()
    if run is None or not run.experiment.scorers:
        return
    queue = scoring.scoring_queue(run.experiment)
    transaction.on_commit(lambda: score_generations.apply_async((run_id, generation_ids), queue=queue))


@shared_task(
    name="experiments.measure_latency",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=GENERATE_SOFT_TIME_LIMIT_S,
    time_limit=GENERATE_TIME_LIMIT_S,
)
def measure_latency(run_id: int, deferrals: int = 0) -> dict:
    figures = latency.measure_run(run_id, give_way=deferrals < LATENCY_MAX_DEFERRALS)
    if figures is latency.DEFERRED:
        queue = Run.objects.filter(pk=run_id).values_list("queue", flat=True).first() or "cpu"
        measure_latency.apply_async((run_id, deferrals + 1), queue=queue, countdown=LATENCY_RETRY_S)
        return dict(latency.DEFERRED)
    return figures or {"status": "skipped"}


def enqueue_latency_sample(run_id: int) -> None:
    """Once a run is done, its single-request latency is measured on its model's queue."""
    if latency.sample_size() == 0:
        return
    run = Run.objects.filter(pk=run_id, status=Status.DONE, single_latency__isnull=True).only("queue").first()
    if run is not None:
        queue = run.queue
        transaction.on_commit(lambda: measure_latency.apply_async((run_id,), queue=queue))


@shared_task(name="experiments.recover", ignore_result=True, soft_time_limit=50, time_limit=60)
def recover_work() -> dict:
    """Celery beat's sweep (experiments/recovery.py): re-queue stalled batches, re-send lost work."""
    return send_recovery(recovery.find_work_to_recover())


def send_recovery(found: recovery.Recovery) -> dict:
    for batch_id, queue in found.batches:
        generate_batch.apply_async((batch_id,), queue=queue)
    for experiment_id in found.experiments:
        orchestrate_experiment.delay(experiment_id)
    if found.skipped or found.batches or found.experiments:
        log.warning(found.summary())
    return {
        "stalled": len(found.stalled),
        "lost": len(found.lost),
        "experiments": len(found.experiments),
        "skipped": found.skipped,
    }
