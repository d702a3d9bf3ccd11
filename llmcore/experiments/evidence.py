"""Evidence of runs for a feasibility verdict, in the shape of opportunities.feasibility's
FeasibilityEvidence (this app must not import opportunities, so plain dicts with the same keys):

    FeasibilityEvidence(**run_evidence([run.pk, ...]))

Counts: automatically scored outputs with a decided pass/fail, those that passed, and human reviews by
verdict; cost per 1,000 cases and p95 latency over the runs' error-free outputs. Three queries.
`evidence_by_run` gives the same per run, for many runs, in three queries too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Q, Sum

from llmcore.stats import latency_percentiles

from .models import Generation, HumanReview


def run_evidence(run_ids: Iterable[int]) -> dict:
    run_ids = list(run_ids)
    generations = Generation.objects.filter(run_id__in=run_ids)
    totals = generations.aggregate(
        outputs=Count("id"),
        scored=Count("id", filter=Q(passed__isnull=False)),
        passed=Count("id", filter=Q(passed=True)),
        cost=Sum("cost"),
    )
    latencies = generations.filter(error="").values_list("latency_s", flat=True)
    verdicts = dict(
        HumanReview.objects.filter(generation__run_id__in=run_ids)
        .values_list("verdict")
        .annotate(n=Count("id"))
        .values_list("verdict", "n")
    )
    return _evidence(totals, verdicts, latencies)


def _evidence(totals: dict, verdicts: dict[str, int], latencies: Iterable[float | None]) -> dict:
    """FeasibilityEvidence's keyword arguments from output totals, review counts and latencies."""
    outputs = totals.get("outputs", 0)
    cost = totals.get("cost") or Decimal(0)
    return {
        "cases_scored": totals.get("scored", 0),
        "cases_passed": totals.get("passed", 0),
        "reviews_accepted": verdicts.get("accept", 0),
        "reviews_minor_edit": verdicts.get("minor_edit", 0),
        "reviews_rejected": verdicts.get("reject", 0),
        "cost_per_1k_cases": float(cost / outputs * 1000) if outputs else None,
        "p95_latency_s": latency_percentiles(latencies).p95,
    }


def evidence_by_run(run_ids: Iterable[int]) -> dict[int, dict]:
    """{run id: run_evidence-shaped dict} for every given run (runs without outputs included)."""
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    totals = {
        row["run_id"]: row
        for row in Generation.objects.filter(run_id__in=run_ids)
        .values("run_id")
        .annotate(
            outputs=Count("id"),
            scored=Count("id", filter=Q(passed__isnull=False)),
            passed=Count("id", filter=Q(passed=True)),
            cost=Sum("cost"),
        )
    }
    latencies: dict[int, list[float]] = defaultdict(list)
    for run_id, latency in Generation.objects.filter(run_id__in=run_ids, error="").values_list(
        "run_id", "latency_s"
    ):
        latencies[run_id].append(latency)
    verdicts: dict[int, dict[str, int]] = defaultdict(dict)
    for run_id, verdict, n in (
        HumanReview.objects.filter(generation__run_id__in=run_ids)
        .values_list("generation__run_id", "verdict")
        .annotate(n=Count("id"))
        .values_list("generation__run_id", "verdict", "n")
    ):
        verdicts[run_id][verdict] = n
    return {
        run_id: _evidence(totals.get(run_id, {}), verdicts.get(run_id, {}), latencies.get(run_id, []))
        for run_id in run_ids
    }
