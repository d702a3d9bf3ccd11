from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest

from accounts.models import Team
from opportunities import exporting
from opportunities.columns import escape_formula
from opportunities.importing import apply_import, parse_rows, read_upload
from opportunities.models import Job, Task
from tests.factories import make_job, make_task


def unsaved_task(statement: str = "Answer emails", notes: str = "", **fields) -> Task:
    team = Team(name="Acme", slug="acme")
    job = Job(
        team=team, title=fields.pop("job_title", "Support agent"), headcount=10, hourly_cost=Decimal("40")
    )
    values = {
        "kind": "write",
        "mode": "augment",
        "hours_per_week": Decimal("5.00"),
        "people_share": Decimal("0.500"),
        "time_saved": Decimal("0.300"),
        "exposure_label": "E1",
        "label_source": "human",
        "verdict": "untested",
        "model_cost_per_year": Decimal(0),
        "revenue_upside": Decimal(0),
    }
    values.update(fields)
    return Task(job=job, statement=statement, notes=notes, code=uuid.UUID(int=1), **values)


# --- pure row building ------------------------------------------------------------------------------


def test_the_columns_are_in_the_documented_order():
    assert exporting.HEADERS == [
        "job",
        "task",
        "kind",
        "mode",
        "hours_per_week",
        "people_share",
        "time_saved",
        "exposure_label",
        "label_source",
        "headcount",
        "hourly_cost",
        "annual_value",
        "verdict",
        "verdict_warning",
        "job_exposure_e1",
        "job_exposure_e2",
        "job_exposure_e1_half_e2",
        "job_exposure_e1_e2",
        "job_exposure_predicted",
        "notes",
        "task_code",
    ]


def test_a_row_holds_typed_values_including_the_computed_annual_value():
    values = dict(zip(exporting.HEADERS, exporting.task_values(unsaved_task()), strict=True))
    # 10 people × 50% × 5 h × 52 × $40 × 30% = $15,600
    assert values["annual_value"] == Decimal("15600.00")
    assert values["headcount"] == 10
    assert values["task_code"] == "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-3 days", "'-3 days"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rcarriage", "'\rcarriage"),
        ("Plain text", "Plain text"),
        ("a=b", "a=b"),
    ],
)
def test_text_a_spreadsheet_would_execute_is_quoted(text, expected):
    assert escape_formula(text) == expected
    assert exporting.csv_row(unsaved_task(statement=text))[1] == expected


def test_numbers_stay_numbers_even_when_negative():
    task = unsaved_task(model_cost_per_year=Decimal("20000"))
    value = exporting.task_values(task)[exporting.HEADERS.index("annual_value")]
    assert value == Decimal("-4400.00")
    assert exporting.spreadsheet_cell(value) == Decimal("-4400.00")
    assert exporting.csv_row(task)[exporting.HEADERS.index("annual_value")] == "-4400.00"


def test_csv_text_starts_with_a_bom_and_the_header():
    lines = "".join(exporting.iter_csv([unsaved_task()])).splitlines()
    assert lines[0] == "\ufeff" + ",".join(exporting.HEADERS)
    assert lines[1].startswith(
        "Support agent,Answer emails,write,augment,5.00,0.500,0.300,E1,human,10,40,15600.00"
    )


def test_xlsx_escapes_formulas_and_keeps_numbers_numeric():
    data = exporting.xlsx_bytes([unsaved_task(statement="=1+1", notes="bell\x07")])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header, row = list(sheet.iter_rows(values_only=True))
    values = dict(zip(header, row, strict=True))
    assert values["task"] == "'=1+1"
    assert sheet.cell(row=2, column=2).data_type == "s"
    assert values["hours_per_week"] == 5 and isinstance(values["annual_value"], float | int)
    assert values["notes"] == "bell"


