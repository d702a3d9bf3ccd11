from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from experiments import execution
from experiments.models import ACTIVE, Experiment
from experiments.tasks import orchestrate_experiment


class Command(BaseCommand):
    help = (
        "Re-send the work of every queued or running experiment, e.g. after the broker lost its queues. "
        "Batches already done are skipped and duplicates are harmless. With --stalled-minutes N, batches "
        "a worker claimed more than N minutes ago without finishing are handed to the next worker too. "
        "Celery beat runs the same recovery every minute on its own (experiments/recovery.py): this "
        "command is for when no beat runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stalled-minutes", type=int, default=None)

    def handle(self, *args, stalled_minutes=None, **options) -> None:
        if stalled_minutes is not None:
            released = execution.release_stalled_batches(timezone.now() - timedelta(minutes=stalled_minutes))
            self.stdout.write(
                f"{released} stalled batch{'es' if released != 1 else ''} put back in the queue."
            )
        ids = list(Experiment.objects.filter(status__in=ACTIVE).values_list("pk", flat=True))
        for experiment_id in ids:
            orchestrate_experiment.delay(experiment_id)
        self.stdout.write(self.style.SUCCESS(f"Re-sent {len(ids)} experiment{'s' if len(ids) != 1 else ''}."))
