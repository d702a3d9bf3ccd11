from __future__ import annotations

import io
import time
import tracemalloc
from decimal import Decimal

import openpyxl
import pytest

from opportunities.importing import (
    ImportFileError,
    Table,
    apply_import,
    load_pending,
    parse_rows,
    plan_import,
    read_upload,
    save_pending,
)
from opportunities.models import Job, Task
from tests.factories import make_job, make_task
from tests.opportunities.zipbombs import xlsx_bomb


def row(**cells) -> dict[str, str]:
    return {"job": "Support agent", "task": "Answer emails", **cells}


def messages(result) -> list[str]:
    return [str(problem) for problem in result.errors]


# --- parsing (pure, no database) -------------------------------------------------------------------


def test_a_minimal_row_gets_the_documented_defaults():
    result = parse_rows([row()])
    assert result.ok
    [task] = result.tasks
    assert (task.kind, task.mode, task.exposure_label, task.label_source) == ("other", "augment", "", "")
    assert (task.hours_per_week, task.people_share, task.time_saved) == (
        Decimal("1.00"),
        Decimal("1.000"),
        Decimal("0.300"),
    )
    job = result.jobs["support agent"]
    assert (job.title, job.headcount, job.hourly_cost) == ("Support agent", 1, Decimal("50.00"))


def test_headers_are_case_insensitive_and_trimmed():
    rows = [{" JOB ": "Analyst", "Task": "Read reports", "Hours per week": "4", "KIND ": "Read"}]
    result = parse_rows(rows)
    assert result.ok, messages(result)
    assert result.tasks[0].hours_per_week == Decimal("4.00")
    assert result.tasks[0].kind == "read"


def test_a_bad_number_names_the_spreadsheet_row_and_column():
    rows = [row(), row(), row(), row(), row(), row(hours_per_week="abc")]
    result = parse_rows(rows)
    assert messages(result) == ['row 7, hours_per_week: must be a number between 0 and 80 (got "abc")']
    assert len(result.tasks) == 5


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"hours_per_week": "81"}, 'row 2, hours_per_week: must be a number between 0 and 80 (got "81")'),
        ({"hours_per_week": "NaN"}, 'row 2, hours_per_week: must be a number between 0 and 80 (got "NaN")'),
        (
            {"people_share": "1.5"},
            'row 2, people_share: must be a number between 0 and 1, or a percentage (got "1.5")',
        ),
        ({"kind": "typing"}, 'row 2, kind: must be one of write, read, chat, other (got "typing")'),
        ({"mode": "replace"}, 'row 2, mode: must be one of augment, automate (got "replace")'),
        ({"exposure_label": "E3"}, 'row 2, exposure_label: must be one of E0, E1, E2 (got "E3")'),
        (
            {"exposure_label": "E1", "label_source": "guess"},
            'row 2, label_source: must be one of human, predicted (got "guess")',
        ),
        ({"headcount": "2.5"}, 'row 2, headcount: must be a whole number between 1 and 1000000 (got "2.5")'),
        ({"headcount": "0"}, 'row 2, headcount: must be a whole number between 1 and 1000000 (got "0")'),
        ({"hourly_cost": "-4"}, 'row 2, hourly_cost: must be a number between 0 and 10000 (got "-4")'),
        ({"hours_per_week": "1e30"}, 'row 2, hours_per_week: must be a number between 0 and 80 (got "1e30")'),
        (
            {"people_share": "1e30"},
            'row 2, people_share: must be a number between 0 and 1, or a percentage (got "1e30")',
        ),
        (
            {"time_saved": "-1e30%"},
            'row 2, time_saved: must be a number between 0 and 1, or a percentage (got "-1e30%")',
        ),
        ({"hourly_cost": "1e30"}, 'row 2, hourly_cost: must be a number between 0 and 10000 (got "1e30")'),
        (
            {"headcount": "1e30"},
            'row 2, headcount: must be a whole number between 1 and 1000000 (got "1e30")',
        ),
        ({"task": "x" * 100_000}, "row 2, task: must be at most 2,000 characters (got 100,000)"),
        ({"notes": "x" * 10_001}, "row 2, notes: must be at most 10,000 characters (got 10,001)"),
        ({"task": "  "}, "row 2, task: is required"),
        ({"job": ""}, "row 2, job: is required"),
        (
            {"label_source": "predicted"},
            'row 2, label_source: "predicted" is given but exposure_label is blank',
        ),
    ],
)
def test_each_invalid_cell_gets_a_specific_message(cells, expected):
    assert messages(parse_rows([row(**cells)])) == [expected]


