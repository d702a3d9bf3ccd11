"""Writes that span models or call a model: running inference with its usage log, budgets, measuring."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import Team

from . import endpoints, throughput, usage
from .engine.params import InferenceParams
from .engine.types import (
    BackendKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ModelUnavailable,
    TransientBackendError,
)
from .models import InferenceCall, Modality, ModelConfig, Outcome, TeamBudget


class BudgetExceeded(Exception):
    """The team's monthly budget is spent; the message says how much of what, and what to do."""


class ModelNotAllowed(Exception):
    """The model is not available to this team, or this role may not send data to it."""


# -- budgets -------------------------------------------------------------------------------------------


def budget_status(team: Team, now: datetime | None = None) -> usage.BudgetStatus:
    """The team's budget and this month's usage: two queries."""
    now = now or timezone.now()
    window = usage.month_window(now)
    budget = TeamBudget.objects.filter(team=team).first()
    totals = InferenceCall.objects.filter(team=team).between(window.start, window.end).totals()
    return usage.budget_status(
        tokens_used=totals["tokens"],
        cost_used=totals["cost"],
        token_limit=budget.monthly_token_limit if budget else None,
        cost_limit=budget.monthly_cost_limit if budget else None,
        now=now,
    )


def check_budget(team: Team, now: datetime | None = None) -> usage.BudgetStatus:
    """Refuses new work once the month's budget is spent. Called when work is submitted, never by a
    worker, so batches already queued still complete."""
    status = budget_status(team, now)
    if status.exhausted:
        raise BudgetExceeded(status.refusal_message())
    return status


def check_model_allowed(config: ModelConfig, team: Team, role: str | None) -> None:
    """Same rules as ModelConfig.objects.available_models(team, role), with the reason spelled out.
    role=None is system work on the team's behalf (scorers, scheduled jobs): no role restriction."""
    if not ModelConfig.objects.for_team(team).filter(pk=config.pk).exists():
        raise ModelNotAllowed(f"{config.name} is not enabled for {team.name}.")
    if not config.is_active:
        raise ModelNotAllowed(f"{config.name} is inactive; ask a team admin to reactivate it.")
    if role is not None and not config.allows_role(role):
        raise ModelNotAllowed(
            f"{config.name} is an external model (data leaves the organisation) and only these roles "
            f"may use it: {', '.join(config.allowed_role_list)}."
        )


def record_refusals(
    config: ModelConfig, team: Team, user_id: int | None, count: int, reason: str, purpose: str = ""
) -> None:
    InferenceCall.objects.bulk_create(
        InferenceCall(
            team=team,
            user_id=user_id,
            model=config,
            model_name=config.name,
            purpose=purpose,
            outcome=Outcome.REFUSED,
            error=reason,
        )
        for _ in range(count)
    )


# -- running a model -----------------------------------------------------------------------------------


_OUTCOMES = {FinishReason.ERROR: Outcome.ERROR, FinishReason.TIMEOUT: Outcome.TIMEOUT}


def run_inference(
    model_config_id: int,
    requests: list[GenerationRequest],
    *,
    team_id: int | None,
    user_id: int | None = None,
    purpose: str = "",
    batch_size: int | None = None,
    progress=None,
) -> list[GenerationResult]:
    """Generates with the engine and logs one InferenceCall per request (success or failure).

    progress (engine.types.Progress): told of finished results while the call runs, and asked whether
    to stop; requests it cancelled come back with finish_reason=cancelled and are not logged.

    Never call this inside a transaction: a model call takes seconds to minutes. Raises
    ModelUnavailable (permanent) and TransientBackendError (worth retrying) after logging them.
    """
    from .engine import runtime  # torch and transformers load on first use, in workers only

    _refuse_inside_transaction()
    config = ModelConfig.objects.get(pk=model_config_id)
    if config.team_id is not None and config.team_id != team_id:
        raise ModelNotAllowed(f"{config.name} belongs to another team.")
    try:
        # Only ASSAY_MODEL_KEY_* variables may leave the worker, whatever a stored row names.
        endpoints.api_key(config.api_key_env)
        spec = config.to_spec()
        local = BackendKind(spec.backend) != BackendKind.OPENAI_COMPATIBLE
        cold = local and spec.cache_key not in runtime.loaded_keys()
        started = time.perf_counter()
        results = runtime.generate(spec, list(requests), batch_size=batch_size, progress=progress)
        elapsed = time.perf_counter() - started
    except (ModelUnavailable, TransientBackendError) as exc:
        _log_calls(
            config, team_id, user_id, purpose, [failed_result(request, str(exc)) for request in requests]
        )
        raise
    finished = [r for r in results if r.finish_reason != FinishReason.CANCELLED]
    _log_calls(config, team_id, user_id, purpose, finished)
    if len(finished) == len(results):  # a cancelled call says nothing about the model's speed
        _record_speed(config, len(requests), sum(max(r.tokens_out, 0) for r in results), elapsed, cold)
    return results


