"""Rolls experiment evidence up into each task's stored verdict.

Each run of a linked experiment is one candidate configuration; `feasibility.verdict` judges each on its
own evidence and `feasibility.best_run` picks the one that decides the task's verdict. The result is
stored on the task (verdict, headline feasibility, reasons, deciding run, rules version) so the portfolio,
the matrix and the use cases read it without touching experiment data.

Recomputed when the evidence changes (llmcore's `evidence_changed` signal: runs finishing, outputs
scored, reviews recorded), when a task's experiments or rubric answer change, when an experiment is
deleted, and when the team's thresholds change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from experiments.evidence import evidence_by_run
from experiments.models import Run
from experiments.run_evidence import RunEvidence

from .feasibility import Thresholds, VerdictResult, best_run, verdict
from .models import FeasibilityPolicy, Task, Verdict
from .value import model_cost_per_year

UNTESTED_REASONS = ["No evidence yet: no experiment with runs is linked to this task."]


@dataclass(frozen=True)
class RunVerdict:
    run: Run
    evidence: RunEvidence
    result: VerdictResult
    decides: bool = False


def thresholds_for(team_id: int) -> Thresholds:
    policy = FeasibilityPolicy.objects.filter(team_id=team_id).first()
    return policy.thresholds() if policy else Thresholds()


def _runs_by_task(tasks: list[Task]) -> dict[int, list[Run]]:
    links = Task.experiments.through.objects.filter(task_id__in=[t.pk for t in tasks])
    experiments_by_task: dict[int, set[int]] = {}
    for task_id, experiment_id in links.values_list("task_id", "experiment_id"):
        experiments_by_task.setdefault(task_id, set()).add(experiment_id)
    all_experiments = set().union(*experiments_by_task.values()) if experiments_by_task else set()
    runs = list(
        Run.objects.filter(experiment_id__in=all_experiments)
        .select_related("experiment", "prompt_version__template")
        .order_by("experiment__created", "id")
    )
    return {
        task.pk: [r for r in runs if r.experiment_id in experiments_by_task.get(task.pk, ())]
        for task in tasks
    }


def run_verdicts_for_tasks(tasks: list[Task], thresholds: Thresholds) -> dict[int, list[RunVerdict]]:
    """Every linked run judged on its own, per task; the deciding run flagged. A fixed number of queries."""
    runs_by_task = _runs_by_task(tasks)
    evidence = evidence_by_run({r.pk for runs in runs_by_task.values() for r in runs})
    result: dict[int, list[RunVerdict]] = {}
    for task in tasks:
        answer = task.rubric_answer or None
        judged = []
        for run in runs_by_task[task.pk]:
            facts = evidence[run.pk]
            judged.append(RunVerdict(run=run, evidence=facts, result=verdict(facts, thresholds, answer)))
        best = best_run([(rv.result, rv.evidence) for rv in judged])
        if best is not None:
            judged[best] = RunVerdict(
                judged[best].run, judged[best].evidence, judged[best].result, decides=True
            )
        result[task.pk] = judged
    return result


def run_verdicts(task: Task) -> list[RunVerdict]:
    return run_verdicts_for_tasks([task], thresholds_for(task.job.team_id))[task.pk]


def _per_1k(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 6)))


def _apply(task: Task, judged: list[RunVerdict]) -> bool:
    """Sets the task's verdict fields from its judged runs; True when anything changed."""
    deciding = next((rv for rv in judged if rv.decides), None)
    if deciding is None:
        values = {
            "verdict": Verdict.UNTESTED,
            "feasibility": None,
            "feasibility_basis": "",
            "verdict_warnings": [],
            "verdict_reasons": UNTESTED_REASONS,
            "verdict_run_id": None,
            "verdict_rules_version": "",
            "model_cost_per_1k_cases": None,
        }
    else:
        result = deciding.result
        values = {
            "verdict": result.verdict,
            "feasibility": result.feasibility,
            "feasibility_basis": result.basis,
            "verdict_warnings": list(result.warnings),
            "verdict_reasons": list(result.reasons),
            "verdict_run_id": deciding.run.pk,
            "verdict_rules_version": result.rules_version,
            "model_cost_per_1k_cases": _per_1k(deciding.evidence.cost_per_1k_cases),
        }
    values["model_cost_per_year"] = model_cost_per_year(
        values["model_cost_per_1k_cases"], task.cases_per_year
    )
    changed = any(getattr(task, name) != value for name, value in values.items())
    for name, value in values.items():
        setattr(task, name, value)
    return changed


FIELDS = [
    "verdict",
    "feasibility",
    "feasibility_basis",
    "verdict_warnings",
    "verdict_reasons",
    "verdict_run",
    "verdict_rules_version",
    "verdict_updated",
    "model_cost_per_1k_cases",
    "model_cost_per_year",
]


def recompute(tasks: Iterable[Task]) -> int:
    """Recomputes and stores the verdicts of these tasks (any teams); returns how many changed."""
    tasks = list(tasks)
    by_team: dict[int, list[Task]] = {}
    for task in tasks:
        by_team.setdefault(task.job.team_id, []).append(task)
    changed = []
    now = timezone.now()
    for team_id, team_tasks in by_team.items():
        judged = run_verdicts_for_tasks(team_tasks, thresholds_for(team_id))
        for task in team_tasks:
            if _apply(task, judged[task.pk]):
                task.verdict_updated = now
                changed.append(task)
    if changed:
        Task.objects.bulk_update(changed, FIELDS, batch_size=500)
    return len(changed)


def recompute_for_experiments(experiment_ids: Iterable[int]) -> int:
    tasks = Task.objects.filter(experiments__in=list(experiment_ids)).select_related("job").distinct()
    return recompute(tasks)


def recompute_task_ids(task_ids: Iterable[int]) -> int:
    return recompute(Task.objects.filter(pk__in=list(task_ids)).select_related("job"))


def recompute_team(team_id: int) -> int:
    return recompute(Task.objects.filter(job__team_id=team_id).select_related("job"))


def recompute_on_commit(task_ids: Iterable[int]) -> None:
    ids = list(task_ids)
    if ids:
        transaction.on_commit(lambda: recompute_task_ids(ids))