def test_every_error_of_a_row_is_reported_not_just_the_first():
    result = parse_rows([row(kind="x", hours_per_week="-1", time_saved="2")])
    assert [problem.field for problem in result.errors] == ["kind", "hours_per_week", "time_saved"]
    assert result.tasks == []


def test_percentages_and_spreadsheet_numbers_are_accepted():
    result = parse_rows([row(people_share="50%", time_saved="0.25", headcount="12.0", hourly_cost="45.5")])
    assert result.ok, messages(result)
    assert result.tasks[0].people_share == Decimal("0.500")
    assert result.jobs["support agent"].headcount == 12


def test_a_label_defaults_its_source_to_human():
    result = parse_rows([row(exposure_label="e1"), row(exposure_label="E2", label_source="Predicted")])
    assert [(t.exposure_label, t.label_source) for t in result.tasks] == [
        ("E1", "human"),
        ("E2", "predicted"),
    ]


def test_blank_rows_are_skipped_but_still_counted_in_row_numbers():
    rows = [row(), {"job": "", "task": ""}, row(kind="bad")]
    result = parse_rows(rows)
    assert messages(result) == ['row 4, kind: must be one of write, read, chat, other (got "bad")']


def test_a_missing_required_column_is_an_error_naming_it():
    result = parse_rows([{"job": "Analyst", "hours_per_week": "3"}])
    assert messages(result) == [
        'Missing required column "task" (the header row has: "job", "hours_per_week").'
    ]


def test_unknown_columns_are_listed_as_a_warning():
    result = parse_rows([row(colour="blue", priority="1")])
    assert result.ok
    assert "Unknown columns ignored: colour, priority" in str(result.warnings[0])


def test_export_only_columns_are_ignored_silently():
    result = parse_rows([row(annual_value="1000", verdict="untested", task_code="abc")])
    assert result.ok and result.warnings == []


def test_a_header_without_rows_is_an_error():
    result = parse_rows([], headers=["job", "task"])
    assert messages(result) == ["The file has a header row but no task rows."]


def test_a_repeated_column_is_an_error():
    result = parse_rows([row()], headers=["job", "task", "Task"])
    assert 'The column "task" appears more than once' in messages(result)[0]


def test_conflicting_job_values_name_both_rows():
    rows = [row(headcount="10"), row(), row(headcount="12")]
    result = parse_rows(rows)
    assert messages(result) == [
        'row 4, headcount: 12 conflicts with 10 given for job "Support agent" in row 2; use one value per job'
    ]


def test_the_same_job_values_repeated_are_fine_and_jobs_match_ignoring_case():
    rows = [row(hourly_cost="40"), row(job="support  AGENT", hourly_cost="40.00"), row(job="Analyst")]
    result = parse_rows(rows)
    assert result.ok, messages(result)
    assert set(result.jobs) == {"support agent", "analyst"}
    assert result.jobs["support agent"].hourly_cost == Decimal("40.00")


def test_a_job_value_given_only_on_a_later_row_applies_to_the_job():
    result = parse_rows([row(), row(task="Other", headcount="7")])
    assert result.jobs["support agent"].headcount == 7


def test_repeated_tasks_are_a_warning():
    result = parse_rows([row(), row(task="answer emails")])
    assert result.ok
    assert "row 3 (same as row 2)" in str(result.warnings[0])


def test_a_quote_added_by_the_export_is_dropped_on_import():
    result = parse_rows([row(task="'=SUM(A1:A2) is not a task", notes="'-5 days")])
    assert result.tasks[0].statement == "=SUM(A1:A2) is not a task"
    assert result.tasks[0].notes == "-5 days"


# --- reading files ---------------------------------------------------------------------------------