def _record_speed(config: ModelConfig, batch: int, tokens_out: int, seconds: float, cold: bool) -> None:
    """Every call measures the model: the sample is kept, and the model's speed (what estimates and the
    registry show) becomes the median of its recent warm calls."""
    throughput.record(config.pk, batch, tokens_out, seconds, cold)
    if cold or tokens_out == 0:
        return
    summary = throughput.for_models([config.pk]).get(config.pk)
    if summary is not None:
        ModelConfig.objects.filter(pk=config.pk).update(
            measured_tokens_per_s=summary.tokens_per_s, measured_at=timezone.now()
        )


def execution_profile(config: ModelConfig):
    """The precision and decoding path this worker uses for the model (runtime.ExecutionProfile)."""
    from .engine import runtime

    return runtime.execution_profile(config.to_spec())


def failed_result(request: GenerationRequest, message: str) -> GenerationResult:
    return GenerationResult(key=request.key, text="", finish_reason=FinishReason.ERROR, error=message)


def _log_calls(
    config: ModelConfig,
    team_id: int | None,
    user_id: int | None,
    purpose: str,
    results: list[GenerationResult],
) -> None:
    now = timezone.now()
    InferenceCall.objects.bulk_create(
        InferenceCall(
            team_id=team_id,
            user_id=user_id,
            model=config,
            model_name=config.name,
            purpose=purpose,
            tokens_in=max(result.tokens_in, 0),
            tokens_out=max(result.tokens_out, 0),
            cost=Decimal(str(round(result.cost, 10))),
            latency_s=result.latency_s,
            outcome=_OUTCOMES.get(result.finish_reason, Outcome.OK),
            error=result.error,
            created=now,
        )
        for result in results
    )


def _refuse_inside_transaction() -> None:
    # Test cases wrap each test in atomic blocks marked _from_testcase; any other block is real.
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("A model was called inside a database transaction; call it after commit.")


# -- measuring a model ---------------------------------------------------------------------------------

MEASURE_PROMPTS = (
    "Summarise in one sentence: the meeting moved to Thursday because the room was booked.",
    "Classify the sentiment of this review as positive or negative: 'Arrived late and broken.'",
    "Write a two-line reply thanking a customer for reporting a bug.",
    "List three things to check before deploying a web application.",
    "Translate to French: 'The invoice is attached.'",
    "What is 17 times 3? Answer with the number only.",
    "Extract the date from: 'Please call me back on 12 March about order 5521.'",
    "Give a short title for an article about saving energy at home.",
)
MEASURE_PARAMS = InferenceParams(max_new_tokens=32)


@dataclass(frozen=True)
class Measurement:
    latency_s: float  # median time per request inside the batch
    tokens_per_s: float  # output tokens of the whole batch / its wall time
    requests: int
    tokens_out: int
    wall_s: float


def measure_model(
    model_config_id: int, *, team_id: int | None = None, user_id: int | None = None
) -> Measurement:
    """Runs a fixed prompt set as one batch (after a one-token warm-up that loads the model) and stores
    the median latency and the throughput on the ModelConfig."""
    config = ModelConfig.objects.get(pk=model_config_id)
    if config.modality != Modality.TEXT:
        raise ValueError(
            f"{config.name} is an {config.get_modality_display().lower()} model; only text "
            "generation models are measured."
        )
    warm_up = [GenerationRequest.from_prompt(MEASURE_PROMPTS[0], InferenceParams(max_new_tokens=1))]
    run_inference(config.pk, warm_up, team_id=team_id, user_id=user_id, purpose="measure")
    requests = [
        GenerationRequest.from_prompt(prompt, MEASURE_PARAMS, key=f"measure:{i}")
        for i, prompt in enumerate(MEASURE_PROMPTS)
    ]
    started = time.perf_counter()
    results = run_inference(config.pk, requests, team_id=team_id, user_id=user_id, purpose="measure")
    wall_s = time.perf_counter() - started
    ok = [result for result in results if result.ok]
    if not ok:
        raise ModelUnavailable(f"Measuring {config.name} failed: {results[0].error or 'no output'}")
    tokens_out = sum(result.tokens_out for result in ok)
    measurement = Measurement(
        latency_s=statistics.median(result.latency_s for result in ok),
        tokens_per_s=tokens_out / wall_s if wall_s > 0 else 0.0,
        requests=len(ok),
        tokens_out=tokens_out,
        wall_s=wall_s,
    )
    ModelConfig.objects.filter(pk=config.pk).update(
        measured_latency_s=measurement.latency_s,
        measured_tokens_per_s=measurement.tokens_per_s,
        measured_at=timezone.now(),
    )
    return measurement
