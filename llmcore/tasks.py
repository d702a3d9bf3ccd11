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


# What a warm-up generates: a small batch (loads the weights, packs them for the CPU kernels and runs the
# prefill and decode shapes once) and one request alone (the shapes of single-request latency samples).
WARM_UP_PROMPTS = 16
WARM_UP_TOKENS = 8


@shared_task(name="llmcore.warm_up", soft_time_limit=SOFT_TIME_LIMIT_S, time_limit=TIME_LIMIT_S)
def warm_up(model_config_id: int | None = None) -> dict:
    """Loads a model in this worker process and runs it once, so the first experiment after a worker
    starts costs what a later one does. `make run` sends it for the default model when the model worker
    is ready. Nothing is logged as usage: no team asked for it."""
    import time

    from .engine import runtime
    from .engine.params import InferenceParams
    from .engine.types import GenerationRequest
    from .seed import DEFAULT_GENERATOR_NAME

    configs = ModelConfig.objects.filter(pk=model_config_id) if model_config_id else (
        ModelConfig.objects.filter(name=DEFAULT_GENERATOR_NAME, team=None, is_active=True)
    )  # fmt: skip
    config = configs.first()
    if config is None:
        return {"status": "skipped", "reason": "no such model"}
    spec = config.to_spec()
    params = InferenceParams(max_new_tokens=WARM_UP_TOKENS)
    batch = [
        GenerationRequest.from_prompt(f"Summarise ticket {n}: the order arrived late.", params, key=str(n))
        for n in range(WARM_UP_PROMPTS)
    ]
    started = time.perf_counter()
    try:
        runtime.generate(spec, batch)
        loaded_s = time.perf_counter() - started
        runtime.generate(spec, batch[:1])
    except ModelUnavailable as exc:
        return {"status": "failed", "reason": str(exc)}
    return {
        "status": "warm",
        "model": config.name,
        "first_batch_s": round(loaded_s, 2),
        "total_s": round(time.perf_counter() - started, 2),
    }