def test_csv_with_a_bom_is_read():
    table = read_upload("tasks.csv", "\ufeffjob,task\nAnalyst,Read reports\n".encode())
    assert table.headers == ["job", "task"]
    assert table.rows == [{"job": "Analyst", "task": "Read reports"}]


def test_semicolon_csv_from_a_european_excel_is_read():
    table = read_upload("tasks.csv", b"job;task;hours_per_week\nAnalyst;Read reports;3\n")
    assert table.rows[0]["hours_per_week"] == "3"


def test_non_utf8_csv_is_rejected_with_a_clear_message():
    data = "job,task\nAnalyst,Résumé review\n".encode("latin-1")
    with pytest.raises(ImportFileError) as error:
        read_upload("tasks.csv", data)
    assert (
        "not UTF-8" in str(error.value) and "line 2" in str(error.value) and "CSV UTF-8" in str(error.value)
    )


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("tasks.txt", b"job,task\n", "is not a CSV or XLSX file"),
        ("tasks.xls", b"\xd0\xcf\x11\xe0", "Old Excel .xls"),
        ("tasks.csv", b"", "The file is empty"),
        ("tasks.csv", b"PK\x03\x04rest", "is an Excel workbook, not CSV"),
        ("tasks.xlsx", b"job,task\nA,B\n", "not an Excel workbook"),
        ("tasks.xlsx", b"PK\x03\x04garbage", "damaged"),
        ("tasks.csv", b"job,task\x00\x00\n", "looks binary"),
    ],
)
def test_wrong_file_types_are_rejected(name, data, expected):
    with pytest.raises(ImportFileError, match=expected):
        read_upload(name, data)


def test_files_over_the_size_limit_are_rejected():
    with pytest.raises(ImportFileError, match="the largest accepted is"):
        read_upload("tasks.csv", b"job,task\n" + b"a,b\n" * 1000, max_bytes=1000)


def test_files_with_too_many_rows_are_rejected():
    with pytest.raises(ImportFileError, match="more than 3 rows"):
        read_upload("tasks.csv", b"job,task\n" + b"a,b\n" * 4, max_rows=3)


