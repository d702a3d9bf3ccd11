"""The experiment report as one dict (the versioned JSON, schemas/experiment-report-1.json), which the PDF,
XLSX and CSV render: the grid, each run's scores with their 95% intervals, cost and latency, example
outputs (the best and the worst scored of each run), each scorer's figures per run, human review agreement (between reviewers, and
between the scorer and the reviewers) and the task verdicts the experiment feeds.

The figures come from experiments.results and experiments.evidence, as the experiment page shows
them. A fixed number of queries for any experiment.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Avg, Count, Q
from django.utils import timezone

from experiments.evidence import evidence_by_run
from experiments.models import Experiment, Generation, HumanReview, Score
from experiments.results import summarise
from experiments.reviewing import reviewer_agreement
from llmcore.stats import proportion
from opportunities.matrix import VERDICTS
from opportunities.models import Task

from .figures import interval

SCHEMA = "assay.experiment-report"
SCHEMA_VERSION = 1
EXAMPLES_PER_SIDE = 2  # best and worst outputs shown per run
EXAMPLE_CHARS = 2000  # an example output is cut to this many characters
Progress = Callable[[int, str], None]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _examples(run_ids: list[int], labels: dict[int, str]) -> list[dict]:
    """The EXAMPLES_PER_SIDE best and worst scored outputs of each run (by weighted score): one query
    for the scores, one for the chosen outputs' texts."""
    scored: dict[int, list[tuple[float, int]]] = {}
    for pk, run_id, score in Generation.objects.filter(
        run_id__in=run_ids, weighted_score__isnull=False, error=""
    ).values_list("pk", "run_id", "weighted_score"):
        scored.setdefault(run_id, []).append((score, pk))
    chosen: dict[int, str] = {}
    for members in scored.values():
        members.sort(key=lambda m: (-m[0], m[1]))
        for _, pk in members[:EXAMPLES_PER_SIDE]:
            chosen[pk] = "best"
        for _, pk in members[EXAMPLES_PER_SIDE:][-EXAMPLES_PER_SIDE:]:
            chosen.setdefault(pk, "worst")
    rows = Generation.objects.filter(pk__in=chosen).values_list(
        "pk", "run_id", "case_version__case__key", "case_version__expected_label",
        "case_version__expected_output", "text", "weighted_score", "passed",
    )  # fmt: skip
    out = []
    for pk, run_id, case, label, expected, text, score, passed in rows:
        out.append(
            {
                "run": labels[run_id],
                "side": chosen[pk],
                "case": case,
                "expected": label or expected,
                "output": text[:EXAMPLE_CHARS],
                "truncated": len(text) > EXAMPLE_CHARS,
                "weighted_score": _round(score),
                "passed": passed,
            }
        )
    order = {label: i for i, label in enumerate(labels.values())}
    out.sort(key=lambda e: (order[e["run"]], e["side"] != "best", -(e["weighted_score"] or 0), e["case"]))
    return out


def _scorer_rows(run_ids: list[int]) -> dict[int, list[dict]]:
    """Each run's figures per scorer (mean value, pass rate with its interval): one grouped query."""
    rows = (
        Score.objects.filter(generation__run_id__in=run_ids, status="scored")
        .values("generation__run_id", "position", "scorer")
        .annotate(
            mean=Avg("value"),
            scored=Count("id"),
            decided=Count("id", filter=Q(passed__isnull=False)),
            passed=Count("id", filter=Q(passed=True)),
        )
        .order_by("generation__run_id", "position")
    )
    out: dict[int, list[dict]] = {run_id: [] for run_id in run_ids}
    for row in rows:
        out[row["generation__run_id"]].append(
            {
                "position": row["position"] + 1,
                "scorer": row["scorer"],
                "scored": row["scored"],
                "mean": _round(row["mean"]),
                "pass_rate": interval(proportion(row["passed"], row["decided"])),
            }
        )
    return out


