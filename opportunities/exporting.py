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
     "jobs": [{"code", "title", "description", "headcount": int, "hourly_cost": number,
               "exposure": {"e1_share", "e2_share", "e1_half_e2", "e1_e2", "predicted_share",
                            "labelled_hours_share"} (numbers 0..1 or null; see opportunities.exposure)}],
     "tasks": [{"code", "job": job code, "job_title", "statement", "kind", "mode", "hours_per_week",
                "people_share", "time_saved", "exposure_label", "label_source", "notes",
                "model_cost_per_year", "revenue_upside", "annual_value", "verdict",
                "feasibility": number or null, "feasibility_basis": which figure feasibility is,
                "verdict_warnings": [text], "cases_per_year": int or null,
                "model_cost_per_1k_cases": number or null,
                "job_exposure": the job's exposure as above}],
     "totals": {"tasks": int, "jobs": int, "annual_value": number,
                "annual_value_by_verdict": {verdict: number}, "tasks_by_verdict": {verdict: int}}}

Every quantity is a JSON number (Decimals are converted to floats: money has two decimals, shares three);
an empty label or source is "" rather than null; feasibility is null until experiments measured it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from accounts.models import Team

from . import exposure
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
JSON_CHUNK = 500  # tasks per streamed piece of the JSON export


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


def export_tasks(
    team: Team, filters: Mapping[str, str], exposures: exposure.Exposures | None = None, chunk_size: int = 2000
) -> Iterator[Task]:
    """The tasks to export, streamed (one query, jobs joined), each job with its exposure (`job.exposure`,
    over all of the job's tasks, whatever the filters; one more grouped query unless `exposures` given)."""
    tasks = export_queryset(team, filters).iterator(chunk_size=chunk_size)
    return exposure.attach(tasks, exposures or exposure.for_team(team))


def export_job_rows(
    team: Team, filters: Mapping[str, str], exposures: exposure.Exposures | None = None, chunk_size: int = 2000
) -> Iterator[Job]:
    exposures = exposures or exposure.for_team(team)
    for job in export_jobs(team, filters).iterator(chunk_size=chunk_size):
        job.exposure = exposures.get(job.pk)
        yield job


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
        "feasibility_basis": task.feasibility_basis,
        "verdict_warnings": list(task.verdict_warnings or []),
        "cases_per_year": task.cases_per_year,
        "model_cost_per_1k_cases": None
        if task.model_cost_per_1k_cases is None
        else float(task.model_cost_per_1k_cases),
        "job_exposure": task.job.exposure.to_dict() if getattr(task.job, "exposure", None) else None,
    }


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "code": str(job.code),
        "title": job.title,
        "description": job.description,
        "headcount": job.headcount,
        "hourly_cost": float(job.hourly_cost),
        "exposure": job.exposure.to_dict() if getattr(job, "exposure", None) else None,
    }


def portfolio_document(
    team: Team,
    jobs: Iterable[Job],
    tasks: Iterable[Task],
    generated_at: datetime,
    filters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole document as one value (the streamed text, parsed: the two cannot differ)."""
    return json.loads("".join(iter_portfolio_json(team, jobs, tasks, generated_at, filters)))


def iter_portfolio_json(
    team: Team,
    jobs: Iterable[Job],
    tasks: Iterable[Task],
    generated_at: datetime,
    filters: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The JSON document in chunks, in constant memory: the head, the jobs, the tasks JSON_CHUNK at a
    time, then the totals counted on the way (pass `tasks.iterator()` so rows are not all held)."""
    head = {
        "schema": SCHEMA,
        "team": {"code": str(team.code), "name": team.name, "slug": team.slug},
        "generated_at": generated_at.isoformat(),
        "value_rules_version": VALUE_RULES_VERSION,
        "filters": dict(filters or {}),
    }
    yield _json(head)[:-1] + ',"jobs":['
    job_count = 0
    for job in jobs:
        yield ("," if job_count else "") + _json(job_dict(job))
        job_count += 1
    yield '],"tasks":['
    value_by_verdict = dict.fromkeys(VERDICTS, Decimal(0))
    count_by_verdict = dict.fromkeys(VERDICTS, 0)
    chunk: list[str] = []
    task_count = 0
    for task in tasks:
        item = task_dict(task)
        value_by_verdict[item["verdict"]] += Decimal(str(item["annual_value"]))
        count_by_verdict[item["verdict"]] += 1
        chunk.append(_json(item))
        task_count += 1
        if len(chunk) >= JSON_CHUNK:
            yield ("," if task_count > len(chunk) else "") + ",".join(chunk)
            chunk = []
    if chunk:
        yield ("," if task_count > len(chunk) else "") + ",".join(chunk)
    totals = {
        "tasks": task_count,
        "jobs": job_count,
        "annual_value": float(sum(value_by_verdict.values())),
        "annual_value_by_verdict": {verdict: float(total) for verdict, total in value_by_verdict.items()},
        "tasks_by_verdict": count_by_verdict,
    }
    yield '],"totals":' + _json(totals) + "}"


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))


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
    buffer = io.BytesIO()
    write_xlsx(tasks, buffer, title)
    return buffer.getvalue()


def xlsx_file(tasks: Iterable[Task], title: str = "Tasks") -> IO[bytes]:
    """The workbook in a temporary file, rewound (deleted once closed): rows go through openpyxl's
    write-only mode and the zip is written to disk, so memory stays flat however many tasks (pass
    `tasks.iterator()`)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; the response closes it
    try:
        write_xlsx(tasks, out, title)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def write_xlsx(tasks: Iterable[Task], out: IO[bytes], title: str = "Tasks") -> None:
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
    workbook.save(out)


def export_filename(team: Team, fmt: str, today: datetime) -> str:
    return f"{team.slug}-portfolio-{today:%Y-%m-%d}.{fmt}"