def xlsx(rows: list[list[object]], extra_sheet: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Tasks"
    for values in rows:
        sheet.append(values)
    if extra_sheet:
        workbook.create_sheet("Notes")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_is_read_with_numbers_as_text_the_parser_accepts():
    data = xlsx(
        [["Job", "Task", "hours_per_week", "headcount", "people_share"], ["Analyst", "Read", 2.5, 12, 0.1]]
    )
    table = read_upload("tasks.xlsx", data)
    assert table.rows == [
        {"Job": "Analyst", "Task": "Read", "hours_per_week": "2.5", "headcount": "12", "people_share": "0.1"}
    ]
    result = parse_rows(table.rows, table.headers)
    assert result.ok and result.jobs["analyst"].headcount == 12


def test_xlsx_errors_use_the_sheet_row_numbers_and_only_the_first_sheet_is_read():
    data = xlsx([["job", "task", "kind"], ["A", "x", "write"], [None, None, None], ["A", "y", "bad"]], True)
    table = read_upload("tasks.xlsx", data)
    assert table.warnings == ['Only the first sheet ("Tasks") was read.']
    result = parse_rows(table.rows, table.headers)
    assert messages(result) == ['row 4, kind: must be one of write, read, chat, other (got "bad")']


def test_a_quoted_csv_cell_may_span_lines_and_row_numbers_follow_records():
    data = b'job,task,kind\nA,"two\nlines",write\nA,y,bad\n'
    result = parse_rows(read_upload("t.csv", data).rows)
    assert messages(result) == ['row 3, kind: must be one of write, read, chat, other (got "bad")']


# --- applying (database) ---------------------------------------------------------------------------


def test_apply_creates_missing_jobs_and_all_tasks(team):
    existing = make_job(team, "Support agent", headcount=10, hourly_cost="40")
    result = parse_rows(
        [row(), row(task="Tag tickets", kind="read"), row(job="Analyst", task="Read", headcount="3")]
    )
    outcome = apply_import(team, result)
    assert (outcome.tasks_created, outcome.jobs_created) == (3, 1)
    assert existing.tasks.count() == 2
    analyst = Job.objects.get(team=team, title="Analyst")
    assert (analyst.headcount, analyst.hourly_cost) == (3, Decimal("50.00"))


def test_existing_jobs_keep_their_figures_and_the_plan_says_so(team):
    make_job(team, "Support agent", headcount=10, hourly_cost="40")
    result = parse_rows([row(job="support agent", headcount="12")])
    plan = plan_import(team, result)
    assert plan.new_jobs == [] and [job.title for job in plan.existing_jobs] == ["Support agent"]
    assert 'The existing job "Support agent" keeps its headcount 10 (the file says 12, row 2).' in [
        str(w) for w in plan.warnings
    ]
    apply_import(team, result)
    assert Job.objects.get(team=team).headcount == 10


def test_the_plan_warns_about_tasks_already_in_the_portfolio(team):
    make_task(make_job(team, "Support agent"), "Answer emails")
    plan = plan_import(team, parse_rows([row(), row(task="New one")]))
    assert any("1 tasks already exist" in str(w) and "row 2" in str(w) for w in plan.warnings)


def test_a_result_with_errors_imports_nothing(team):
    result = parse_rows([row(), row(kind="bad")])
    with pytest.raises(ValueError):
        apply_import(team, result)
    assert not Task.objects.exists() and not Job.objects.exists()


def test_jobs_of_other_teams_are_never_used(team, stranger):
    other_job = make_job(stranger.teams.get(), "Support agent")
    apply_import(team, parse_rows([row()]))
    assert other_job.tasks.count() == 0
    assert Job.objects.filter(team=team, title="Support agent").exists()


def test_pending_uploads_survive_between_requests_and_reject_bad_tokens(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    table = Table(headers=["job", "task"], rows=[{"job": "A", "task": "B"}])
    token = save_pending(table)
    assert load_pending(token) == table
    assert load_pending("../../etc/passwd") is None
    assert load_pending("0" * 32) is None


def test_a_job_conflict_is_reported_alongside_other_errors_of_the_row():
    result = parse_rows([row(headcount="10"), row(headcount="12", kind="bad")])
    assert [(p.row, p.field) for p in result.errors] == [(3, "kind"), (3, "headcount")]


# --- workbooks that unpack to far more than they weigh --------------------------------------------


def _refused_quickly(data: bytes, match: str, **kwargs) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImportFileError, match=match):
            read_upload("tasks.xlsx", data, **kwargs)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return elapsed, peak


def test_a_6_mb_workbook_that_unpacks_to_190_mb_is_refused_in_seconds_with_flat_memory():
    data = xlsx_bomb(190_000_000, padding=5_000_000)
    assert 5_500_000 < len(data) < 7_000_000
    elapsed, peak = _refused_quickly(data, r"unpacks to 19\d\.\d MB; the largest accepted is 104\.9 MB")
    assert elapsed < 2 and peak < 5_000_000


def test_a_workbook_that_lies_about_its_unpacked_size_is_read_no_further_than_it_claims():
    data = xlsx_bomb(190_000_000, declared=200_000)
    elapsed, peak = _refused_quickly(data, "The workbook is damaged")
    assert elapsed < 2 and peak < 5_000_000


def test_a_row_with_more_cells_than_any_task_sheet_is_refused_before_it_is_read():
    _refused_quickly(xlsx_bomb(2_000_000, cells_per_row=5_000), "Row 2 of the sheet has more than 200 cells")


def test_a_sheet_over_its_cell_budget_is_refused_in_one_streaming_pass(settings):
    elapsed, _ = _refused_quickly(xlsx_bomb(20_000_000), "more than 330 cells", max_rows=10)
    assert elapsed < 2


def test_blank_columns_a_sheet_claims_are_not_read(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["job", "task"])
    sheet.append(["A", "x"])
    sheet["XFD3"] = None  # the dimension now claims 16,384 columns
    sheet.cell(row=3, column=16384).value = ""
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_upload("tasks.xlsx", buffer.getvalue())
    assert table.headers == ["job", "task"] and len(table.rows[0]) == 2
