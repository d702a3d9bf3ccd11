"""Outbound guards: checks a higher layer registers (the PII guard of audits.fairness) that see every
batch of requests before it is sent to a model, and may rewrite a request or refuse it with a reason.

experiments declares the hook and never imports who registers; with no guard registered, requests go
out unchanged. A guard is called outside any transaction and may write its own records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from llmcore.engine.types import GenerationRequest


@dataclass
class GuardOutcome:
    requests: list[GenerationRequest]
    refused: dict[str, str] = field(default_factory=dict)  # request key -> why it was not sent


# guard(run, requests) -> GuardOutcome
Guard = Callable[[object, list[GenerationRequest]], GuardOutcome]
_guards: dict[str, Guard] = {}


def register_outbound_guard(name: str, guard: Guard) -> None:
    _guards[name] = guard


def unregister_outbound_guard(name: str) -> None:
    _guards.pop(name, None)


def apply_outbound_guards(run, requests: list[GenerationRequest]) -> GuardOutcome:
    outcome = GuardOutcome(list(requests))
    for guard in list(_guards.values()):
        step = guard(run, outcome.requests)
        outcome = GuardOutcome(step.requests, {**outcome.refused, **step.refused})
    return outcome
