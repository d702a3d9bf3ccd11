"""The sweep that recovers experiment work without a person (run by Celery beat every minute, and by
`manage.py resume_experiments`).

It finds, without guessing from elapsed time alone:
- stalled batches: claimed ("running") more than ASSAY_STALL_GRACE_S ago, yet no answering worker is
  running them (their worker was killed, or restarted under the same name). Each goes back to "queued"
  by compare-and-set on its attempt counter and is sent again; the next claim increments the counter,
  so a worker that was only slow cannot mark it done over the new holder, and Generation's unique key
  (run, case version, repeat) keeps one output per item whichever finishes;
- lost batches: queued, but no message for them waits in the broker or is held by a worker (Redis lost
  its data, or a send failed), while no orchestrator of their experiment is still sending;
- lost experiments: queued for more than the grace with no orchestrator message anywhere.

When the broker is down the sweep does nothing (it cannot send); it runs again on the next beat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import broker
from .models import ACTIVE, Experiment, RunBatch, Status

log = logging.getLogger(__name__)

GENERATE_TASK = "experiments.generate_batch"
ORCHESTRATE_TASK = "experiments.orchestrate"


@dataclass
class Recovery:
    stalled: list[tuple[int, str]] = field(default_factory=list)  # (batch id, queue) re-queued
    lost: list[tuple[int, str]] = field(default_factory=list)  # (batch id, queue) queued, message lost
    experiments: list[int] = field(default_factory=list)  # orchestrators to send again
    skipped: str = ""  # why nothing was looked at (the broker is down)

    @property
    def batches(self) -> list[tuple[int, str]]:
        return self.stalled + self.lost

    def summary(self) -> str:
        if self.skipped:
            return f"Nothing recovered: {self.skipped}."
        return (
            f"{len(self.stalled)} stalled batch{_es(len(self.stalled))} re-queued, "
            f"{len(self.lost)} lost batch{_es(len(self.lost))} and "
            f"{len(self.experiments)} experiment{'s' if len(self.experiments) != 1 else ''} re-sent."
        )


def _es(n: int) -> str:
    return "" if n == 1 else "es"


def stalled_batches(running_ids: set[int], now=None) -> list[RunBatch]:
    """Running batches of active runs claimed before the grace that no answering worker is running."""
    now = now or timezone.now()
    claimed_before = now - timedelta(seconds=settings.ASSAY_STALL_GRACE_S)
    return [
        batch
        for batch in RunBatch.objects.filter(
            status=Status.RUNNING, run__status__in=ACTIVE, claimed__lt=claimed_before
        ).select_related("run")
        if batch.pk not in running_ids
    ]


def find_work_to_recover(now=None) -> Recovery:
    """Looks (broker, workers, database) and re-queues stalled batches; sends nothing itself."""
    now = now or timezone.now()
    try:
        answering = broker.workers()
        pending = broker.pending_messages()
    except broker.BrokerUnavailable as error:
        return Recovery(skipped=f"the broker is not reachable ({error})")
    running = broker.task_args(answering, GENERATE_TASK)
    orchestrating = broker.task_args(answering, ORCHESTRATE_TASK) | pending.get(ORCHESTRATE_TASK, set())
    waiting = running | pending.get(GENERATE_TASK, set())
    recovery = Recovery()
    for batch in stalled_batches(running, now):
        released = RunBatch.objects.filter(
            pk=batch.pk, status=Status.RUNNING, attempts=batch.attempts
        ).update(status=Status.QUEUED)
        if released:
            log.warning(
                "Batch %s (run %s) was claimed by %s at %s and no worker runs it: re-queued.",
                batch.pk, batch.run_id, batch.worker or "an unknown worker", batch.claimed,
            )  # fmt: skip
            recovery.stalled.append((batch.pk, batch.run.queue))
    stalled_ids = {pk for pk, _ in recovery.stalled}
    for pk, queue, experiment_id in RunBatch.objects.filter(
        status=Status.QUEUED, run__status__in=ACTIVE
    ).values_list("pk", "run__queue", "run__experiment_id"):
        if pk in waiting or pk in stalled_ids or experiment_id in orchestrating:
            continue
        recovery.lost.append((pk, queue))
    if recovery.lost:
        log.warning("%s queued batches had no message in the broker: re-sent.", len(recovery.lost))
    started_before = now - timedelta(seconds=settings.ASSAY_STALL_GRACE_S)
    recovery.experiments = [
        pk
        for pk in Experiment.objects.filter(status=Status.QUEUED, started__lt=started_before).values_list(
            "pk", flat=True
        )
        if pk not in orchestrating
    ]
    return recovery
