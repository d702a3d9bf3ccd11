"""Results of runs as pure functions over plain rows: pass rate with its 95% Wilson interval, mean
weighted score, latency percentiles, tokens, cost per 1,000 cases, consistency across repeats, side by
side differences and a comparison against a baseline run. No ORM here; views fetch the rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from llmcore.stats import Consistency, Percentiles, Proportion, consistency, latency_percentiles, proportion


@dataclass(frozen=True)
class Row:
    """One generation, as the results need it."""

    run_id: int
    case_id: int  # the stable case (TestCase), so runs on different case versions still line up
    repeat: int
    passed: bool | None
    weighted_score: float | None
    latency_s: float
    tokens_in: int
    tokens_out: int
    cost: Decimal
    error: str = ""
    text: str = ""


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    total: int  # cases × repeats planned
    generated: int
    errors: int
    pass_rate: Proportion  # passed / decided (scored with a pass or fail)
    undecided: int  # generated without a pass or fail: errors, unparsed, no gating scorer
    mean_score: float | None
    latency: Percentiles
    mean_tokens_in: float | None
    mean_tokens_out: float | None
    cost: Decimal
    cost_per_1000: Decimal | None
    consistency: Consistency

    @property
    def pass_formula(self) -> str:
        return self.pass_rate.describe("passed")

    @property
    def pass_percent(self) -> str:
        return "" if self.pass_rate.rate is None else f"{self.pass_rate.rate:.0%}"

    @property
    def interval_label(self) -> str:
        return f"{self.pass_rate.low:.0%}–{self.pass_rate.high:.0%}"

    @property
    def all_pass_percent(self) -> str:
        rate = self.consistency.all_k_pass_rate
        return "" if rate is None else f"{rate:.0%}"


def summarise_run(run_id: int, total: int, rows: list[Row]) -> RunSummary:
    decided = [r for r in rows if r.passed is not None]
    passed = sum(1 for r in decided if r.passed)
    scores = [r.weighted_score for r in rows if r.weighted_score is not None]
    ok = [r for r in rows if not r.error]
    cost = sum((r.cost for r in rows), Decimal(0))
    outcomes: dict[int, list[bool | None]] = defaultdict(list)
    for r in rows:
        outcomes[r.case_id].append(r.passed)
    return RunSummary(
        run_id=run_id,
        total=total,
        generated=len(rows),
        errors=len(rows) - len(ok),
        pass_rate=proportion(passed, len(decided)),
        undecided=len(rows) - len(decided),
        mean_score=sum(scores) / len(scores) if scores else None,
        latency=latency_percentiles(r.latency_s for r in ok),
        mean_tokens_in=sum(r.tokens_in for r in ok) / len(ok) if ok else None,
        mean_tokens_out=sum(r.tokens_out for r in ok) / len(ok) if ok else None,
        cost=cost,
        cost_per_1000=(cost / len(rows) * 1000) if rows else None,
        consistency=consistency(outcomes),
    )


def summarise(totals: dict[int, int], rows: list[Row]) -> dict[int, RunSummary]:
    """One summary per run id in `totals` (runs without rows get empty summaries)."""
    by_run: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(row)
    return {run_id: summarise_run(run_id, total, by_run.get(run_id, [])) for run_id, total in totals.items()}


# Side by side -------------------------------------------------------------------------------------


def case_outcome(results: list[bool | None]) -> bool | None:
    """A case passes in a run when every decided repeat passed; None when none was decided."""
    decided = [r for r in results if r is not None]
    if not decided:
        return None
    return all(decided)


def differing_cases(rows: list[Row]) -> set[int]:
    """Cases whose outcome (pass / fail) or, when unscored, whose output text differs between runs."""
    outcomes: dict[int, dict[int, list[bool | None]]] = defaultdict(lambda: defaultdict(list))
    texts: dict[int, set[str]] = defaultdict(set)
    for r in rows:
        outcomes[r.case_id][r.run_id].append(r.passed)
        texts[r.case_id].add(r.error and f"error: {r.error}" or r.text.strip())
    differing = set()
    for case_id, per_run in outcomes.items():
        results = {case_outcome(v) for v in per_run.values()}
        decided = results - {None}
        if len(decided) > 1 or (not decided and len(texts[case_id]) > 1):
            differing.add(case_id)
    return differing


# Against a baseline ------------------------------------------------------------------------------


@dataclass
class BaselineComparison:
    improved: list[int] = field(default_factory=list)  # case ids: failed in the baseline, pass now
    regressed: list[int] = field(default_factory=list)  # passed in the baseline, fail now
    same_pass: list[int] = field(default_factory=list)
    same_fail: list[int] = field(default_factory=list)
    not_comparable: list[int] = field(default_factory=list)  # undecided or missing on one side

    @property
    def compared(self) -> int:
        return len(self.improved) + len(self.regressed) + len(self.same_pass) + len(self.same_fail)


def compare_to_baseline(rows: list[Row], baseline_rows: list[Row]) -> BaselineComparison:
    def outcomes(items: list[Row]) -> dict[int, bool | None]:
        per_case: dict[int, list[bool | None]] = defaultdict(list)
        for r in items:
            per_case[r.case_id].append(r.passed)
        return {case_id: case_outcome(v) for case_id, v in per_case.items()}

    now, before = outcomes(rows), outcomes(baseline_rows)
    result = BaselineComparison()
    for case_id in sorted(set(now) | set(before)):
        a, b = now.get(case_id), before.get(case_id)
        if a is None or b is None:
            result.not_comparable.append(case_id)
        elif a and not b:
            result.improved.append(case_id)
        elif b and not a:
            result.regressed.append(case_id)
        elif a:
            result.same_pass.append(case_id)
        else:
            result.same_fail.append(case_id)
    return result
