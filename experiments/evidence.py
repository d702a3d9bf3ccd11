"""Each run's evidence for the feasibility rules, as RunEvidence (experiments/run_evidence.py).

Counts: automatically scored outputs with a decided pass/fail, those that passed, and human reviews by
verdict with the number of distinct reviewers and Cohen's κ between the scorer and the reviewers; cost
per 1,000 cases; the p95 latency of a single request from the run's sample (experiments/latency.py) and
the p95 of the outputs' time inside their batches. Four queries for any number of runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Q, Sum

from llmcore.stats import latency_percentiles

from .latency import p95_of
from .models import Generation, HumanReview, Run
from .reviewing import scorer_agreement
from .run_evidence import RunEvidence


def _evidence(
    totals: dict, reviews: list[tuple], latencies: Iterable[float | None], single_latency: dict | None
) -> RunEvidence:
    """`reviews` holds (automatic pass, verdict, reviewer id) per human review of the run."""
    outputs = totals.get("outputs", 0)
    cost = totals.get("cost") or Decimal(0)
    verdicts: dict[str, int] = defaultdict(int)
    for _, verdict, _ in reviews:
        verdicts[verdict] += 1
    agreement = scorer_agreement([(passed, verdict) for passed, verdict, _ in reviews])
    return RunEvidence(
        cases_scored=totals.get("scored", 0),
        cases_passed=totals.get("passed", 0),
        reviews_accepted=verdicts.get("accept", 0),
        reviews_minor_edit=verdicts.get("minor_edit", 0),
        reviews_rejected=verdicts.get("reject", 0),
        cost_per_1k_cases=float(cost / outputs * 1000) if outputs else None,
        p95_latency_s=p95_of(single_latency),
        batch_p95_latency_s=latency_percentiles(latencies).p95,
        reviewers=len({reviewer for _, _, reviewer in reviews if reviewer is not None}),
        scorer_kappa=None if agreement is None else agreement.kappa,
        scorer_kappa_n=0 if agreement is None else agreement.n,
    )


def evidence_by_run(run_ids: Iterable[int]) -> dict[int, RunEvidence]:
    """{run id: RunEvidence} for every given run (runs without outputs included)."""
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
    reviews: dict[int, list[tuple]] = defaultdict(list)
    for run_id, passed, verdict, reviewer in HumanReview.objects.filter(
        generation__run_id__in=run_ids
    ).values_list("generation__run_id", "generation__passed", "verdict", "reviewer_id"):
        reviews[run_id].append((passed, verdict, reviewer))
    single = dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "single_latency"))
    return {
        run_id: _evidence(
            totals.get(run_id, {}), reviews.get(run_id, []), latencies.get(run_id, []), single.get(run_id)
        )
        for run_id in run_ids
    }
