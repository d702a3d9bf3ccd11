"""Portfolio export as CSV, XLSX and JSON.

The columns come from opportunities.columns (the same ones the importer reads, so an exported CSV imports
again). Row building is pure: it works on tasks whose job is already loaded and never queries. Callers
fetch with ``export_queryset`` (one query, jobs joined).

Spreadsheet cells: text a spreadsheet would execute (starting with = + - @, tab or CR) gets a leading
single quote; numbers stay numbers (Decimals in XLSX, plain digits in CSV).

JSON schema ``assay.portfolio/1``::

    {"schema": "assay.portfolio/1",
     "team": {"code", "name", "slug"},
     "generated_at": ISO 8601 UTC,
     "filters": {querystring key: value applied},
     "jobs": [{"code", "title", "description", "headcount": int, "hourly_cost": number}],
     "tasks": [{"code", "job": job code, "job_title", "statement", "kind", "mode", "hours_per_week",
                "people_share", "time_saved", "exposure_label", "label_source", "notes",
                "model_cost_per_year", "revenue_upside", "annual_value", "verdict",
                "feasibility": number or null}],
     "totals": {"tasks": int, "jobs": int, "annual_value": number,
                "annual_value_by_verdict": {verdict: number}, "tasks_by_verdict": {verdict: int}}}

Every quantity is a JSON number (Decimals are converted to floats: money has two decimals, shares three);
an empty label or source is "" rather than null; feasibility is null until experiments measured it.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import Team

from .columns import COLUMNS, EXPOSURES, KINDS, MODES, VERDICTS, escape_formula
from .models import Job, Task
from .value import VALUE_RULES_VERSION

SCHEMA = "assay.portfolio/1"
FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
HEADERS = [column.name for column in COLUMNS]
# The portfolio page's querystring filters; "exposure=none" selects tasks without a label.
FILTER_KEYS = ("job", "kind", "mode", "exposure", "verdict")


# --- which tasks ------------------------------------------------------------------------------------


def clean_filters(params: Mapping[str, str]) -> dict[str, str]:
    """The valid portfolio filters in `params`; unknown or malformed values are dropped."""
    allowed = {"kind": KINDS, "mode": MODES, "exposure": [*EXPOSURES, "none"], "verdict": VERDICTS}
    filters: dict[str, str] = {}
    for key in FILTER_KEYS:
        value = (params.get(key) or "").strip()
        if not value:
            continue
        if key == "job":
            try:
                filters[key] = str(uuid.UUID(value))
            except ValueError:
                continue
        elif value in allowed[key]:
            filters[key] = value
    return filters


def export_queryset(team: Team, filters: Mapping[str, str]) -> QuerySet[Task]:
    tasks = Task.objects.for_team(team).select_related("job").order_by("job__title", "job_id", "id")
    if "job" in filters:
        tasks = tasks.filter(job__code=filters["job"])
    if "kind" in filters:
        tasks = tasks.filter(kind=filters["kind"])
    if "mode" in filters:
        tasks = tasks.filter(mode=filters["mode"])
    if "exposure" in filters:
        tasks = tasks.filter(exposure_label="" if filters["exposure"] == "none" else filters["exposure"])
    if "verdict" in filters:
        tasks = tasks.filter(verdict=filters["verdict"])
    return tasks


def export_jobs(team: Team, filters: Mapping[str, str]) -> QuerySet[Job]:
    jobs = Job.objects.filter(team=team).order_by("title", "id")
    return jobs.filter(code=filters["job"]) if "job" in filters else jobs


# --- rows (pure) ------------------------------------------------------------------------------------


def task_values(task: Task) -> list[Any]:
    """The task's typed values in column order (task.job must be loaded)."""
    return [column.export(task) for column in COLUMNS]


def spreadsheet_cell(value: Any) -> Any:
    """A value safe for a spreadsheet cell: text that would run as a formula is quoted; numbers stay."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_formula(value)
    return value


def csv_row(task: Task) -> list[str]:
    return [_csv_text(spreadsheet_cell(value)) for value in task_values(task)]


def _csv_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def task_dict(task: Task) -> dict[str, Any]:
    value = task.value_breakdown()
    return {
        "code": str(task.code),
        "job": str(task.job.code),
        "job_title": task.job.title,
        "statement": task.statement,
        "kind": task.kind,
        "mode": task.mode,
        "hours_per_week": float(task.hours_per_week),
        "people_share": float(task.people_share),
        "time_saved": float(task.time_saved),
        "exposure_label": task.exposure_label,
        "label_source": task.label_source,
        "notes": task.notes,
        "model_cost_per_year": float(task.model_cost_per_year),
        "revenue_upside": float(task.revenue_upside),
        "annual_value": float(value.annual_value),
        "verdict": task.verdict,
        "feasibility": task.feasibility,
    }


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "code": str(job.code),
        "title": job.title,
        "description": job.description,
        "headcount": job.headcount,
        "hourly_cost": float(job.hourly_cost),
    }


def portfolio_document(
    team: Team,
    jobs: Iterable[Job],
    tasks: Iterable[Task],
    generated_at: datetime,
    filters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    task_dicts = [task_dict(task) for task in tasks]
    job_dicts = [job_dict(job) for job in jobs]
    value_by_verdict = dict.fromkeys(VERDICTS, Decimal(0))
    count_by_verdict = dict.fromkeys(VERDICTS, 0)
    for item in task_dicts:
        value_by_verdict[item["verdict"]] += Decimal(str(item["annual_value"]))
        count_by_verdict[item["verdict"]] += 1
    return {
        "schema": SCHEMA,
        "team": {"code": str(team.code), "name": team.name, "slug": team.slug},
        "generated_at": generated_at.isoformat(),
        "value_rules_version": VALUE_RULES_VERSION,
        "filters": dict(filters or {}),
        "jobs": job_dicts,
        "tasks": task_dicts,
        "totals": {
            "tasks": len(task_dicts),
            "jobs": len(job_dicts),
            "annual_value": float(sum(value_by_verdict.values())),
            "annual_value_by_verdict": {verdict: float(total) for verdict, total in value_by_verdict.items()},
            "tasks_by_verdict": count_by_verdict,
        },
    }


# --- files ------------------------------------------------------------------------------------------


class _Line:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def iter_csv(tasks: Iterable[Task]) -> Iterator[str]:
    """CSV text in chunks: a BOM (so Excel reads UTF-8), the header, then one line per task."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(HEADERS)
    for task in tasks:
        yield writer.writerow(csv_row(task))


def xlsx_bytes(tasks: Iterable[Task], title: str = "Tasks") -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    widths = {"job": 28, "task": 60, "notes": 40, "task_code": 38}
    for index, name in enumerate(HEADERS, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = widths.get(name, 14)
    sheet.freeze_panes = "A2"
    sheet.append(HEADERS)
    for task in tasks:
        row = [spreadsheet_cell(value) for value in task_values(task)]
        # openpyxl refuses control characters in text; they cannot be shown in a cell anyway.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell) if isinstance(cell, str) else cell for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_filename(team: Team, fmt: str, today: datetime) -> str:
    return f"{team.slug}-portfolio-{today:%Y-%m-%d}.{fmt}"
