"""The portfolio report as one dict (the versioned JSON, schemas/portfolio-report-1.json), which the PDF,
XLSX and CSV render: a summary, the prioritisation matrix, the tasks ranked by annual value (each with
its value formula and its verdict's evidence and interval) and the use cases with their stage, audit
status and top risks.

A fixed number of queries for any portfolio: the tasks with their jobs, the deciding runs' evidence
(experiments.evidence, four queries), the runs' labels, then the use cases, their tasks, their current
audits and their open risks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from accounts.models import Team
from audits.models import OPEN_RISK_STATUSES, Audit, Kind, Risk
from experiments.evidence import evidence_by_run
from experiments.models import Run
from llmcore.stats import proportion
from opportunities.exporting import export_jobs, export_queryset, task_dict
from opportunities.matrix import (
    VERDICTS,
    MatrixItem,
    MatrixLayout,
    layout_matrix,
    quadrant_summary,
    sample_for_matrix,
)
from opportunities.models import Exposure, Job, LabelSource, Task, UseCase
from opportunities.usecases import worst_verdict
from opportunities.value import VALUE_RULES_VERSION
from opportunities.verdicts import thresholds_for

from .figures import interval

SCHEMA = "assay.portfolio-report"
SCHEMA_VERSION = 1
TOP_RISKS = 3
Progress = Callable[[int, str], None]


def _evidence(tasks: Sequence[Task]) -> dict[int, dict]:
    """{run id: the deciding run's label and intervals} for the runs that decide these tasks' verdicts."""
    run_ids = {t.verdict_run_id for t in tasks if t.verdict_run_id}
    facts = evidence_by_run(run_ids)
    runs = Run.objects.filter(pk__in=run_ids).select_related("prompt_version__template", "experiment")
    out = {}
    for run in runs:
        e = facts[run.pk]
        out[run.pk] = {
            "run": str(run.code),
            "experiment": run.experiment.name,
            "label": run.label,
            "pass_rate": interval(proportion(e.cases_passed, e.cases_scored)),
            "accept_or_edit": interval(proportion(e.reviews_accepted + e.reviews_minor_edit, e.reviews)),
            "reviews": e.reviews,
            "reviewers": e.reviewers,
            "cost_per_1k_cases": e.cost_per_1k_cases,
            "p95_latency_s": e.p95_latency_s,
        }
    return out


def _task_row(task: Task, evidence: dict[int, dict]) -> dict:
    row = task_dict(task)
    breakdown = task.value_breakdown()
    deciding = evidence.get(task.verdict_run_id) if task.verdict_run_id else None
    return {
        "rank": 0,  # set once every row is made
        **row,
        "verdict_label": VERDICTS.get(task.verdict, (task.verdict, ""))[0],
        "hours_per_year": float(round(breakdown.hours_per_year, 1)),
        "value_formula": breakdown.formula(task.value_inputs()),
        "verdict_reasons": list(task.verdict_reasons or []),
        "evidence": deciding,
    }


def _exposure(tasks: Sequence[Task]) -> dict:
    counts = {label: {"human": 0, "predicted": 0} for label in Exposure.values}
    unlabelled = 0
    for task in tasks:
        if task.exposure_label in counts:
            source = "predicted" if task.label_source == LabelSource.PREDICTED else "human"
            counts[task.exposure_label][source] += 1
        else:
            unlabelled += 1
    return {"labels": counts, "unlabelled": unlabelled}


def matrix_layout(
    rows: Sequence[dict], feasibility_threshold: float, limit: int | None = None
) -> MatrixLayout:
    """The matrix of the report's task rows, drawn as the Matrix page draws it (beyond `limit` points,
    default settings.ASSAY_MATRIX_MAX_POINTS, a sample with every task's counts; the feasibility line
    at the team's augmentation bar). Pure."""
    items = [
        MatrixItem(
            code=row["code"],
            statement=row["statement"],
            job=row["job_title"],
            value=row["annual_value"],
            verdict=row["verdict"],
            feasibility=row["feasibility"],
            basis=row["feasibility_basis"],
            warning=" ".join(row["verdict_warnings"]),
        )
        for row in rows
    ]
    limit = settings.ASSAY_MATRIX_MAX_POINTS if limit is None else limit
    sample = None
    if len(items) > limit:
        numbers = [(i, it.verdict, it.feasibility, it.value) for i, it in enumerate(items)]
        sample = sample_for_matrix(numbers, limit, feasibility_threshold=feasibility_threshold)
        items = [it for i, it in enumerate(items) if i in sample.ids]
    return layout_matrix(items, feasibility_threshold=feasibility_threshold, sample=sample)


def _use_cases(team: Team, task_ids: set[int], all_jobs: bool) -> list[dict]:
    use_cases = list(UseCase.objects.filter(team=team).select_related("owner").order_by("name", "id"))
    links = UseCase.tasks.through.objects.filter(usecase__in=use_cases).values_list("usecase_id", "task_id")
    tasks_of: dict[int, list[int]] = defaultdict(list)
    for use_case_id, task_id in links:
        tasks_of[use_case_id].append(task_id)
    if not all_jobs:  # a selection of jobs: the use cases with a task among them
        use_cases = [u for u in use_cases if set(tasks_of[u.pk]) & task_ids]
    linked = {t for u in use_cases for t in tasks_of[u.pk]}
    facts = {
        pk: (verdict, value)
        for pk, verdict, value in Task.objects.filter(pk__in=linked)
        .with_value()
        .values_list("pk", "verdict", "annual_value")
    }
    audits: dict[int, list[Audit]] = defaultdict(list)
    for audit in Audit.objects.filter(use_case__in=use_cases).current().order_by("kind"):
        audits[audit.use_case_id].append(audit)
    risks: dict[int, list[Risk]] = defaultdict(list)
    for risk in Risk.objects.filter(use_case__in=use_cases, status__in=OPEN_RISK_STATUSES):
        risks[risk.use_case_id].append(risk)
    kinds = dict(Kind.choices)
    out = []
    for u in use_cases:
        mine = [facts[t] for t in tasks_of[u.pk] if t in facts]
        top = sorted(risks[u.pk], key=lambda r: (-r.residual_score, -r.score, r.pk))[:TOP_RISKS]
        out.append(
            {
                "code": str(u.code),
                "name": u.name,
                "description": u.description,
                "stage": u.stage,
                "stage_label": u.get_stage_display(),
                "mode": u.mode,
                "risk_tier": u.risk_tier,
                "owner": u.owner.get_username() if u.owner else "",
                "tasks": len(mine),
                "annual_value": float(sum((v or Decimal(0) for _, v in mine), Decimal(0))),
                "verdict": worst_verdict(verdict for verdict, _ in mine) or "",
                "audits": [
                    {
                        "kind": a.kind,
                        "kind_label": kinds.get(a.kind, a.kind),
                        "status": a.status,
                        "status_label": a.get_status_display(),
                        "version": a.version,
                    }
                    for a in audits[u.pk]
                ],
                "open_risks": len(risks[u.pk]),
                "top_risks": [
                    {
                        "code": str(r.code),
                        "dimension": r.dimension,
                        "description": r.description,
                        "score": r.score,
                        "band": r.band,
                        "residual_score": r.residual_score,
                        "residual_band": r.residual_band,
                        "status": r.status,
                    }
                    for r in top
                ],
            }
        )
    return out


def build(team: Team, job_codes: Sequence[str] = (), progress: Progress | None = None) -> dict:
    """The report of the team's portfolio, or of these jobs only."""
    step = progress or (lambda percent, stage: None)
    step(10, "Reading tasks")
    jobs_qs = export_jobs(team, {})
    tasks_qs = export_queryset(team, {})
    if job_codes:
        jobs_qs = jobs_qs.filter(code__in=list(job_codes))
        tasks_qs = tasks_qs.filter(job__code__in=list(job_codes))
    jobs: list[Job] = list(jobs_qs)
    tasks = list(tasks_qs)
    step(30, "Reading evidence")
    evidence = _evidence(tasks)
    # Highest value first; ties in the export's order (job title, then task).
    rows = sorted((_task_row(task, evidence) for task in tasks), key=lambda row: -row["annual_value"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    step(50, "Laying out the matrix")
    layout = matrix_layout(rows, thresholds_for(team.pk).augmentation_lower)
    step(60, "Reading use cases")
    use_cases = _use_cases(team, {t.pk for t in tasks}, all_jobs=not job_codes)
    by_verdict = {v: {"tasks": 0, "annual_value": 0.0} for v in VERDICTS}
    for row in rows:
        by_verdict[row["verdict"]]["tasks"] += 1
        by_verdict[row["verdict"]]["annual_value"] += row["annual_value"]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": timezone.now().isoformat(),
        "value_rules_version": VALUE_RULES_VERSION,
        "team": {"code": str(team.code), "name": team.name, "slug": team.slug},
        "selection": {
            "all_jobs": not job_codes,
            "jobs": [{"code": str(j.code), "title": j.title} for j in jobs],
        },
        "summary": {
            "jobs": len(jobs),
            "tasks": len(rows),
            "hours_per_year": round(sum(r["hours_per_year"] for r in rows), 1),
            "annual_value": round(sum(r["annual_value"] for r in rows), 2),
            "by_verdict": {
                v: {**c, "annual_value": round(c["annual_value"], 2)} for v, c in by_verdict.items()
            },
            "exposure": _exposure(tasks),
        },
        "matrix": {
            "value_threshold": layout.value_threshold,
            "threshold_is_median": layout.threshold_is_median,
            "feasibility_threshold": layout.feasibility_threshold,
            "quadrants": [
                {"key": q.key, "label": q.label, "meaning": q.meaning, "tasks": q.count}
                for q in quadrant_summary(layout)
            ],
        },
        "tasks": rows,
        "use_cases": use_cases,
    }
