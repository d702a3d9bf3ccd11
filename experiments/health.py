"""Is the instance able to run experiments now: the broker, the workers and their queues, batches
waiting or stalled, the database. For the instance admins' health page and `manage.py health`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from . import broker, recovery
from .models import ACTIVE, RunBatch, Status


@dataclass
class Health:
    broker_url: str
    broker_error: str = ""
    workers: list[broker.Worker] = field(default_factory=list)
    queue_lengths: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)  # queue -> batches queued in the database
    oldest_waiting_minutes: float | None = None
    running: int = 0
    stalled: list[RunBatch] = field(default_factory=list)
    database: str = ""
    database_ms: float | None = None
    database_error: str = ""

    @property
    def problems(self) -> list[str]:
        found = []
        if self.broker_error:
            found.append(f"The broker is not reachable: {self.broker_error}")
        elif not self.workers:
            found.append("No worker answers: queued experiments wait until one starts.")
        served = {queue for worker in self.workers for queue in worker.queues}
        for queue, count in sorted(self.waiting.items()):
            if count and not self.broker_error and queue not in served:
                found.append(
                    f"{count} batch{'es' if count != 1 else ''} wait on queue {queue!r}, which no worker consumes."
                )
        if self.stalled:
            found.append(
                f"{len(self.stalled)} batch{'es' if len(self.stalled) != 1 else ''} stalled (claimed by a "
                "worker that no longer runs them): the recovery sweep re-queues them within a minute or two "
                "if Celery beat runs."
            )
        if self.database_error:
            found.append(f"The database is not answering: {self.database_error}")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


def check() -> Health:
    health = Health(broker_url=broker.redacted(broker.broker_url()))
    running_ids: set[int] = set()
    try:
        health.workers = broker.workers()
        health.queue_lengths = broker.queue_lengths()
        running_ids = broker.task_args(health.workers, recovery.GENERATE_TASK)
    except Exception as error:  # BrokerUnavailable, or a broker that fails mid-way
        health.broker_error = str(error) or type(error).__name__
    began = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        health.database_ms = (time.monotonic() - began) * 1000
        health.database = f"{connection.vendor} {connection.settings_dict.get('NAME')}"
    except Exception as error:
        health.database_error = str(error) or type(error).__name__
        return health
    active = RunBatch.objects.filter(run__status__in=ACTIVE)
    waiting = active.filter(status=Status.QUEUED)
    health.waiting = dict(
        waiting.values_list("run__queue").annotate(n=Count("id")).values_list("run__queue", "n")
    )
    oldest = waiting.aggregate(started=Min("run__started"))["started"]
    if oldest is not None:
        health.oldest_waiting_minutes = (timezone.now() - oldest).total_seconds() / 60
    health.running = active.filter(status=Status.RUNNING).count()
    if not health.broker_error:
        health.stalled = recovery.stalled_batches(running_ids)
    return health
