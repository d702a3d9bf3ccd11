from __future__ import annotations

import pytest

from experiments.run_evidence import RunEvidence
from opportunities.feasibility import (
    AUGMENTATION_READY,
    AUTOMATION_READY,
    NOT_YET,
    RULES_VERSION,
    UNTESTED,
    VERDICTS,
    Thresholds,
    verdict,
)
from opportunities.models import Verdict


def evidence(scored=40, passed=40, accepted=30, minor=0, rejected=0, **extra) -> RunEvidence:
    if accepted + minor + rejected:
        extra.setdefault("reviewers", 2)
    return RunEvidence(
        cases_scored=scored,
        cases_passed=passed,
        reviews_accepted=accepted,
        reviews_minor_edit=minor,
        reviews_rejected=rejected,
        **extra,
    )


def test_the_verdict_values_match_the_task_model_choices():
    assert set(VERDICTS) == set(Verdict.values)
    assert AUTOMATION_READY == Verdict.AUTOMATION_READY
    assert NOT_YET == Verdict.NOT_YET


def test_no_evidence_is_untested_with_no_headline_score():
    result = verdict(RunEvidence(), Thresholds())
    assert result.verdict == UNTESTED
    assert result.feasibility is None
    assert result.reasons == ["No evidence yet: no scored experiment outputs and no human reviews."]
    assert result.rules_version == RULES_VERSION


def test_strong_evidence_is_automation_ready_and_explains_itself_with_numbers():
    result = verdict(evidence(scored=40, passed=40, accepted=30), Thresholds(), "yes")
    assert result.verdict == AUTOMATION_READY
    assert result.reasons[0] == (
        "Automatic pass rate 40/40 = 100.0% (95% interval 91.2%–100.0%). "
        "Its lower bound 91.2% meets the automation bar of 90.0%."
    )
    assert "accepted 30 of 30 outputs as is (100.0%)" in result.reasons[1]
    assert result.checks == {
        "automation_pass": True,
        "automation_acceptance": True,
        "augmentation": True,
        "reviewers_automation": True,
        "reviewers_augmentation": True,
        "rubric": True,
    }


class TestAutomationBoundaries:
    def test_the_pass_rate_lower_bound_decides_35_of_35_passes_34_of_34_does_not(self):
        # Wilson lower bounds: 35/35 → 0.901, 34/34 → 0.898.
        assert verdict(evidence(scored=35, passed=35)).verdict == AUTOMATION_READY
        below = verdict(evidence(scored=34, passed=34))
        assert below.verdict == AUGMENTATION_READY
        assert "lower bound 89.8% is below the automation bar of 90.0%" in below.reasons[0]

    def test_a_high_pass_rate_on_too_few_cases_is_not_enough(self):
        lenient = Thresholds(automation_pass_lower=0.85)  # 29/29 and 30/30 both have lower bounds above 0.85
        assert verdict(evidence(scored=30, passed=30), lenient).verdict == AUTOMATION_READY
        result = verdict(evidence(scored=29, passed=29), lenient)
        assert result.verdict == AUGMENTATION_READY
        assert "Automation needs at least 30 scored cases; 29 so far." in result.reasons[0]

    def test_human_acceptance_needs_30_reviewed_outputs(self):
        assert verdict(evidence(accepted=30)).verdict == AUTOMATION_READY
        result = verdict(evidence(accepted=29))
        assert result.verdict == AUGMENTATION_READY
        assert "Automation needs at least 30 reviewed outputs; 29 so far." in result.reasons[1]

    def test_human_acceptance_is_the_share_accepted_as_is_at_90_percent(self):
        assert verdict(evidence(accepted=27, minor=3)).verdict == AUTOMATION_READY
        result = verdict(evidence(accepted=26, minor=4))
        assert result.verdict == AUGMENTATION_READY
        assert "accepted 26 of 30 outputs as is (86.7%), 4 with minor edits" in result.reasons[1]
        assert "Acceptance is below the automation bar of 90.0%." in result.reasons[1]

    def test_automation_needs_automatic_scores_as_well_as_reviews(self):
        result = verdict(evidence(scored=0, passed=0, accepted=40))
        assert result.verdict == AUGMENTATION_READY
        assert "No automatically scored cases" in result.reasons[0]


class TestAugmentationBoundaries:
    def test_six_good_reviews_of_six_clear_the_60_percent_lower_bound_five_do_not(self):
        # Wilson lower bounds: 6/6 → 0.610, 5/5 → 0.566.
        assert verdict(evidence(scored=0, passed=0, accepted=2, minor=4)).verdict == AUGMENTATION_READY
        result = verdict(evidence(scored=0, passed=0, accepted=1, minor=4))
        assert result.verdict == NOT_YET
        assert "lower bound 56.6% is below the augmentation bar of 60.0%" in result.reasons[-3]

    def test_many_rejections_mean_not_yet(self):
        result = verdict(evidence(scored=40, passed=20, accepted=10, minor=10, rejected=20))
        assert result.verdict == NOT_YET
        assert "Accepted or minor edit 20/40 = 50.0%" in result.reasons[2]

    def test_a_perfect_pass_rate_without_reviews_is_not_yet(self):
        result = verdict(evidence(scored=100, passed=100, accepted=0))
        assert result.verdict == NOT_YET
        assert any("No human reviews yet" in r for r in result.reasons)


