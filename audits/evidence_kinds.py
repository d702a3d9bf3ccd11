"""Kinds of Assay result an audit item can link to as evidence.

Each kind registers how to find one of a team's results by its public code (`resolve`) and which
results a person may pick (`choices`). An Evidence row stores only the kind, the code and what the result
showed when it was linked (title, verdict, headline figures, when it last changed), so a new kind — a
fairness assessment, a probe, a red-team run — plugs in by calling `register` from its app's
AppConfig.ready, with no migration and no change to evidence linked before.

"experiment_run" is registered here: a run passes when the feasibility rules, with the team's
thresholds, make it augmentation- or automation-ready on its own evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.urls import reverse

from accounts.models import Team
from experiments.evidence import evidence_by_run
from experiments.models import Generation, HumanReview, Run
from opportunities.feasibility import (
    AUGMENTATION_READY,
    AUTOMATION_READY,
    UNTESTED,
    verdict,
)
from opportunities.verdicts import thresholds_for


@dataclass(frozen=True)
class LinkedResult:
    kind: str  # e.g. "experiment_run", later "fairness_assessment", "counterfactual_probe", ...
    code: str  # the object's public UUID as text
    title: str
    url: str
    passed: bool | None  # meets its thresholds / rule, None when it has no verdict
    summary: dict  # headline figures, JSON-serialisable; frozen on the evidence row at link time
    updated: datetime  # when the result last changed (warn when it changed since linking)


@dataclass(frozen=True)
class EvidenceKind:
    kind: str
    label: str
    resolve: Callable[[Team, str], LinkedResult | None]
    choices: Callable[[Team], list[LinkedResult]]


_KINDS: dict[str, EvidenceKind] = {}

# Kinds the shipped templates may require; those not registered yet show as "not available yet".
KNOWN_KINDS = {
    "experiment_run": "Experiment run",
    "fairness_assessment": "Fairness assessment",
    "counterfactual_probe": "Counterfactual probe",
    "stereotype_probe": "Stereotype probe",
    "redteam_run": "Red-team run",
}


def register(
    kind: str,
    label: str,
    resolve: Callable[[Team, str], LinkedResult | None],
    choices: Callable[[Team], list[LinkedResult]],
) -> None:
    _KINDS[kind] = EvidenceKind(kind=kind, label=label, resolve=resolve, choices=choices)


def registered() -> dict[str, EvidenceKind]:
    return dict(_KINDS)


def get(kind: str) -> EvidenceKind | None:
    return _KINDS.get(kind)


def label(kind: str) -> str:
    found = _KINDS.get(kind)
    return found.label if found else KNOWN_KINDS.get(kind, kind)


def resolve(team: Team, kind: str, code: str) -> LinkedResult | None:
    """The result now, or None when the kind is unknown or the result is gone (or another team's)."""
    found = _KINDS.get(kind)
    if found is None:
        return None
    try:
        return found.resolve(team, code)
    except (ValueError, TypeError, ValidationError):
        return None


# --- experiment runs --------------------------------------------------------------------------------


def _run_results(team: Team, runs) -> list[LinkedResult]:
    runs = list(runs)
    if not runs:
        return []
    ids = [run.pk for run in runs]
    facts = evidence_by_run(ids)
    scored = dict(
        Generation.objects.filter(run_id__in=ids)
        .values("run_id")
        .annotate(last=Max("scored"))
        .values_list("run_id", "last")
    )
    reviewed = dict(
        HumanReview.objects.filter(generation__run_id__in=ids)
        .values("generation__run_id")
        .annotate(last=Max("updated"))
        .values_list("generation__run_id", "last")
    )
    thresholds = thresholds_for(team.pk)
    results = []
    for run in runs:
        evidence = facts[run.pk]
        judged = verdict(evidence, thresholds)
        passed = (
            None if judged.verdict == UNTESTED else judged.verdict in (AUTOMATION_READY, AUGMENTATION_READY)
        )
        rate = judged.pass_rate
        moments = [
            m for m in (run.created, run.started, run.finished, scored.get(run.pk), reviewed.get(run.pk)) if m
        ]
        results.append(
            LinkedResult(
                kind="experiment_run",
                code=str(run.code),
                title=f"{run.experiment.name}: {run.label}",
                url=reverse("experiments:run_detail", args=[team.slug, run.code]),
                passed=passed,
                summary={
                    "status": run.status,
                    "verdict": judged.verdict,
                    "rules_version": judged.rules_version,
                    "cases_scored": evidence.cases_scored,
                    "cases_passed": evidence.cases_passed,
                    "pass_rate": None if rate is None or rate.rate is None else round(rate.rate, 4),
                    "pass_rate_low": None if rate is None or rate.rate is None else round(rate.low, 4),
                    "pass_rate_high": None if rate is None or rate.rate is None else round(rate.high, 4),
                    "reviews": evidence.reviews_accepted
                    + evidence.reviews_minor_edit
                    + evidence.reviews_rejected,
                    "cost_per_1k_cases": evidence.cost_per_1k_cases,
                    "p95_latency_s": evidence.p95_latency_s,  # single request; None until measured
                    "batch_p95_latency_s": evidence.batch_p95_latency_s,
                    "model": run.model_name,
                },
                updated=max(moments),
            )
        )
    return results


def _runs(team: Team):
    return Run.objects.filter(experiment__team=team).select_related("experiment", "prompt_version__template")


def resolve_run(team: Team, code: str) -> LinkedResult | None:
    try:
        code = str(uuid.UUID(str(code)))
    except ValueError:
        return None
    found = _run_results(team, _runs(team).filter(code=code))
    return found[0] if found else None


CHOICES_LIMIT = 50


def run_choices(team: Team) -> list[LinkedResult]:
    """The team's newest runs (at most CHOICES_LIMIT), newest first."""
    return _run_results(team, _runs(team).order_by("-created", "-id")[:CHOICES_LIMIT])


register("experiment_run", "Experiment run", resolve_run, run_choices)