def test_the_json_document_is_versioned_and_typed():
    task = unsaved_task()
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    document = exporting.portfolio_document(
        task.job.team, [task.job], [task], generated_at=now, filters={"kind": "write"}
    )
    assert document["schema"] == "assay.portfolio/1"
    assert document["generated_at"] == "2026-11-22T12:00:00+00:00"
    assert document["filters"] == {"kind": "write"}
    [item] = document["tasks"]
    assert item["annual_value"] == 15600.0 and item["hours_per_week"] == 5.0 and item["feasibility"] is None
    assert document["jobs"][0]["headcount"] == 10 and document["jobs"][0]["hourly_cost"] == 40.0
    assert document["totals"]["annual_value"] == 15600.0
    assert document["totals"]["tasks_by_verdict"]["untested"] == 1


def test_filters_keep_only_known_values():
    code = str(uuid.uuid4())
    params = {"job": code, "kind": "write", "mode": "nope", "exposure": "none", "verdict": "", "x": "1"}
    assert exporting.clean_filters(params) == {"job": code, "kind": "write", "exposure": "none"}
    assert exporting.clean_filters({"job": "not-a-uuid"}) == {}


# --- with the database ------------------------------------------------------------------------------


def test_an_exported_csv_imports_back_to_the_same_tasks(team, stranger):
    job = make_job(team, "Support agent", headcount=10, hourly_cost="40.50")
    make_task(job, "=cmd|' /C calc'!A0", kind="write", exposure_label="E2", label_source="predicted")
    make_task(
        job, "-5 days of backlog", kind="read", notes='Quote "this", and, commas\nnew line', mode="automate"
    )
    make_task(make_job(team, "Analyst", headcount=3), "Read reports", people_share=Decimal("0.25"))
    # With the jobs' exposure filled in: those columns are export-only and an import ignores them.
    exported = "".join(exporting.iter_csv(exporting.export_tasks(team, {}))).encode()
    assert ",0.000,1.000,0.500,1.000,1.000," in exported.decode()

    other = stranger.teams.get()
    table = read_upload("export.csv", exported)
    parsed = parse_rows(table.rows, table.headers)
    assert parsed.ok and parsed.warnings == []
    apply_import(other, parsed)

    fields = ["statement", "kind", "mode", "hours_per_week", "people_share", "time_saved", "exposure_label"]
    fields += ["label_source", "notes", "job__title", "job__headcount", "job__hourly_cost"]

    def snapshot(t):
        return sorted(Task.objects.filter(job__team=t).values_list(*fields))

    assert snapshot(other) == snapshot(team)


def test_the_export_queryset_applies_the_portfolio_filters(team):
    support, analyst = make_job(team, "Support agent"), make_job(team, "Analyst")
    make_task(support, "A", kind="write", exposure_label="E1")
    make_task(support, "B", kind="read")
    make_task(analyst, "C", kind="write", verdict="not-yet")

    def statements(**filters):
        return [t.statement for t in exporting.export_queryset(team, filters)]

    assert statements() == ["C", "A", "B"]
    assert statements(job=str(support.code)) == ["A", "B"]
    assert statements(kind="write") == ["C", "A"]
    assert statements(exposure="none") == ["C", "B"]
    assert statements(exposure="E1") == ["A"]
    assert statements(verdict="not-yet") == ["C"]


def test_a_control_character_does_not_hide_a_formula_from_the_xlsx_or_csv():
    task = unsaved_task(statement='\x01=HYPERLINK("http://evil.example","open")', notes="\x02+cmd")
    sheet = openpyxl.load_workbook(io.BytesIO(exporting.xlsx_bytes([task]))).active
    header, row = list(sheet.iter_rows(values_only=True))
    values = dict(zip(header, row, strict=True))
    assert values["task"] == '\'=HYPERLINK("http://evil.example","open")'
    assert values["notes"] == "'+cmd"
    assert all(cell.data_type == "s" for cell in sheet[2] if isinstance(cell.value, str))
    csv_values = exporting.csv_row(task)
    assert csv_values[1] == '\'=HYPERLINK("http://evil.example","open")'
