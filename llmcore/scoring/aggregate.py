"""Combining the scores of one output into a weighted score and an overall pass.

Weighted score: Σ weight × value / Σ weight over results that have a value (status "scored") and a
weight above 0. Unparsed and errored results are left out of both sums (they neither count as 0 nor
as 1) and listed in `skipped`. None when nothing is left.

Overall pass, over the results whose scorer has a threshold ("gating" results; scorers without a
threshold are informative only):
- False if any gating result failed;
- otherwise None (undecided) if any gating result is unparsed or errored, because an output we
  could not judge is neither a pass nor a fail; the runner counts it as not scored;
- otherwise True if at least one gating result passed;
- None if no result gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import ScoreResult, ScoreStatus


def weighted_score(results: Sequence[ScoreResult]) -> float | None:
    return aggregate(results).weighted_score


def overall_pass(results: Sequence[ScoreResult]) -> bool | None:
    return aggregate(results).passed


@dataclass(frozen=True)
class Aggregate:
    weighted_score: float | None
    passed: bool | None
    used: tuple[ScoreResult, ...]
    skipped: tuple[ScoreResult, ...]
    failed: tuple[ScoreResult, ...]
    undecided: tuple[ScoreResult, ...]

    def formula(self) -> str:
        if self.weighted_score is None:
            return "no scored results to weigh"
        terms = " + ".join(f"{r.weight:g} × {r.value:.3f} ({r.scorer})" for r in self.used)
        total = sum(r.weight for r in self.used)
        text = f"({terms}) / {total:g} = {self.weighted_score:.3f}"
        if self.skipped:
            text += "; left out (not scored): " + ", ".join(f"{r.scorer} ({r.status})" for r in self.skipped)
        return text


def aggregate(results: Sequence[ScoreResult]) -> Aggregate:
    used = tuple(
        r for r in results if r.status == ScoreStatus.SCORED and r.value is not None and r.weight > 0
    )
    skipped = tuple(r for r in results if r.status != ScoreStatus.SCORED or r.value is None)
    total = sum(r.weight for r in used)
    score = sum(r.weight * r.value for r in used) / total if total > 0 else None  # type: ignore[operator]

    gating = [r for r in results if r.gates]
    failed = tuple(r for r in gating if r.passed is False)
    undecided = tuple(r for r in gating if r.passed is None)
    if failed:
        passed: bool | None = False
    elif undecided or not gating:
        passed = None
    else:
        passed = True
    return Aggregate(
        weighted_score=score, passed=passed, used=used, skipped=skipped, failed=failed, undecided=undecided
    )