class TestRubric:
    def test_a_no_caps_strong_evidence_at_augmentation(self):
        result = verdict(evidence(), Thresholds(), "no")
        assert result.verdict == AUGMENTATION_READY
        assert result.checks["rubric"] is False
        assert "capped at augmentation-ready" in result.reasons[-1]

    def test_a_no_does_not_raise_weak_evidence(self):
        assert (
            verdict(evidence(scored=40, passed=10, accepted=1, rejected=20), rubric_answer="no").verdict
            == NOT_YET
        )

    def test_unanswered_does_not_cap_but_is_mentioned(self):
        result = verdict(evidence(), rubric_answer=None)
        assert result.verdict == AUTOMATION_READY
        assert result.reasons[-1].startswith("The rubric question is unanswered")

    def test_other_answers_are_refused(self):
        with pytest.raises(ValueError, match="rubric_answer must be 'yes', 'no' or None"):
            verdict(evidence(), rubric_answer="maybe")


class TestLimits:
    def test_cost_or_latency_over_the_team_limit_means_not_yet(self):
        limits = Thresholds(max_cost_per_1k_cases=5.0, max_p95_latency_s=2.0)
        ok = verdict(evidence(cost_per_1k_cases=4.0, p95_latency_s=1.5), limits)
        assert ok.verdict == AUTOMATION_READY
        slow = verdict(evidence(cost_per_1k_cases=4.0, p95_latency_s=3.5), limits)
        assert slow.verdict == NOT_YET
        assert "p95 latency of a single request 3.5 s is over the limit of 2 s." in slow.reasons

    def test_unknown_cost_is_reported_not_held_against_the_task(self):
        result = verdict(evidence(), Thresholds(max_cost_per_1k_cases=5.0))
        assert result.verdict == AUTOMATION_READY
        assert "Cost per 1,000 cases is unknown, so the limit of 5 was not checked." in result.reasons

    def test_no_limits_set_means_none_checked(self):
        assert "cost" not in verdict(evidence(cost_per_1k_cases=1e9)).checks


class TestHeadlineScore:
    def test_it_is_the_weakest_lower_bound_of_pass_rate_and_accept_or_edit(self):
        result = verdict(evidence(scored=40, passed=40, accepted=20, minor=0, rejected=10))
        assert result.feasibility == pytest.approx(result.accept_or_edit.low)
        assert result.feasibility < result.pass_rate.low

    def test_an_augmentation_ready_verdict_is_placed_by_the_figure_that_decided_it(self):
        # The task: reviewers accept nearly everything, the automatic scorer passes 1 in 30.
        result = verdict(evidence(scored=30, passed=1, accepted=10, minor=20, rejected=0))
        assert result.verdict == AUGMENTATION_READY
        assert result.pass_rate.low < 0.07  # what the matrix used to show: "feasibility 6.1%"
        assert result.feasibility == pytest.approx(result.accept_or_edit.low)
        assert result.feasibility >= Thresholds().augmentation_lower
        assert result.basis == "accept-or-minor-edit rate, 95% lower bound"

    def test_automation_ready_rests_on_both_bounds_and_not_yet_without_reviews_on_the_pass_rate(self):
        ready = verdict(evidence(scored=40, passed=40, accepted=30), Thresholds(), "yes")
        assert ready.feasibility == pytest.approx(min(ready.pass_rate.low, ready.accept_or_edit.low))
        assert ready.basis.startswith("weaker of")
        scores_only = verdict(evidence(scored=10, passed=8, accepted=0))
        assert scores_only.basis == "automatic pass rate, 95% lower bound"


class TestReviewers:
    def test_one_reviewer_cannot_make_a_task_automation_ready(self):
        one = verdict(evidence(reviewers=1), Thresholds(), "yes")
        assert one.verdict == AUGMENTATION_READY
        assert one.checks["reviewers_automation"] is False
        assert "Reviewed by 1 different person. Automation needs at least 2" in " ".join(one.reasons)
        assert verdict(evidence(reviewers=2), Thresholds(), "yes").verdict == AUTOMATION_READY

    def test_the_team_can_ask_more_people_for_augmentation_too(self):
        strict = Thresholds(min_reviewers_augmentation=2)
        assert verdict(evidence(scored=0, passed=0, accepted=10, reviewers=1), strict).verdict == NOT_YET

    def test_reviews_that_disagree_with_the_scorer_warn_without_changing_the_verdict(self):
        result = verdict(evidence(scored=0, passed=0, accepted=10, scorer_kappa=-0.15, scorer_kappa_n=10))
        assert result.verdict == AUGMENTATION_READY
        assert len(result.warnings) == 1
        assert "κ = -0.15 over 10 outputs, below the 0.4 the team expects" in result.warnings[0]
        agreeing = verdict(evidence(scored=0, passed=0, accepted=10, scorer_kappa=0.8, scorer_kappa_n=10))
        assert agreeing.warnings == []
        assert (
            verdict(
                evidence(scorer_kappa=-0.15, scorer_kappa_n=10), Thresholds(min_scorer_kappa=None)
            ).warnings
            == []
        )

    def test_it_uses_what_evidence_exists(self):
        only_scores = verdict(evidence(scored=10, passed=8, accepted=0))
        assert only_scores.feasibility == pytest.approx(0.490, abs=5e-4)
        assert 0 <= only_scores.feasibility <= 1


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"cases_scored": 5, "cases_passed": 6}, r"cases_passed \(6\) cannot exceed cases_scored \(5\)"),
            ({"reviews_rejected": -1}, "reviews_rejected must be a whole number of 0 or more"),
            ({"p95_latency_s": -2.0}, "p95_latency_s must be 0 or more"),
        ],
    )
    def test_impossible_evidence_is_refused(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            RunEvidence(**kwargs)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"min_cases": 0}, "min_cases must be a whole number of 1 or more"),
            ({"augmentation_lower": 1.5}, "augmentation_lower must be between 0 and 1, got 1.5"),
            ({"max_cost_per_1k_cases": -1}, "max_cost_per_1k_cases must be 0 or more"),
        ],
    )
    def test_impossible_thresholds_are_refused(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            Thresholds(**kwargs)
