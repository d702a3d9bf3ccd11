from __future__ import annotations

import dataclasses
from decimal import Decimal

from experiments.exporting import EXPORT_SCHEMA, ExportRow, ExportScore, csv_lines, jsonl_lines
from experiments.results import Row, compare_to_baseline, differing_cases, summarise, summarise_run


def row(run=1, case=1, repeat=0, passed=True, score=1.0, latency=0.5, error="", text="out", cost="0.01"):
    return Row(run, case, repeat, passed, score, latency, 10, 4, Decimal(cost), error, text)


def test_a_run_summary_has_the_pass_rate_with_its_wilson_interval():
    rows = [row(case=i, passed=i % 4 != 0) for i in range(1, 41)]  # 30 of 40 pass
    summary = summarise_run(1, 40, rows)
    assert (summary.pass_rate.successes, summary.pass_rate.n) == (30, 40)
    assert summary.pass_percent == "75%"
    assert summary.interval_label == "60%–86%"
    assert summary.cost_per_1000 == Decimal("10.00")


def test_errors_and_unscored_outputs_are_undecided_not_failures():
    rows = [
        row(case=1),
        row(case=2, passed=None, score=None, error="too long"),
        row(case=3, passed=None, score=None),
    ]
    summary = summarise_run(1, 3, rows)
    assert (summary.pass_rate.successes, summary.pass_rate.n) == (1, 1)
    assert summary.undecided == 2 and summary.errors == 1
    assert summary.latency.n == 2  # the error's latency is left out


def test_repeats_show_consistency_and_flaky_cases():
    rows = [
        row(case=1, repeat=0),
        row(case=1, repeat=1),
        row(case=2, repeat=0),
        row(case=2, repeat=1, passed=False),
    ]
    summary = summarise_run(1, 4, rows)
    assert summary.consistency.all_pass == 1 and summary.consistency.flaky_cases == [2]
    assert summary.all_pass_percent == "50%"


def test_runs_without_outputs_get_an_empty_summary():
    summaries = summarise({1: 10, 2: 10}, [row(run=1)])
    assert (
        summaries[2].generated == 0
        and summaries[2].pass_rate.rate is None
        and summaries[2].cost_per_1000 is None
    )


def test_cases_differ_when_runs_disagree_on_pass_or_when_unscored_texts_differ():
    rows = [
        row(run=1, case=1), row(run=2, case=1),  # agree
        row(run=1, case=2), row(run=2, case=2, passed=False),  # differ on outcome
        row(run=1, case=3, passed=None, text="a"), row(run=2, case=3, passed=None, text="b"),  # unscored, differ
        row(run=1, case=4, passed=None, text="same"), row(run=2, case=4, passed=None, text="same "),
    ]  # fmt: skip
    assert differing_cases(rows) == {2, 3}


def test_a_baseline_comparison_lists_improved_and_regressed_cases():
    now = [row(case=1), row(case=2, passed=False), row(case=3), row(case=4, passed=None)]
    before = [row(case=1, passed=False), row(case=2), row(case=3), row(case=4)]
    comparison = compare_to_baseline(now, before)
    assert (comparison.improved, comparison.regressed, comparison.same_pass) == ([1], [2], [3])
    assert comparison.not_comparable == [4] and comparison.compared == 3


def export_row(**overrides):
    score = ExportScore(0, "label_match", "1", 1.0, True, "scored", "found billing")
    base = ExportRow(
        experiment="E", run="r", prompt="P", prompt_version=2, model="M", params="greedy", case="T-1",
        case_version=1, repeat=0, inputs={"ticket": '=HYPERLINK("x")'}, expected_label="billing",
        expected_output="", output="billing", finish_reason="stop", error="", tokens_in=5, tokens_out=1,
        latency_s=0.25, cost=Decimal("0.000100"), weighted_score=1.0, passed=True, reused=False, scores=(score,),
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


def test_csv_export_has_inputs_and_scores_as_columns_and_defuses_formulas():
    lines = list(csv_lines([export_row()], ["ticket"], [(0, "label_match")]))
    header = lines[0].strip().split(",")
    assert header[-2:] == ["input.ticket", "score.1.label_match"]
    assert "'=HYPERLINK" in lines[1]
    assert lines[1].strip().endswith(",1.0")


def test_jsonl_export_is_versioned_and_keeps_score_details():
    import json

    data = json.loads(next(jsonl_lines([export_row()])))
    assert data["schema"] == EXPORT_SCHEMA
    assert data["repeat"] == 1 and data["inputs"] == {"ticket": '=HYPERLINK("x")'}
    assert data["scores"][0]["rationale"] == "found billing"


def test_csv_export_removes_control_characters_before_defusing_formulas():
    row = export_row(inputs={"ticket": '\x01=HYPERLINK("x")'}, output="\x02@cmd")
    line = list(csv_lines([row], ["ticket"], [(0, "label_match")]))[1]
    assert "'=HYPERLINK" in line and "'@cmd" in line and "\x01" not in line