def build(experiment: Experiment, progress: Progress | None = None) -> dict:
    step = progress or (lambda percent, stage: None)
    team = experiment.team
    step(10, "Reading runs")
    runs = list(experiment.runs.select_related("prompt_version__template").order_by("id"))
    labels = {run.pk: run.label for run in runs}
    summaries = summarise(
        {run.pk: run.total for run in runs},
        Generation.objects.filter(run__experiment=experiment).result_rows(),
    )
    step(35, "Reading reviews")
    evidence = evidence_by_run(labels)
    by_scorer = _scorer_rows(list(labels))
    run_rows = []
    for run in runs:
        s, e = summaries[run.pk], evidence[run.pk]
        run_rows.append(
            {
                "code": str(run.code),
                "label": run.label,
                "prompt": run.prompt_version.label,
                "model": run.model_name,
                "params": run.params_label,
                "status": run.status,
                "total": s.total,
                "generated": s.generated,
                "errors": s.errors,
                "undecided": s.undecided,
                "pass_rate": interval(s.pass_rate),
                "mean_score": _round(s.mean_score),
                "scorers": by_scorer[run.pk],
                "all_repeats_pass_rate": _round(s.consistency.all_k_pass_rate),
                "latency_p50_s": _round(s.latency.p50),
                "latency_p95_s": _round(s.latency.p95),
                "single_request_p95_s": _round(e.p95_latency_s),
                "mean_tokens_in": _round(s.mean_tokens_in, 1),
                "mean_tokens_out": _round(s.mean_tokens_out, 1),
                "cost": float(s.cost),
                "cost_per_1000": None if s.cost_per_1000 is None else float(round(s.cost_per_1000, 6)),
                "reviews": {
                    "accepted": e.reviews_accepted,
                    "minor_edit": e.reviews_minor_edit,
                    "rejected": e.reviews_rejected,
                    "reviewers": e.reviewers,
                    "accept_or_edit": interval(
                        proportion(e.reviews_accepted + e.reviews_minor_edit, e.reviews)
                    ),
                },
                "scorer_kappa": _round(e.scorer_kappa),
                "scorer_kappa_n": e.scorer_kappa_n,
            }
        )
    reviews = list(
        HumanReview.objects.filter(
            generation__run__experiment=experiment, reviewer__isnull=False
        ).values_list("generation_id", "reviewer__username", "verdict")
    )
    pairs = [
        {
            "first": p.first,
            "second": p.second,
            "kappa": _round(p.result.kappa),
            "observed": _round(p.result.observed),
            "n": p.result.n,
            "note": p.result.note,
        }
        for p in reviewer_agreement(reviews)
    ]
    step(55, "Choosing examples")
    examples = _examples(list(labels), labels)
    step(65, "Reading verdicts")
    tasks = (
        Task.objects.filter(experiments=experiment)
        .select_related("job", "verdict_run")
        .order_by("job__title", "id")
    )
    verdicts = [
        {
            "code": str(t.code),
            "statement": t.statement,
            "job": t.job.title,
            "verdict": t.verdict,
            "verdict_label": VERDICTS.get(t.verdict, (t.verdict, ""))[0],
            "feasibility": t.feasibility,
            "feasibility_basis": t.feasibility_basis,
            "decided_by": labels.get(t.verdict_run_id, "")
            or ("another experiment" if t.verdict_run_id else ""),
            "reasons": list(t.verdict_reasons or []),
        }
        for t in tasks
    ]
    dataset = experiment.dataset
    cases = max((run.total // max(experiment.repeats, 1) for run in runs), default=0)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": timezone.now().isoformat(),
        "team": {"code": str(team.code), "name": team.name, "slug": team.slug},
        "experiment": {
            "code": str(experiment.code),
            "name": experiment.name,
            "description": experiment.description,
            "status": experiment.status,
            "dataset": dataset.name,
            "created": experiment.created.isoformat(),
            "finished": experiment.finished.isoformat() if experiment.finished else None,
        },
        "grid": {
            "prompt_versions": sorted({run.prompt_version.label for run in runs}),
            "models": sorted({run.model_name for run in runs}),
            "param_sets": [p["label"] for p in experiment.param_sets],
            "scorers": [s.get("name", "") for s in experiment.scorers],
            "cases": cases,
            "repeats": experiment.repeats,
            "runs": len(runs),
        },
        "runs": run_rows,
        "examples": examples,
        "review_agreement": {"reviews": len(reviews), "reviewer_pairs": pairs},
        "verdicts": verdicts,
    }
