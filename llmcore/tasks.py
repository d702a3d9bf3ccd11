"""Celery tasks that run models: ids and plain dicts in, plain dicts out, routed by the model's device."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from celery import shared_task
from celery.result import AsyncResult
from django.db import transaction

from accounts.models import Membership, Team

from . import services
from .engine.types import GenerationRequest, ModelUnavailable, TransientBackendError
from .models import ModelConfig

# A batch of 64 prompts × a few hundred tokens takes minutes on CPU; a stuck backend must not hold a
# worker forever. The soft limit raises inside the task; the hard one kills the process.
SOFT_TIME_LIMIT_S = 20 * 60
TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 60


def queue_for(model_config: ModelConfig) -> str:
    """'gpu' for CUDA models (their workers run `-Q gpu --concurrency 1`), 'cpu' for everything else."""
    return model_config.queue


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(TransientBackendError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=TIME_LIMIT_S,
)
def generate_batch(
    self,
    model_config_id: int,
    requests: list[dict],
    team_id: int | None,
    user_id: int | None = None,
    purpose: str = "",
    batch_size: int | None = None,
) -> list[dict]:
    """Generates one batch. Budget was checked when the batch was submitted, so queued work always runs.

    Permanent failures (model gone, files missing) come back as one error result per request;
    transient ones (HTTP 429/5xx, connection refused) are retried with backoff, then raised.
    """
    parsed = [services.request_from_dict(data) for data in requests]
    try:
        results = services.run_inference(
            model_config_id, parsed, team_id=team_id, user_id=user_id, purpose=purpose, batch_size=batch_size
        )
    except ModelConfig.DoesNotExist:
        return _errors(parsed, "The model was deleted before this batch ran.")
    except (ModelUnavailable, services.ModelNotAllowed) as exc:
        return _errors(parsed, str(exc))
    return [services.result_to_dict(result) for result in results]


def _errors(requests: list[GenerationRequest], message: str) -> list[dict]:
    return [services.result_to_dict(services.failed_result(request, message)) for request in requests]


@shared_task(acks_late=True, soft_time_limit=SOFT_TIME_LIMIT_S, time_limit=TIME_LIMIT_S)
def measure_model(model_config_id: int, team_id: int | None = None, user_id: int | None = None) -> dict:
    if not ModelConfig.objects.filter(pk=model_config_id).exists():
        return {"error": "The model was deleted before it could be measured."}
    try:
        measurement = services.measure_model(model_config_id, team_id=team_id, user_id=user_id)
    except (ModelUnavailable, ValueError) as exc:
        return {"error": str(exc)}
    return asdict(measurement)


def enqueue_generation(
    model_config: ModelConfig,
    requests: list[GenerationRequest],
    *,
    team: Team,
    user=None,
    purpose: str = "",
    batch_size: int | None = None,
) -> AsyncResult:
    """Submits a batch on the model's queue once the surrounding transaction (if any) commits.

    Raises ModelNotAllowed (not enabled for the team, inactive, or an external model this user's role
    may not use) or BudgetExceeded (logged as refused calls) before anything is queued.
    """
    role = None
    if user is not None:
        role = Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()
        if role is None:
            raise services.ModelNotAllowed(f"{user} is not a member of {team.name}.")
    services.check_model_allowed(model_config, team, role)
    user_id = user.pk if user is not None else None
    try:
        services.check_budget(team)
    except services.BudgetExceeded as exc:
        services.record_refusals(model_config, team, user_id, len(requests), str(exc), purpose)
        raise
    task_id = str(uuid.uuid4())
    kwargs = {
        "model_config_id": model_config.pk,
        "requests": [services.request_to_dict(request) for request in requests],
        "team_id": team.pk,
        "user_id": user_id,
        "purpose": purpose,
        "batch_size": batch_size,
    }
    queue = queue_for(model_config)
    transaction.on_commit(lambda: generate_batch.apply_async(kwargs=kwargs, queue=queue, task_id=task_id))
    return generate_batch.AsyncResult(task_id)


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
