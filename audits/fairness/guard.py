"""The PII guard: before a batch leaves for an external (openai-compatible) model, the team's policy
applies to every request that holds personal data (warn, redact with typed placeholders, or block), and
what it found and did is recorded on the run (PiiGuardEvent)."""

from __future__ import annotations

import dataclasses

from experiments.guards import GuardOutcome
from llmcore.engine.types import GenerationRequest
from llmcore.models import Backend, ModelConfig

from . import pii
from .models import PiiAction, PiiGuardEvent, PiiPolicy


def policy_for(team_id: int) -> str:
    return (
        PiiPolicy.objects.filter(team_id=team_id).values_list("action", flat=True).first() or PiiAction.WARN
    )


def is_external(model_id: int | None) -> bool:
    return ModelConfig.objects.filter(pk=model_id, backend=Backend.OPENAI_COMPATIBLE).exists()


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {pii.KINDS[kind].lower()}" for kind, n in sorted(counts.items()))


def pii_guard(run, requests: list[GenerationRequest]) -> GuardOutcome:
    if not requests or not is_external(run.model_id):
        return GuardOutcome(requests)
    team_id = run.experiment.team_id
    action = policy_for(team_id)
    kept: list[GenerationRequest] = []
    refused: dict[str, str] = {}
    totals: dict[str, int] = {}
    with_pii = redacted = 0
    for request in requests:
        per_message = [pii.find_pii(m.content) for m in request.messages]
        found = [f for findings in per_message for f in findings]
        if not found:
            kept.append(request)
            continue
        with_pii += 1
        counts = pii.count_kinds(found)
        for kind, n in counts.items():
            totals[kind] = totals.get(kind, 0) + n
        if action == PiiAction.BLOCK:
            refused[request.key] = (
                f"Not sent to {run.model_name}: the team's PII policy blocks cases with personal data "
                f"and this one holds {describe(counts)}."
            )
        elif action == PiiAction.REDACT:
            messages = tuple(
                dataclasses.replace(m, content=pii.redact(m.content, findings))
                for m, findings in zip(request.messages, per_message, strict=True)
            )
            kept.append(dataclasses.replace(request, messages=messages))
            redacted += 1
        else:
            kept.append(request)
    PiiGuardEvent.objects.create(
        run_id=run.pk,
        team_id=team_id,
        action=action,
        requests=len(requests),
        with_pii=with_pii,
        counts=totals,
        blocked=len(refused),
        redacted=redacted,
    )
    return GuardOutcome(kept, refused)
