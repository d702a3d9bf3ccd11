"""The report documents (the JSON) and each format rendered from them: contents, the schema, escaping."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from reports import experiment as experiment_report
from reports import portfolio as portfolio_report
from reports import rendering, schema
from tests.factories import make_task
from tests.reports.conftest import FORMULA, SCRIPT


def test_the_portfolio_report_ranks_tasks_by_value_with_formula_and_follows_its_schema(team, portfolio):
    doc = portfolio_report.build(team)
    schema.validate("portfolio", doc)
    s = doc["summary"]
    assert (s["jobs"], s["tasks"]) == (2, 4)
    values = [t["annual_value"] for t in doc["tasks"]]
    assert values == sorted(values, reverse=True) and [t["rank"] for t in doc["tasks"]] == [1, 2, 3, 4]
    top = doc["tasks"][0]
    # 10 people × 100% × 10 h/week × 52 × $40 × 30% saved = $62,400
    assert top["statement"] == SCRIPT and top["annual_value"] == 62400.0
    assert (
        "10 people × 100% doing it × 10 h/week × 52 weeks × $40/h × 30% saved = $62,400"
        in top["value_formula"]
    )
    assert s["annual_value"] == pytest.approx(sum(values))
    assert s["hours_per_year"] == pytest.approx(10 * 10 * 52 + 10 * 1 * 52 + 10 * 5 * 52 + 2 * 3 * 52)
    assert s["by_verdict"]["untested"] == {"tasks": 4, "annual_value": s["annual_value"]}
    assert s["exposure"]["labels"]["E1"] == {"human": 1, "predicted": 0}
    assert s["exposure"]["labels"]["E2"] == {"human": 1, "predicted": 1}
    assert s["exposure"]["unlabelled"] == 1
    use_case = doc["use_cases"][0]
    assert use_case["tasks"] == 2 and use_case["verdict"] == "untested" and use_case["open_risks"] == 2
    assert use_case["top_risks"][0]["description"] == "Leaks <i>customer</i> data"  # highest residual first
    assert sum(q["tasks"] for q in doc["matrix"]["quadrants"]) == 4


def test_a_selection_of_jobs_keeps_only_their_tasks_and_use_cases(team, portfolio):
    doc = portfolio_report.build(team, [str(portfolio["jobs"]["legal"].code)])
    assert [t["statement"] for t in doc["tasks"]] == ["Summarise contracts"]
    assert doc["use_cases"] == [] and doc["selection"]["all_jobs"] is False
    schema.validate("portfolio", doc)


def test_the_portfolio_report_reads_a_fixed_number_of_queries(team, portfolio, django_assert_max_num_queries):
    for i in range(30):
        portfolio["use_case"].tasks.add(
            portfolio["jobs"]["legal"].tasks.create(
                statement=f"Task {i}", hours_per_week=1, people_share=1, time_saved=0.1
            )
        )
    with django_assert_max_num_queries(14):
        portfolio_report.build(team)


def test_the_xlsx_has_a_typed_sheet_per_section_with_frozen_headers_and_quoted_formulas(team, portfolio):
    doc = portfolio_report.build(team)
    book = openpyxl.load_workbook(io.BytesIO(rendering.to_xlsx("portfolio", doc)))
    assert book.sheetnames == ["Tasks", "Summary", "Matrix", "Use cases"]
    tasks = book["Tasks"]
    assert tasks.freeze_panes == "A2" and book["Use cases"].freeze_panes == "A2"
    header = [c.value for c in tasks[1]]
    rows = {r[header.index("task")]: r for r in tasks.iter_rows(min_row=2, values_only=True)}
    assert rows[SCRIPT][header.index("annual_value")] == 62400  # a number, not text
    typed = {c.value: c for c in tasks[2]}
    assert (
        typed[SCRIPT].data_type == "s" and tasks.cell(2, header.index("hours_per_week") + 1).data_type == "n"
    )
    assert "'" + FORMULA in rows  # a formula is text, quoted
    assert not any(
        isinstance(c.value, str) and c.value.startswith("=") for row in tasks.iter_rows() for c in row
    )


def test_the_csv_holds_the_ranked_tasks_with_formulas_quoted(team, portfolio):
    doc = portfolio_report.build(team)
    text = rendering.to_csv("portfolio", doc).decode()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["task"] == SCRIPT and rows[0]["annual_value"] == "62400.0"
    assert "'" + FORMULA in [r["task"] for r in rows]


def test_the_json_is_the_document_and_names_its_schema(team, portfolio):
    doc = portfolio_report.build(team)
    parsed = json.loads(rendering.to_json("portfolio", doc))
    assert parsed["schema"] == "assay.portfolio-report" and parsed["schema_version"] == 1
    schema.validate("portfolio", parsed)


def test_the_pdf_escapes_what_people_wrote_and_has_the_matrix_contents_and_page_numbers(team, portfolio):
    doc = portfolio_report.build(team)
    html = rendering.pdf_html("portfolio", doc)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;task&#x27;)&lt;/script&gt;" in html
    assert "<b>bot</b>" not in html and "Ticket triage &lt;b&gt;bot&lt;/b&gt;" in html
    assert "Leaks &lt;i&gt;customer&lt;/i&gt; data" in html
    assert html.count("<svg") == 1 and 'class="points verdict-untested"' in html
    assert 'class="toc"' in html and "target-counter(attr(href), page)" in html
    assert 'counter(page) " of " counter(pages)' in html and 'class="team">Acme Support<' in html
    pdf = rendering.to_pdf("portfolio", doc)
    assert pdf.startswith(b"%PDF")


def test_the_experiment_report_has_runs_with_intervals_examples_agreement_and_verdicts(
    team, experiment, portfolio
):
    doc = experiment_report.build(experiment)
    schema.validate("experiment", doc)
    assert doc["grid"] == {
        "prompt_versions": ["Ticket topic v1"], "models": ["Tiny test model"], "param_sets": ["greedy"],
        "scorers": ["contains"], "cases": 8, "repeats": 1, "runs": 1,
    }  # fmt: skip
    run = doc["runs"][0]
    assert run["pass_rate"]["successes"] == 4 and run["pass_rate"]["n"] == 8
    assert run["pass_rate"]["low"] < 0.5 < run["pass_rate"]["high"]
    assert run["reviews"]["accepted"] == 8 and run["reviews"]["accept_or_edit"]["rate"] == 1.0
    assert run["scorers"] == [
        {"position": 1, "scorer": "contains", "scored": 8, "mean": 0.5,
         "pass_rate": {"successes": 4, "n": 8, "rate": 0.5, "low": run["pass_rate"]["low"], "high": run["pass_rate"]["high"]}},
    ]  # fmt: skip
    assert run["scorer_kappa_n"] == 8 and run["latency_p50_s"] == 0.25 and run["cost"] > 0
    sides = [x["side"] for x in doc["examples"]]
    assert sides == ["best", "best", "worst", "worst"]
    assert doc["examples"][0]["passed"] is True and doc["examples"][-1]["passed"] is False
    assert "<script>x()</script>" in doc["examples"][0]["output"]  # the model's text, kept as it is
    [verdict] = doc["verdicts"]
    assert verdict["statement"] == "Answer customer emails" and verdict["verdict"] == "augmentation-ready"
    assert verdict["decided_by"] == run["label"]


def test_the_experiment_report_formats_escape_model_output(team, experiment):
    doc = experiment_report.build(experiment)
    html = rendering.pdf_html("experiment", doc)
    assert "<script>x()" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert html.count("<svg") == 1 and 'id="verdicts"' in html
    book = openpyxl.load_workbook(io.BytesIO(rendering.to_xlsx("experiment", doc)))
    assert book.sheetnames == ["Runs", "Scores", "Grid", "Examples", "Review agreement", "Verdicts"]
    header = [c.value for c in book["Runs"][1]]
    first = [c.value for c in book["Runs"][2]]
    assert first[header.index("pass_rate_n")] == 8 and isinstance(first[header.index("pass_rate_low")], float)
    rows = list(csv.reader(io.StringIO(rendering.to_csv("experiment", doc).decode()[1:])))
    assert rows[0][0] == "run_code" and len(rows) == 2
    assert rendering.to_pdf("experiment", doc).startswith(b"%PDF")


def test_a_big_portfolio_pdf_draws_a_sample_and_the_first_tasks_and_says_so(team, portfolio, monkeypatch):
    monkeypatch.setattr(rendering, "PDF_TASK_ROWS", 3)
    monkeypatch.setattr(rendering, "PDF_MATRIX_POINTS", 2)
    for i in range(10):
        make_task(portfolio["jobs"]["legal"], f"Review clause {i}")
    doc = portfolio_report.build(team)
    html = rendering.pdf_html("portfolio", doc)
    # A sample keeps each quadrant's five highest-value tasks (here all are untested).
    assert "A sample of 5 of the 14 tasks is drawn" in html
    assert "The first 3 of 14 tasks; the XLSX, CSV and JSON reports hold every one." in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('r="4">') == 5 and "<title>" not in svg and "<a " not in svg
    assert sum(q["tasks"] for q in doc["matrix"]["quadrants"]) == 14  # counts cover every task
