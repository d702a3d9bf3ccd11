from __future__ import annotations

import pytest

from llmcore.stats import (
    cohens_kappa,
    consistency,
    latency_percentiles,
    percentile,
    proportion,
    wilson_interval,
)


class TestWilsonInterval:
    @pytest.mark.parametrize(
        ("successes", "n", "low", "high"),
        [
            (8, 10, 0.490, 0.943),
            (0, 10, 0.0, 0.278),
            (10, 10, 0.722, 1.0),
            (30, 30, 0.886, 1.0),
            (27, 30, 0.744, 0.965),
            (1, 1, 0.207, 1.0),
        ],
    )
    def test_it_matches_published_values(self, successes, n, low, high):
        got_low, got_high = wilson_interval(successes, n)
        assert got_low == pytest.approx(low, abs=5e-4)
        assert got_high == pytest.approx(high, abs=5e-4)

    def test_no_data_means_anything_is_possible(self):
        assert wilson_interval(0, 0) == (0.0, 1.0)

    def test_a_wider_z_gives_a_wider_interval(self):
        low95, high95 = wilson_interval(8, 10)
        low99, high99 = wilson_interval(8, 10, z=2.576)
        assert low99 < low95 and high99 > high95

    def test_it_narrows_as_evidence_grows(self):
        assert wilson_interval(80, 100)[0] > wilson_interval(8, 10)[0]

    @pytest.mark.parametrize(
        ("successes", "n", "message"),
        [
            (11, 10, "between 0 and n=10"),
            (-1, 10, "between 0 and n=10"),
            (1, -1, "n must be 0 or more"),
            (1.5, 3, "whole numbers"),
        ],
    )
    def test_it_rejects_impossible_counts_with_a_clear_message(self, successes, n, message):
        with pytest.raises(ValueError, match=message):
            wilson_interval(successes, n)

    def test_proportion_describes_itself_with_its_numbers(self):
        p = proportion(8, 10)
        assert p.rate == 0.8
        assert p.describe("Pass rate") == "Pass rate 8/10 = 80.0% (95% interval 49.0%–94.3%)"
        assert proportion(0, 0).describe() == "no data"


class TestCohensKappa:
    def test_it_matches_the_textbook_example(self):
        # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 → p_o 0.70, p_e 0.50, κ 0.40.
        a = ["yes"] * 25 + ["no"] * 25
        b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
        result = cohens_kappa(a, b)
        assert result.observed == pytest.approx(0.70)
        assert result.expected == pytest.approx(0.50)
        assert result.kappa == pytest.approx(0.40)
        assert result.n == 50
        assert result.categories == ("no", "yes")
        assert "= 0.400 over 50 items" in result.formula()

    def test_it_matches_a_three_category_example(self):
        a = ["accept", "accept", "edit", "reject", "accept", "edit", "reject", "accept"]
        b = ["accept", "edit", "edit", "reject", "accept", "accept", "reject", "accept"]
        result = cohens_kappa(a, b)
        # p_o = 6/8; p_e = (4*4 + 2*2 + 2*2) / 64 = 24/64 → κ = (0.75 − 0.375) / 0.625 = 0.6
        assert result.kappa == pytest.approx(0.6)

    def test_perfect_agreement_over_several_categories_is_one(self):
        labels = ["accept", "reject", "edit", "accept"]
        result = cohens_kappa(labels, labels)
        assert result.kappa == pytest.approx(1.0)
        assert result.observed == 1.0

    def test_systematic_disagreement_is_negative(self):
        assert cohens_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"]).kappa == pytest.approx(-1.0)

    def test_a_single_shared_category_leaves_kappa_undefined_but_explained(self):
        result = cohens_kappa(["accept"] * 5, ["accept"] * 5)
        assert result.kappa is None
        assert result.observed == 1.0
        assert "'accept'" in result.note
        assert result.formula().startswith("κ undefined")

    def test_one_rater_using_a_single_category_still_gives_a_number(self):
        result = cohens_kappa(["accept"] * 4, ["accept", "accept", "reject", "accept"])
        assert result.kappa == pytest.approx(0.0)

    def test_items_missing_one_label_are_dropped_and_counted(self):
        result = cohens_kappa(["a", None, "b", "a"], ["a", "b", "b", None])
        assert result.n == 2
        assert result.dropped == 2

    def test_empty_input_is_a_clear_error(self):
        with pytest.raises(ValueError, match="at least one item labelled by both raters"):
            cohens_kappa([], [])
        with pytest.raises(ValueError, match="2 items had a label from only one"):
            cohens_kappa(["a", None], [None, "b"])

    def test_lists_of_different_lengths_are_refused(self):
        with pytest.raises(ValueError, match="3 labels from the first and 2 from the second"):
            cohens_kappa(["a", "b", "a"], ["a", "b"])


class TestPercentiles:
    def test_it_interpolates_like_numpy(self):
        values = [1.0, 2.0, 3.0, 4.0, 10.0]
        assert percentile(values, 50) == 3.0
        assert percentile(values, 95) == pytest.approx(8.8)
        assert percentile(values, 0) == 1.0
        assert percentile(values, 100) == 10.0

    def test_empty_values_have_no_percentile(self):
        assert percentile([], 50) is None
        assert latency_percentiles([]).p95 is None

    def test_latency_summary_skips_missing_values(self):
        summary = latency_percentiles([0.5, None, 1.5, 1.0])
        assert (summary.n, summary.p50) == (3, 1.0)

    def test_an_out_of_range_percentile_is_refused(self):
        with pytest.raises(ValueError, match="between 0 and 100"):
            percentile([1.0], 101)


class TestConsistency:
    def test_it_counts_all_k_pass_and_flaky_cases(self):
        result = consistency(
            {
                "c1": [True, True, True],
                "c2": [True, False, True],
                "c3": [False, False, False],
                "c4": [True, True, True],
            }
        )
        assert result.cases == 4
        assert result.all_k_pass_rate == 0.5
        assert result.any_pass_rate == 0.75
        assert result.flaky_cases == ["c2"]
        assert result.flaky_rate == 0.25

    def test_unscored_repeats_are_skipped_and_empty_cases_reported(self):
        result = consistency({"c1": [True, None, True], "c2": [None, None], "c3": []})
        assert result.cases == 1
        assert result.all_k_pass_rate == 1.0
        assert result.unscored_cases == ["c2", "c3"]
        assert result.repeats_per_case == {"c1": 2, "c2": 0, "c3": 0}

    def test_no_cases_means_no_rate(self):
        result = consistency({})
        assert result.all_k_pass_rate is None
        assert result.flaky_rate is None
