"""A task's feasibility verdict: a pure function of its experiment evidence, the team's thresholds and
the PM's rubric answer, returned with its reasons (numbers included) and a headline score.

Rules (version `feasibility-2`), with the default thresholds in brackets:

- **untested**: no automatically scored case and no human review.
- **automation-ready** needs all of:
  1. at least `min_cases` [30] automatically scored cases, and the 95% Wilson lower bound of their
     pass rate ≥ `automation_pass_lower` [0.90];
  2. at least `min_cases` [30] human-reviewed outputs, and the share reviewers *accepted as is*
     ≥ `automation_acceptance` [0.90]. This is the point estimate, as issue 4 states it ("human
     acceptance ≥ 0.90 on at least 30 cases"): the interval is already demanded of the pass rate,
     and a 90% Wilson lower bound would need at least 35 flawless reviews, making the 30-case
     floor meaningless;
  3. reviews from at least `min_reviewers_automation` [2] different people: one person's "accept"s
     are one opinion, however many there are;
  4. the augmentation bar below (automating is a stronger claim than assisting);
  5. the cost and latency limits, when the team set them (the latency limit reads the p95 of single
     requests, what a user waits for one call, not the time of an output inside a batch);
  6. a rubric answer other than "no".
- **augmentation-ready** needs the 95% Wilson lower bound of accepted-or-minor-edit reviews
  ≥ `augmentation_lower` [0.60] (no minimum count of its own: the lower bound already punishes small
  samples — 6 good reviews out of 6 are the fewest that pass), reviews from at least
  `min_reviewers_augmentation` [1] different people, and the cost and latency limits.
  Without human reviews a task cannot be augmentation-ready: people must have judged its outputs.
- **not-yet**: evidence exists but does not meet the augmentation bar.

The rubric question — "could a capable new graduate do this task by following written instructions,
with no extra context and no memory of earlier work?" — answered **"no"** caps the verdict at
augmentation-ready: such a task needs context or judgement a model will not have on its own, so a
person stays in the loop whatever the scores say. "yes" or unanswered (None) does not change it.

A task linked to several experiments has one candidate configuration per run (prompt version × model
× parameters). Each run is judged on its own evidence — pooling a weak prompt's outputs with a strong
one's would describe neither — and the task takes the **best run's** verdict (`best_run`): the highest
verdict, then the highest headline feasibility, then the most scored cases.

A verdict resting on reviews that disagree with the automatic scorer (Cohen's κ between the scorer's
pass/fail and the reviewers' verdicts below `min_scorer_kappa` [0.4, "moderate agreement"]) carries a
warning: either the scorer or the reviewers measure something else, and the verdict should not be
trusted until someone looks. The warning does not change the verdict.

Headline feasibility (the prioritisation matrix's x-axis, 0..1) is the figure that decided the verdict,
so the matrix places a task by the same evidence as its verdict (`basis` names it):
- automation-ready: the weaker of the automatic pass rate's and the accept-or-minor-edit rate's 95%
  lower bounds (automation needs both);
- augmentation-ready, and not-yet with human reviews: the accept-or-minor-edit rate's 95% lower bound
  (the augmentation bar, met or missed);
- not-yet without human reviews: the automatic pass rate's 95% lower bound.
None when untested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from experiments.run_evidence import RunEvidence
from llmcore.stats import Proportion, proportion

RULES_VERSION = "feasibility-2"

# The values of opportunities.models.Verdict, repeated so this module never needs Django's app
# registry; tests/opportunities/test_feasibility.py checks that they match.
AUTOMATION_READY = "automation-ready"
AUGMENTATION_READY = "augmentation-ready"
NOT_YET = "not-yet"
UNTESTED = "untested"
VERDICTS = (AUTOMATION_READY, AUGMENTATION_READY, NOT_YET, UNTESTED)

RUBRIC_QUESTION = (
    "Could a capable new graduate do this task by following written instructions, "
    "with no extra context and no memory of earlier work?"
)


@dataclass(frozen=True)
class Thresholds:
    min_cases: int = 30
    automation_pass_lower: float = 0.90
    automation_acceptance: float = 0.90
    augmentation_lower: float = 0.60
    max_cost_per_1k_cases: float | None = None
    max_p95_latency_s: float | None = None
    min_reviewers_automation: int = 2
    min_reviewers_augmentation: int = 1
    min_scorer_kappa: float | None = 0.4

    def __post_init__(self):
        for name in ("min_cases", "min_reviewers_automation", "min_reviewers_augmentation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of 1 or more, got {value!r}")
        if self.min_scorer_kappa is not None and not (
            isinstance(self.min_scorer_kappa, int | float) and -1 <= self.min_scorer_kappa <= 1
        ):
            raise ValueError(
                f"min_scorer_kappa must be between -1 and 1 (or empty for no warning), got {self.min_scorer_kappa!r}"
            )
        for name in ("automation_pass_lower", "automation_acceptance", "augmentation_lower"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in ("max_cost_per_1k_cases", "max_p95_latency_s"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(f"{name} must be 0 or more (or empty for no limit), got {value!r}")


@dataclass(frozen=True)
class VerdictResult:
    verdict: str
    reasons: list[str]
    feasibility: float | None  # headline 0..1 for the matrix; None when untested
    rules_version: str = RULES_VERSION
    pass_rate: Proportion | None = None
    acceptance: Proportion | None = None
    accept_or_edit: Proportion | None = None
    checks: dict[str, bool] = field(default_factory=dict)  # named rule → met, for the UI's checklist
    basis: str = ""  # which figure `feasibility` is (see the module's docstring)
    warnings: list[str] = field(default_factory=list)  # shown with the verdict; they do not change it


BASIS_BOTH = "weaker of the pass-rate and accept-or-edit lower bounds"
BASIS_ACCEPT_OR_EDIT = "accept-or-minor-edit rate, 95% lower bound"
BASIS_PASS_RATE = "automatic pass rate, 95% lower bound"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def verdict(
    evidence: RunEvidence, thresholds: Thresholds | None = None, rubric_answer: str | None = None
) -> VerdictResult:
    thresholds = thresholds or Thresholds()
    if rubric_answer not in (None, "yes", "no"):
        raise ValueError(f"rubric_answer must be 'yes', 'no' or None (unanswered), got {rubric_answer!r}")
    t = thresholds
    n, reviews = evidence.cases_scored, evidence.reviews

    if n == 0 and reviews == 0:
        return VerdictResult(
            verdict=UNTESTED,
            reasons=["No evidence yet: no scored experiment outputs and no human reviews."],
            feasibility=None,
        )

    reasons: list[str] = []
    warnings: list[str] = []
    checks: dict[str, bool] = {}

    # Automatic pass rate.
    pass_rate = proportion(evidence.cases_passed, n) if n else None
    if pass_rate is None:
        checks["automation_pass"] = False
        reasons.append("No automatically scored cases: automation needs a measured pass rate.")
    else:
        enough = n >= t.min_cases
        high = pass_rate.low >= t.automation_pass_lower
        checks["automation_pass"] = enough and high
        text = f"Automatic pass rate {pass_rate.describe()}."
        if not enough:
            text += f" Automation needs at least {t.min_cases} scored cases; {n} so far."
        else:
            relation = "meets" if high else "is below"
            text += f" Its lower bound {_pct(pass_rate.low)} {relation} the automation bar of {_pct(t.automation_pass_lower)}."
        reasons.append(text)

    # Human reviews.
    acceptance = proportion(evidence.reviews_accepted, reviews) if reviews else None
    accept_or_edit = (
        proportion(evidence.reviews_accepted + evidence.reviews_minor_edit, reviews) if reviews else None
    )
    if acceptance is None or accept_or_edit is None:
        checks["automation_acceptance"] = checks["augmentation"] = checks["reviewers_automation"] = False
        reasons.append(
            "No human reviews yet: augmentation and automation both need people to judge the outputs "
            "(accept, minor edit or reject)."
        )
    else:
        enough = reviews >= t.min_cases
        accepted = acceptance.rate >= t.automation_acceptance  # type: ignore[operator]
        checks["automation_acceptance"] = enough and accepted
        text = (
            f"Human reviewers accepted {evidence.reviews_accepted} of {reviews} outputs as is "
            f"({_pct(acceptance.rate)}), {evidence.reviews_minor_edit} with minor edits, "  # type: ignore[arg-type]
            f"rejected {evidence.reviews_rejected}."
        )
        if not enough:
            text += f" Automation needs at least {t.min_cases} reviewed outputs; {reviews} so far."
        else:
            relation = "meets" if accepted else "is below"
            text += f" Acceptance {relation} the automation bar of {_pct(t.automation_acceptance)}."
        reasons.append(text)
        augment_ok = accept_or_edit.low >= t.augmentation_lower
        relation = "meets" if augment_ok else "is below"
        reasons.append(
            f"Accepted or minor edit {accept_or_edit.describe()}; its lower bound {_pct(accept_or_edit.low)} "
            f"{relation} the augmentation bar of {_pct(t.augmentation_lower)}."
        )
        people = evidence.reviewers
        checks["reviewers_automation"] = people >= t.min_reviewers_automation
        checks["reviewers_augmentation"] = people >= t.min_reviewers_augmentation
        checks["augmentation"] = augment_ok and checks["reviewers_augmentation"]
        text = f"Reviewed by {people} different {'person' if people == 1 else 'people'}."
        missing = [
            f"{label} needs at least {need}"
            for label, need, met in (
                ("Augmentation", t.min_reviewers_augmentation, checks["reviewers_augmentation"]),
                ("Automation", t.min_reviewers_automation, checks["reviewers_automation"]),
            )
            if not met
        ]
        if missing:
            text += " " + "; ".join(missing) + " (one person's verdicts are one opinion, however many)."
        reasons.append(text)
        if evidence.scorer_kappa is not None and evidence.scorer_kappa_n:
            kappa = evidence.scorer_kappa
            agreement = (
                f"Reviewers and the automatic scorer agree with κ = {kappa:.2f} over "
                f"{evidence.scorer_kappa_n} output{'s' if evidence.scorer_kappa_n != 1 else ''}"
            )
            if t.min_scorer_kappa is not None and kappa < t.min_scorer_kappa:
                warnings.append(
                    f"{agreement}, below the {t.min_scorer_kappa:g} the team expects: the reviews this verdict "
                    "rests on disagree with the scorer; check the scorer or the review guidance before trusting it."
                )
            reasons.append(agreement + ".")

    # Cost and latency limits (checked only when the team set them).
    limits_ok = True
    for key, limit, value, label, unit in (
        ("cost", t.max_cost_per_1k_cases, evidence.cost_per_1k_cases, "Cost per 1,000 cases", ""),
        ("latency", t.max_p95_latency_s, evidence.p95_latency_s, "p95 latency of a single request", " s"),
    ):
        if limit is None:
            continue
        if value is None:
            reasons.append(f"{label} is unknown, so the limit of {limit:g}{unit} was not checked.")
            continue
        ok = value <= limit
        checks[key] = ok
        limits_ok = limits_ok and ok
        reasons.append(
            f"{label} {value:,.4g}{unit} is {'within' if ok else 'over'} the limit of {limit:g}{unit}."
        )

    # Rubric.
    capped = rubric_answer == "no"
    checks["rubric"] = not capped
    if capped:
        reasons.append(
            "The PM answered no to the rubric question (a capable new graduate could not do it from written "
            "instructions alone), so the verdict is capped at augmentation-ready: a person stays in the loop."
        )
    elif rubric_answer == "yes":
        reasons.append("The PM answered yes to the rubric question, so it does not limit the verdict.")
    else:
        reasons.append(
            "The rubric question is unanswered; it would cap the verdict at augmentation-ready if answered no."
        )

    augmentation = checks["augmentation"] and limits_ok
    automation = (
        augmentation
        and checks["automation_pass"]
        and checks["automation_acceptance"]
        and checks["reviewers_automation"]
        and not capped
    )
    if automation:
        result = AUTOMATION_READY
    elif augmentation:
        result = AUGMENTATION_READY
    else:
        result = NOT_YET

    if result == AUTOMATION_READY:
        headline, basis = min(pass_rate.low, accept_or_edit.low), BASIS_BOTH  # type: ignore[union-attr]
    elif accept_or_edit is not None:
        headline, basis = accept_or_edit.low, BASIS_ACCEPT_OR_EDIT
    else:
        headline, basis = pass_rate.low, BASIS_PASS_RATE  # type: ignore[union-attr]
    return VerdictResult(
        verdict=result,
        reasons=reasons,
        feasibility=headline,
        basis=basis,
        warnings=warnings,
        pass_rate=pass_rate,
        acceptance=acceptance,
        accept_or_edit=accept_or_edit,
        checks=checks,
    )


_RANK = {AUTOMATION_READY: 3, AUGMENTATION_READY: 2, NOT_YET: 1, UNTESTED: 0}


def best_run(results: list[tuple[VerdictResult, RunEvidence]]) -> int | None:
    """Index of the deciding run among (verdict, evidence) pairs, None when there are none."""
    if not results:
        return None

    def key(index: int):
        result, evidence = results[index]
        feasibility = -1.0 if result.feasibility is None else result.feasibility
        return (_RANK[result.verdict], feasibility, evidence.cases_scored + evidence.reviews, -index)

    return max(range(len(results)), key=key)
