"""Statistics for experiment results: pure functions over plain numbers, returned with their breakdowns.

- `wilson_interval` / `proportion`: a pass rate with its 95% Wilson score interval.
- `cohens_kappa`: agreement between two raters (two reviewers, or the judge and a reviewer).
- `percentile` / `latency_percentiles`: p50/p95 with linear interpolation (numpy's default method).
- `consistency`: how stable outcomes are across repeats (all-k-pass rate, flaky cases).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Z_95 = 1.96  # two-sided 95%, the value every textbook table uses


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0.0, 1.0) when there is no data (n=0).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0/n and n/n,
    which is exactly where small experiments land.
    """
    if isinstance(n, bool) or isinstance(successes, bool) or int(n) != n or int(successes) != successes:
        raise ValueError(f"successes and n must be whole numbers, got successes={successes!r}, n={n!r}")
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    if not (z > 0 and math.isfinite(z)):
        raise ValueError(f"z must be a positive number, got {z!r}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Clamp float noise at the edges (0/n must give exactly 0.0, n/n exactly 1.0).
    low = 0.0 if successes == 0 else max(0.0, centre - margin)
    high = 1.0 if successes == n else min(1.0, centre + margin)
    return (low, high)


@dataclass(frozen=True)
class Proportion:
    """k out of n with its Wilson interval; `rate` is None when n is 0."""

    successes: int
    n: int
    rate: float | None
    low: float
    high: float

    def describe(self, what: str = "") -> str:
        prefix = f"{what} " if what else ""
        if self.rate is None:
            return f"{prefix}no data"
        return (
            f"{prefix}{self.successes}/{self.n} = {self.rate:.1%} "
            f"(95% interval {self.low:.1%}–{self.high:.1%})"
        )


def proportion(successes: int, n: int, z: float = Z_95) -> Proportion:
    low, high = wilson_interval(successes, n, z)
    return Proportion(successes=successes, n=n, rate=successes / n if n else None, low=low, high=high)


# --- Cohen's kappa ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KappaResult:
    """κ = (observed − expected) / (1 − expected), with the parts so the UI can show the formula.

    `kappa` is None when it is undefined: both raters used one and the same single category for every
    item, so chance agreement is already 100% (`note` says so; `observed` is still 1.0).
    """

    kappa: float | None
    observed: float  # share of items both raters labelled the same
    expected: float  # agreement expected by chance from each rater's label frequencies
    n: int  # paired items counted
    dropped: int  # pairs left out because one side had no label (None)
    categories: tuple[str, ...]
    note: str = ""

    def formula(self) -> str:
        if self.kappa is None:
            return f"κ undefined: {self.note}"
        return (
            f"κ = (observed {self.observed:.3f} − chance {self.expected:.3f}) / (1 − {self.expected:.3f})"
            f" = {self.kappa:.3f} over {self.n} items"
        )


def cohens_kappa(labels_a: Sequence[Hashable | None], labels_b: Sequence[Hashable | None]) -> KappaResult:
    """Cohen's κ for two raters labelling the same items in the same order.

    Pairs where either rater gave no label (None) are left out and counted in `dropped`, because
    review queues are rarely complete. Raises ValueError when the lists differ in length or no complete
    pair remains.
    """
    labels_a, labels_b = list(labels_a), list(labels_b)
    if len(labels_a) != len(labels_b):
        raise ValueError(
            f"both raters must label the same items: got {len(labels_a)} labels from the first "
            f"and {len(labels_b)} from the second"
        )
    pairs = [(a, b) for a, b in zip(labels_a, labels_b, strict=True) if a is not None and b is not None]
    dropped = len(labels_a) - len(pairs)
    if not pairs:
        raise ValueError(
            "Cohen's kappa needs at least one item labelled by both raters"
            + (f" ({dropped} items had a label from only one of them)" if dropped else " (no items given)")
        )
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    count_a = Counter(a for a, _ in pairs)
    count_b = Counter(b for _, b in pairs)
    categories = tuple(sorted({str(c) for c in count_a} | {str(c) for c in count_b}))
    expected = sum(count_a[c] * count_b[c] for c in count_a) / (n * n)
    if math.isclose(expected, 1.0):
        only = next(iter(count_a))
        return KappaResult(
            kappa=None,
            observed=observed,
            expected=1.0,
            n=n,
            dropped=dropped,
            categories=categories,
            note=f"both raters gave every one of the {n} items the same label {only!r}, so agreement "
            "cannot be told apart from chance",
        )
    kappa = (observed - expected) / (1 - expected)
    return KappaResult(
        kappa=kappa, observed=observed, expected=expected, n=n, dropped=dropped, categories=categories
    )


# --- Percentiles -----------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; None if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q!r}")
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    position = (len(data) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(data) - 1)
    return data[lower] + (data[upper] - data[lower]) * (position - lower)


@dataclass(frozen=True)
class Percentiles:
    n: int
    p50: float | None
    p95: float | None


def latency_percentiles(values: Iterable[float | None]) -> Percentiles:
    """p50 and p95 of the given values (None entries, e.g. failed generations, are skipped)."""
    data = [float(v) for v in values if v is not None]
    return Percentiles(n=len(data), p50=percentile(data, 50), p95=percentile(data, 95))


# --- Consistency across repeats ----------------------------------------------------------------------


@dataclass(frozen=True)
class Consistency:
    """Outcomes of the same cases generated k times.

    A case counts when it has at least one decided outcome; None outcomes (not scored, unparsed) are
    skipped. `all_k_pass_rate` = cases that passed on every repeat / counted cases; flaky cases passed on
    some repeats and failed on others.
    """

    cases: int
    all_pass: int
    any_pass: int
    all_k_pass_rate: float | None
    any_pass_rate: float | None
    flaky_cases: list = field(default_factory=list)
    unscored_cases: list = field(default_factory=list)
    repeats_per_case: dict = field(default_factory=dict)

    @property
    def flaky_rate(self) -> float | None:
        return len(self.flaky_cases) / self.cases if self.cases else None


def consistency(outcomes: Mapping[Hashable, Sequence[bool | None]]) -> Consistency:
    counted = all_pass = any_pass = 0
    flaky: list = []
    unscored: list = []
    repeats: dict = {}
    for case, results in outcomes.items():
        decided = [bool(r) for r in results if r is not None]
        repeats[case] = len(decided)
        if not decided:
            unscored.append(case)
            continue
        counted += 1
        if all(decided):
            all_pass += 1
        if any(decided):
            any_pass += 1
            if not all(decided):
                flaky.append(case)
    return Consistency(
        cases=counted,
        all_pass=all_pass,
        any_pass=any_pass,
        all_k_pass_rate=all_pass / counted if counted else None,
        any_pass_rate=any_pass / counted if counted else None,
        flaky_cases=flaky,
        unscored_cases=unscored,
        repeats_per_case=repeats,
    )
