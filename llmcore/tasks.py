"""Celery tasks of the registry (measuring a model) and the queue a model's work goes to. Generation for
experiments runs as the experiments' batch tasks (experiments/tasks.py), the one way to generate."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from celery import shared_task
from celery.result import AsyncResult
from django.db import transaction

from accounts.models import Team

from . import services
from .engine.types import ModelUnavailable
from .models import ModelConfig

# A stuck backend must not hold a worker forever. The soft limit raises inside the task; the hard one
# kills the process.
SOFT_TIME_LIMIT_S = 20 * 60
TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 60


def queue_for(model_config: ModelConfig) -> str:
    """'gpu' for CUDA models (their workers run `-Q gpu --concurrency 1`), 'cpu' for everything else."""
    return model_config.queue


@shared_task(acks_late=True, soft_time_limit=SOFT_TIME_LIMIT_S, time_limit=TIME_LIMIT_S)
def measure_model(model_config_id: int, team_id: int | None = None, user_id: int | None = None) -> dict:
    if not ModelConfig.objects.filter(pk=model_config_id).exists():
        return {"error": "The model was deleted before it could be measured."}
    try:
        measurement = services.measure_model(model_config_id, team_id=team_id, user_id=user_id)
    except (ModelUnavailable, ValueError) as exc:
        return {"error": str(exc)}
    return asdict(measurement)


def enqueue_measurement(model_config: ModelConfig, *, team: Team | None = None, user=None) -> AsyncResult:
    """Queues a measurement on the model's queue (team=None: instance maintenance, charged to no team)."""
    task_id = str(uuid.uuid4())
    kwargs = {
        "model_config_id": model_config.pk,
        "team_id": team.pk if team is not None else None,
        "user_id": user.pk if user is not None else None,
    }
    queue = queue_for(model_config)
    transaction.on_commit(lambda: measure_model.apply_async(kwargs=kwargs, queue=queue, task_id=task_id))
    return measure_model.AsyncResult(task_id)
