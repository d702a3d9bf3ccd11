"""The evidence a run carries to the feasibility rules, as plain values (no ORM), so the rules stay
pure functions and both sides share one definition."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RunEvidence:
    """What one run (prompt version × model × parameters) has shown: the contract between experiments,
    which measure it (experiments.evidence.evidence_by_run), and the feasibility rules, which judge it
    (opportunities.feasibility.verdict). Validated on creation."""

    cases_scored: int = 0  # generations with a decided overall pass (unparsed/error ones excluded)
    cases_passed: int = 0
    reviews_accepted: int = 0
    reviews_minor_edit: int = 0
    reviews_rejected: int = 0
    cost_per_1k_cases: float | None = None
    # What a user waits for one call: p95 over the run's sample of single requests (experiments/latency.py);
    # None until it is measured. The latency limit reads this one.
    p95_latency_s: float | None = None
    # p95 of the outputs' time inside their batch (up to ASSAY_EXPERIMENT_BATCH_ITEMS at once): shown,
    # never compared with the limit.
    batch_p95_latency_s: float | None = None
    # Distinct people whose reviews these are (reviews of deleted accounts are not counted).
    reviewers: int = 0
    # Cohen's κ between the automatic pass/fail and the reviewers (accept or minor edit = pass), over
    # the reviewed outputs with a decided automatic outcome; None when there are none or κ is undefined.
    scorer_kappa: float | None = None
    scorer_kappa_n: int = 0

    def __post_init__(self):
        for name in (
            "cases_scored",
            "cases_passed",
            "reviews_accepted",
            "reviews_minor_edit",
            "reviews_rejected",
            "reviewers",
            "scorer_kappa_n",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of 0 or more, got {value!r}")
        if self.cases_passed > self.cases_scored:
            raise ValueError(
                f"cases_passed ({self.cases_passed}) cannot exceed cases_scored ({self.cases_scored})"
            )
        for name in ("cost_per_1k_cases", "p95_latency_s", "batch_p95_latency_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be 0 or more, got {value!r}")
        if self.scorer_kappa is not None and not (
            math.isfinite(self.scorer_kappa) and -1 <= self.scorer_kappa <= 1
        ):
            raise ValueError(f"scorer_kappa must be between -1 and 1, got {self.scorer_kappa!r}")

    @property
    def reviews(self) -> int:
        return self.reviews_accepted + self.reviews_minor_edit + self.reviews_rejected
