"""Human review figures as pure functions: acceptance rates, reviewer agreement, scorer-vs-people
agreement, and how outputs are shared out among reviewers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations

from llmcore.stats import KappaResult, Proportion, cohens_kappa, proportion

ACCEPT, MINOR_EDIT, REJECT = "accept", "minor_edit", "reject"


@dataclass(frozen=True)
class Acceptance:
    reviews: int
    accepted: Proportion  # accepted as is
    usable: Proportion  # accepted as is or after a minor edit

    @property
    def accepted_percent(self) -> str:
        return "" if self.accepted.rate is None else f"{self.accepted.rate:.0%}"

    @property
    def usable_percent(self) -> str:
        return "" if self.usable.rate is None else f"{self.usable.rate:.0%}"


def acceptance(verdicts: Sequence[str]) -> Acceptance:
    n = len(verdicts)
    accepted = sum(1 for v in verdicts if v == ACCEPT)
    usable = sum(1 for v in verdicts if v in (ACCEPT, MINOR_EDIT))
    return Acceptance(reviews=n, accepted=proportion(accepted, n), usable=proportion(usable, n))


@dataclass(frozen=True)
class PairAgreement:
    first: Hashable
    second: Hashable
    result: KappaResult


def reviewer_agreement(reviews: Sequence[tuple[Hashable, Hashable, str]]) -> list[PairAgreement]:
    """Cohen's κ for every pair of reviewers over the outputs both reviewed.
    `reviews` holds (output, reviewer, verdict)."""
    by_reviewer: dict[Hashable, dict[Hashable, str]] = defaultdict(dict)
    for output, reviewer, verdict in reviews:
        by_reviewer[reviewer][output] = verdict
    pairs = []
    for first, second in combinations(sorted(by_reviewer, key=str), 2):
        common = sorted(set(by_reviewer[first]) & set(by_reviewer[second]), key=str)
        if not common:
            continue
        result = cohens_kappa(
            [by_reviewer[first][o] for o in common], [by_reviewer[second][o] for o in common]
        )
        pairs.append(PairAgreement(first, second, result))
    return pairs


def scorer_agreement(pairs: Sequence[tuple[bool | None, str]]) -> KappaResult | None:
    """κ between an automatic pass/fail and people (accept or minor edit counts as a pass).
    `pairs` holds (automatic pass, human verdict); undecided automatic outcomes are left out."""
    decided = [(auto, verdict) for auto, verdict in pairs if auto is not None]
    if not decided:
        return None
    return cohens_kappa(
        ["pass" if auto else "fail" for auto, _ in decided],
        ["pass" if verdict in (ACCEPT, MINOR_EDIT) else "fail" for _, verdict in decided],
    )


def share_out(outputs: Sequence[Hashable], reviewers: Sequence[Hashable], per_output: int) -> list[tuple]:
    """(output, reviewer) pairs: each output goes to `per_output` different reviewers, in turn, so the
    work is even and every pair of reviewers shares some outputs when per_output ≥ 2."""
    if not reviewers:
        return []
    per_output = max(1, min(per_output, len(reviewers)))
    return [
        (output, reviewers[(index + offset) % len(reviewers)])
        for index, output in enumerate(outputs)
        for offset in range(per_output)
    ]
