"""Group fairness with fairlearn: the user guide's worked example through Assay's code path, multiclass
one-vs-rest, intersectional groups, unparsed outputs, small groups and the rule's reason."""

from __future__ import annotations

import pytest

from audits.fairness import groupfair
from audits.fairness.groupfair import AssessmentError, Options, Record, Rule

# fairlearn user guide (Advanced usage of MetricFrame): 18 samples, groups a, b, c.
Y_TRUE = [0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]
Y_PRED = [0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0]
GROUPS = ["b", "b", "a", "b", "b", "c", "c", "c", "a", "a", "c", "a", "b", "c", "c", "b", "c", "c"]
WORDS = {0: "reject", 1: "approve"}


def guide_records() -> list[Record]:
    return [Record(WORDS[t], WORDS[p], {"group": g}) for t, p, g in zip(Y_TRUE, Y_PRED, GROUPS, strict=True)]


def by_group(item: dict) -> dict:
    return {g["group"]: g for g in item["groups"]}


def test_the_fairlearn_user_guide_example_gives_the_published_figures():
    figures = groupfair.assess(
        guide_records(), Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=50)
    )
    (item,) = figures["per_label"]
    rates = {g: row["selection_rate"] for g, row in by_group(item).items()}
    assert rates == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.5})
    f = item["figures"]
    assert f["demographic_parity_difference"] == pytest.approx(0.25)
    assert f["demographic_parity_ratio"] == pytest.approx(0.667, abs=1e-3)
    assert f["equalized_odds_difference"] == pytest.approx(1.0)
    assert f["true_positive_rate_difference"] == pytest.approx(0.2)
    # 0.667 < 0.8: the four-fifths rule fails, and says why in words.
    verdict = figures["verdict"]
    assert verdict["passed"] is False
    assert "four-fifths" in verdict["headline"]
    assert "0.667" in verdict["reasons"][0] and "b 0.50 ÷ a 0.75" in verdict["reasons"][0]


def test_bootstrap_intervals_contain_the_point_estimate_and_are_reproducible():
    options = Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=100, seed=3)
    first = groupfair.assess(guide_records(), options)
    second = groupfair.assess(guide_records(), options)
    assert first == second
    for row in first["per_label"][0]["groups"]:
        low, high = row["selection_rate_ci"]
        assert low <= row["selection_rate"] <= high
    low, high = first["per_label"][0]["intervals"]["demographic_parity_difference"]
    assert 0 <= low <= high <= 1


def test_multiclass_labels_are_assessed_one_vs_rest():
    records = [
        Record("billing", "billing", {"gender": "f"}),
        Record("billing", "technical", {"gender": "f"}),
        Record("technical", "technical", {"gender": "f"}),
        Record("account", "account", {"gender": "f"}),
        Record("billing", "billing", {"gender": "m"}),
        Record("technical", "billing", {"gender": "m"}),
        Record("account", "billing", {"gender": "m"}),
        Record("account", "account", {"gender": "m"}),
    ]
    figures = groupfair.assess(records, Options(attributes=["gender"], min_group_size=1, n_boot=0))
    assert figures["assessed_labels"] == ["account", "billing", "technical"]
    billing = next(i for i in figures["per_label"] if i["label"] == "billing")
    assert by_group(billing)["f"]["selection_rate"] == pytest.approx(0.25)
    assert by_group(billing)["m"]["selection_rate"] == pytest.approx(0.75)
    technical = next(i for i in figures["per_label"] if i["label"] == "technical")
    assert by_group(technical)["m"]["selection_rate"] == 0
    # Technical is never chosen for m: ratio 0, so the rule fails for it and names it.
    assert figures["verdict"]["passed"] is False
    assert "'technical'" in figures["verdict"]["headline"]


def test_more_than_two_groups_and_intersectional_groups():
    records = [
        Record("yes", "yes" if i % 3 else "no", {"gender": g, "age": a})
        for i, (g, a) in enumerate(
            [("f", "18-29"), ("f", "60+"), ("m", "18-29"), ("m", "60+"), ("x", "60+")] * 4
        )
    ] + [Record("no", "no", {"gender": "f", "age": "18-29"})]
    figures = groupfair.assess(
        records, Options(attributes=["gender", "age"], positive_label="yes", min_group_size=5, n_boot=0)
    )
    groups = [g["group"] for g in figures["groups"]]
    assert groups == ["f × 18-29", "f × 60+", "m × 18-29", "m × 60+", "x × 60+"]
    # Every group has 4 or 5 outputs, under 5 -> flagged and kept.
    assert set(figures["small_groups"]) == {"f × 60+", "m × 18-29", "m × 60+", "x × 60+"}
    assert any("uncertain" in reason for reason in figures["verdict"]["reasons"])


def test_outputs_naming_no_label_are_counted_per_group_not_dropped_silently():
    records = guide_records() + [
        Record("approve", None, {"group": "a"}),
        Record("reject", None, {"group": "c"}),
    ]
    figures = groupfair.assess(
        records, Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=0)
    )
    unparsed = {g["group"]: g["unparsed"] for g in figures["groups"]}
    assert unparsed == {"a": 1, "b": 0, "c": 1}
    assert figures["unparsed"] == 2
    # The rates are those of the parsed outputs: unchanged.
    assert by_group(figures["per_label"][0])["a"]["selection_rate"] == pytest.approx(0.75)


def test_a_passing_rule_says_so_and_a_difference_rule_is_configurable():
    figures = groupfair.assess(
        guide_records(),
        Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=0,
                rule=Rule("demographic_parity_difference", 0.3)),
    )  # fmt: skip
    assert figures["verdict"]["passed"] is True
    assert "0.250" in figures["verdict"]["reasons"][0] and "≤ 0.3" in figures["verdict"]["reasons"][0]


@pytest.mark.parametrize(
    ("records", "options", "message"),
    [
        ([], Options(attributes=["group"]), "No output has an expected label"),
        (guide_records(), Options(attributes=["a", "b", "c"]), "one sensitive attribute"),
        (guide_records(), Options(attributes=["group"], positive_label="maybe"), "positive label 'maybe'"),
        ([Record("yes", "yes", {"group": "a"})], Options(attributes=["group"]), "at least two labels"),
        (
            [Record("yes", None, {"group": "a"}), Record("no", None, {"group": "b"})],
            Options(attributes=["group"]),
            "No output named",
        ),
    ],
)
def test_unusable_input_is_refused_with_a_reason(records, options, message):
    with pytest.raises(AssessmentError, match=message):
        groupfair.assess(records, options)


def test_a_rule_with_an_unknown_metric_or_threshold_is_refused():
    with pytest.raises(ValueError, match="unknown rule metric"):
        Rule("accuracy", 0.8)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Rule("selection_rate_ratio", 1.5)
