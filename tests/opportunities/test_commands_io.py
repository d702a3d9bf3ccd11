from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from opportunities.models import Job, Task
from tests.factories import make_job, make_task

GOOD = (
    "job,task,kind,hours_per_week,headcount\nSupport agent,Answer emails,write,5,10\nAnalyst,Read,read,2,3\n"
)


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_tasks_prints_the_count(team, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text(GOOD)
    out, _ = run("import_tasks", str(path), "--team", "acme")
    assert out.splitlines() == ["imported 2 tasks", "created 2 jobs"]
    assert Task.objects.filter(job__team=team).count() == 2


def test_import_tasks_reads_xlsx(team, tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["job", "task"])
    workbook.active.append(["Analyst", "Read reports"])
    workbook.save(tmp_path / "tasks.xlsx")
    out, _ = run("import_tasks", str(tmp_path / "tasks.xlsx"), "--team", "acme")
    assert out.startswith("imported 1 tasks")


def test_import_tasks_prints_every_row_error_and_imports_nothing(team, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text(GOOD + "Analyst,Other,read,abc,3\nAnalyst,More,typing,1,3\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 errors in .*tasks.csv; nothing imported"):
        call_command("import_tasks", str(path), "--team", "acme", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        'row 4, hours_per_week: must be a number between 0 and 80 (got "abc")',
        'row 5, kind: must be one of write, read, chat, other (got "typing")',
    ]
    assert not Task.objects.exists() and not Job.objects.exists()


def test_import_tasks_reports_a_huge_number_as_a_cell_error(team, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text("job,task,hours_per_week,hourly_cost\nAnalyst,Read,1e30,20\nAnalyst,Write,2,1E+30\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 errors in .*tasks.csv; nothing imported"):
        call_command("import_tasks", str(path), "--team", "acme", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        'row 2, hours_per_week: must be a number between 0 and 80 (got "1e30")',
        'row 3, hourly_cost: must be a number between 0 and 10000 (got "1E+30")',
    ]


def test_import_tasks_reports_a_missing_column(team, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text("job,hours\nA,1\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 error in"):
        call_command("import_tasks", str(path), "--team", "acme", stdout=io.StringIO(), stderr=err)
    assert 'Missing required column "task"' in err.getvalue()
    assert "warning: Unknown columns ignored: hours" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--team", "nope"], 'No team with the slug "nope" \\(teams: acme\\)'),
        (["--team", "acme", "missing.csv"], "No such file: missing.csv"),
    ],
)
def test_import_tasks_explains_bad_arguments(team, tmp_path, args, message):
    path = args.pop() if args[-1].endswith(".csv") else str(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text(GOOD)
    with pytest.raises(CommandError, match=message):
        call_command("import_tasks", path, *args)


def test_import_tasks_rejects_a_non_utf8_file(team, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_bytes("job,task\nA,Café\n".encode("cp1252"))
    with pytest.raises(CommandError, match="not UTF-8 text"):
        call_command("import_tasks", str(path), "--team", "acme")


def test_import_tasks_exits_1_from_the_command_line(tmp_path):
    # Real processes on their own SQLite file: CommandError becomes exit status 1, message on stderr.
    path = tmp_path / "tasks.csv"
    path.write_text("job,task,kind\nA,B,write\nA,C,bad\n")
    env = {"ASSAY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
    create = "from accounts.models import Team; Team.objects.create(name='Acme', slug='acme')"
    subprocess.run([*manage, "shell", "-c", create], env=env, check=True)

    def import_tasks(team: str) -> subprocess.CompletedProcess:
        command = [*manage, "import_tasks", str(path), "--team", team]
        return subprocess.run(command, env=env, capture_output=True, text=True)

    failed = import_tasks("acme")
    assert failed.returncode == 1
    assert 'row 3, kind: must be one of write, read, chat, other (got "bad")' in failed.stderr
    assert "nothing imported" in failed.stderr and failed.stdout == ""
    unknown = import_tasks("nope")
    assert unknown.returncode == 1 and 'No team with the slug "nope"' in unknown.stderr
    path.write_text("job,task,kind\nA,B,write\n")
    imported = import_tasks("acme")
    assert imported.returncode == 0 and imported.stdout.splitlines()[0] == "imported 1 tasks"


def test_export_portfolio_writes_each_format(team, tmp_path):
    make_task(make_job(team, "Support agent"), "=2+2")
    out, _ = run("export_portfolio", "--team", "acme", "--format", "csv", "--output", str(tmp_path / "p.csv"))
    assert out.strip() == f"exported 1 tasks to {tmp_path / 'p.csv'}"
    assert "'=2+2" in (tmp_path / "p.csv").read_text(encoding="utf-8-sig")

    run("export_portfolio", "--team", "acme", "--format", "json", "--output", str(tmp_path / "p.json"))
    document = json.loads((tmp_path / "p.json").read_text())
    assert document["schema"] == "assay.portfolio/1" and document["totals"]["tasks"] == 1

    run("export_portfolio", "--team", "acme", "--format", "xlsx", "--output", str(tmp_path / "p.xlsx"))
    rows = list(openpyxl.load_workbook(tmp_path / "p.xlsx").active.iter_rows(values_only=True))
    assert rows[1][1] == "'=2+2"


def test_an_exported_csv_imports_with_the_command(team, stranger, tmp_path):
    make_task(make_job(team, "Support agent"), "Answer emails")
    run("export_portfolio", "--team", "acme", "--format", "csv", "--output", str(tmp_path / "p.csv"))
    out, err = run("import_tasks", str(tmp_path / "p.csv"), "--team", "other")
    assert out.startswith("imported 1 tasks") and err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--team", "nope", "--format", "csv", "--output", "x.csv"], 'No team with the slug "nope"'),
        (["--team", "acme", "--format", "pdf", "--output", "x.pdf"], "invalid choice: 'pdf'"),
        (["--team", "acme", "--format", "xlsx", "--output", "-"], "XLSX is binary"),
        (["--team", "acme", "--format", "csv", "--output", "/no/such/dir/x.csv"], "No such folder"),
    ],
)
def test_export_portfolio_explains_bad_arguments(team, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_portfolio", *args)
