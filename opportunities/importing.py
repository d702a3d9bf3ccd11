"""Task import from CSV or XLSX: read the file, parse its rows, then apply them in one transaction.

Three steps, each usable on its own (the web preview and the import_tasks command share them):

1. ``read_upload(filename, data)`` -> Table: checks type and size, decodes CSV (UTF-8, with or without
   BOM) or reads the first sheet of an XLSX workbook. Raises ImportFileError with a message for people.
2. ``parse_rows(rows, headers)`` -> ParseResult: pure. Every problem is reported with the row number the
   user sees in their spreadsheet (the header is row 1) and the column: ``row 7, hours_per_week: ...``.
3. ``apply_import(team, parsed)``: refuses a result with errors; otherwise creates the missing jobs and
   all the tasks in one transaction, in batches.

Jobs are matched by title, ignoring case and repeated spaces. An existing job keeps its headcount and
hourly cost: the file's values only set up new jobs (``plan_import`` warns when they differ), so an
import never changes the value of tasks already in the portfolio.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from django.conf import settings
from django.db import transaction

from accounts.models import Team

from .columns import COLUMNS_BY_NAME, IMPORT_COLUMNS, CellError, column_name
from .models import Job, LabelSource, Task
from .workbooks import MAX_ROW_CELLS, WorkbookTooLarge, check_archive, scan_sheet, sheet_parts

ACCEPTED_EXTENSIONS = (".csv", ".xlsx")
# Uploads through the web stop here; the command has no row limit.
MAX_ROWS = 100_000
# A read-only XLSX sheet can hold a million formatted but empty rows: stop after this many in a row.
MAX_BLANK_RUN = 1_000
# Cells an uploaded sheet may hold per allowed row (blank ones included), checked in one streaming pass
# before openpyxl reads the sheet; and the columns read at most (a task sheet has a dozen).
MAX_CELLS_PER_ROW = 30
MAX_COLUMNS = MAX_ROW_CELLS
TASK_BATCH_SIZE = 1_000


class ImportFileError(Exception):
    """The file cannot be read as a task table at all (wrong type, too big, not UTF-8, empty)."""


@dataclass(frozen=True)
class Problem:
    """One error or warning. `row` is the spreadsheet row (header = 1); None for the whole file."""

    message: str
    row: int | None = None
    field: str = ""

    def __str__(self) -> str:
        where = ", ".join(part for part in (f"row {self.row}" if self.row else "", self.field) if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[dict[str, str]]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {"headers": self.headers, "rows": [[row.get(h, "") for h in self.headers] for row in self.rows]}
        )

    @classmethod
    def from_json(cls, text: str) -> Table:
        data = json.loads(text)
        headers = data["headers"]
        return cls(
            headers=headers, rows=[dict(zip(headers, values, strict=False)) for values in data["rows"]]
        )


@dataclass(frozen=True)
class ParsedTask:
    row: int
    job_key: str
    statement: str
    kind: str
    mode: str
    hours_per_week: Decimal
    people_share: Decimal
    time_saved: Decimal
    exposure_label: str
    label_source: str
    notes: str


@dataclass
class ParsedJob:
    title: str  # as first written in the file
    first_row: int
    headcount: int
    hourly_cost: Decimal
    # Rows that gave each job-level value explicitly (a blank cell means "not said", not the default).
    given_in: dict[str, int] = field(default_factory=dict)


@dataclass
class ParseResult:
    tasks: list[ParsedTask] = field(default_factory=list)
    jobs: dict[str, ParsedJob] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    data_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPlan:
    parsed: ParseResult
    new_jobs: list[ParsedJob]
    existing_jobs: list[Job]
    warnings: list[Problem]


@dataclass(frozen=True)
class ImportResult:
    tasks_created: int
    jobs_created: int


def job_key(title: str) -> str:
    return " ".join(title.split()).casefold()


# --- reading files ---------------------------------------------------------------------------------


def read_upload(
    filename: str, data: bytes, max_bytes: int | None = None, max_rows: int | None = MAX_ROWS
) -> Table:
    extension = Path(filename).suffix.lower()
    if extension == ".xls":
        raise ImportFileError(
            "Old Excel .xls workbooks are not supported: save the sheet as .xlsx or as CSV UTF-8."
        )
    if extension not in ACCEPTED_EXTENSIONS:
        raise ImportFileError(f'"{filename}" is not a CSV or XLSX file: upload a .csv (UTF-8) or .xlsx file.')
    if max_bytes is not None and len(data) > max_bytes:
        raise ImportFileError(
            f"The file is {_size(len(data))}; the largest accepted is {_size(max_bytes)}. Split it into smaller files."
        )
    if not data.strip():
        raise ImportFileError("The file is empty: it needs a header row and at least one task row.")
    if extension == ".xlsx":
        return read_xlsx(data, max_rows=max_rows)
    return read_csv(data, max_rows=max_rows)


def read_csv(data: bytes, max_rows: int | None = MAX_ROWS) -> Table:
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            "This file is an Excel workbook, not CSV text: rename it to .xlsx or save it as CSV UTF-8."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            'The file is UTF-16 text; save it as "CSV UTF-8 (Comma delimited)" or upload the .xlsx workbook.'
        )
    if b"\x00" in data[:8192]:
        raise ImportFileError("The file looks binary, not CSV text: upload a .csv (UTF-8) or .xlsx file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex().upper()
        raise ImportFileError(
            f"The file is not UTF-8 text (line {line} has the byte 0x{byte}). In Excel choose "
            '"CSV UTF-8 (Comma delimited)" when saving, or upload the .xlsx workbook.'
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = _limited(reader, max_rows)
        return _table(records)
    except csv.Error as error:
        raise ImportFileError(f"The CSV cannot be read near line {reader.line_num}: {error}.") from None


def read_xlsx(data: bytes, max_rows: int | None = MAX_ROWS, max_cells: int | None = None) -> Table:
    """The first sheet of a workbook, refused before it is parsed when it unpacks to more than
    ``settings.IMPORT_MAX_UNPACKED_BYTES`` or a sheet holds more cells than the budget (workbooks.py).
    Without `max_cells`, the budget is MAX_CELLS_PER_ROW cells per allowed row (none without max_rows)."""
    import openpyxl

    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError("This file is not an Excel workbook: upload a real .xlsx file or a .csv file.")
    if max_cells is None and max_rows is not None:
        max_cells = (max_rows + 1) * MAX_CELLS_PER_ROW
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_archive(archive, settings.IMPORT_MAX_UNPACKED_BYTES)
            # Every sheet, before openpyxl opens any: on opening, it scans a sheet without a declared
            # dimension from end to end in Python.
            for part in sheet_parts(archive):
                with archive.open(part) as stream:
                    scan_sheet(stream, max_cells)
    except WorkbookTooLarge as error:
        raise ImportFileError(str(error)) from None
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, EOFError):
        raise ImportFileError("The workbook is damaged or not an .xlsx file; it was not read.") from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, InvalidFileException, ValueError...)
        raise ImportFileError("The workbook cannot be read as .xlsx (damaged, or another format).") from None
    try:
        if not workbook.worksheets:
            raise ImportFileError("The workbook has no sheets.")
        sheet = workbook.worksheets[0]
        # max_col: the sheet's declared dimension may claim 16,384 columns; blank rows are that wide.
        rows = sheet.iter_rows(values_only=True, max_col=min(sheet.max_column or MAX_COLUMNS, MAX_COLUMNS))
        records = _limited(([_cell_text(value) for value in row] for row in rows), max_rows)
        table = _table(records)
        if len(workbook.worksheets) > 1:
            table.warnings.append(f'Only the first sheet ("{sheet.title}") was read.')
        return table
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    return str(value)


def _limited(records, max_rows: int | None) -> list[list[str]]:
    """Records up to the last non-blank one; at most max_rows data rows (header excluded)."""
    kept: list[list[str]] = []
    blank_run = 0
    filled = 0
    for record in records:
        if any(cell.strip() for cell in record):
            blank_run = 0
            filled += 1
            if max_rows is not None and filled > max_rows + 1:  # + 1: the header row
                raise ImportFileError(
                    f"The file has more than {max_rows:,} rows: split it into smaller files."
                )
        else:
            blank_run += 1
            if blank_run > MAX_BLANK_RUN and kept:
                break
        kept.append(record)
    while kept and not any(cell.strip() for cell in kept[-1]):
        kept.pop()
    return kept


def _table(records: list[list[str]]) -> Table:
    if not records:
        raise ImportFileError("The file is empty: it needs a header row and at least one task row.")
    headers = [cell.strip() for cell in records[0]]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise ImportFileError("The first row must name the columns (job, task, ...); it is empty.")
    width = len(headers)
    rows = []
    for record in records[1:]:
        cells = list(record[:width]) + [""] * (width - len(record))
        # Later duplicates of a header overwrite earlier ones here; parse_rows reports duplicates.
        rows.append(dict(zip(headers, cells, strict=True)))
    return Table(headers=headers, rows=rows)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


# --- parsing (pure) --------------------------------------------------------------------------------


def parse_rows(
    rows: Sequence[Mapping[str, Any]], headers: Sequence[str] | None = None, first_row: int = 2
) -> ParseResult:
    """Validate every row; return the valid tasks, their jobs, and every problem found.

    `rows` are dicts keyed by the file's header cells (any case, spacing); `first_row` is the
    spreadsheet row number of rows[0]. Blank rows are skipped but still counted in row numbers.
    """
    result = ParseResult()
    if headers is None:
        headers = list(dict.fromkeys(key for row in rows for key in row))
    source = _map_headers(headers, result)
    if result.errors:
        return result

    for index, row in enumerate(rows):
        number = first_row + index
        cells = {name: _text(row.get(header)) for name, header in source.items()}
        if not any(cells.values()) and not any(_text(value) for value in row.values()):
            continue
        result.data_rows += 1
        _parse_row(number, cells, result)

    if not result.data_rows:
        result.errors.append(Problem("The file has a header row but no task rows."))
    _warn_repeats(result)
    return result


def _map_headers(headers: Sequence[str], result: ParseResult) -> dict[str, str]:
    """Canonical column name -> the header cell that holds it; header problems go to result."""
    source: dict[str, str] = {}
    unknown: list[str] = []
    for header in headers:
        if not str(header).strip():
            continue
        name = column_name(header)
        if name not in COLUMNS_BY_NAME:
            unknown.append(str(header).strip())
        elif name in source:
            result.errors.append(
                Problem(f'The column "{name}" appears more than once ("{source[name]}" and "{header}").')
            )
        elif COLUMNS_BY_NAME[name].importable:
            source[name] = header
    for column in IMPORT_COLUMNS:
        if column.required and column.name not in source:
            found = ", ".join(f'"{h}"' for h in headers if str(h).strip()) or "none"
            result.errors.append(
                Problem(f'Missing required column "{column.name}" (the header row has: {found}).')
            )
    if unknown:
        accepted = ", ".join(column.name for column in IMPORT_COLUMNS)
        result.warnings.append(
            Problem(f"Unknown columns ignored: {', '.join(unknown)}. Accepted columns: {accepted}.")
        )
    return source


def _text(value: Any) -> str:
    return "" if value is None else (value if isinstance(value, str) else _cell_text(value))


def _parse_row(number: int, cells: dict[str, str], result: ParseResult) -> None:
    values: dict[str, Any] = {}
    given: list[str] = []  # job-level columns this row fills in (blank means "not said")
    errors = len(result.errors)
    for column in IMPORT_COLUMNS:
        raw = cells.get(column.name, "")
        if not raw.strip():
            if column.required:
                result.errors.append(Problem("is required", number, column.name))
            values[column.name] = column.default
            continue
        try:
            values[column.name] = column.parse(raw)
        except CellError as error:
            result.errors.append(Problem(str(error), number, column.name))
            continue
        if column.job_field:
            given.append(column.name)
        if column.required and not values[column.name]:
            result.errors.append(Problem("is required", number, column.name))

    if values.get("label_source") and not values.get("exposure_label"):
        result.errors.append(
            Problem(
                f'"{values["label_source"]}" is given but exposure_label is blank', number, "label_source"
            )
        )
    if not values.get("job"):
        return
    # Job-level values are checked even when other cells of the row are wrong, so a conflict is
    # reported in the same pass as the rest.
    key = job_key(values["job"])
    job = result.jobs.get(key)
    if job is None:
        job = result.jobs[key] = ParsedJob(
            title=" ".join(values["job"].split()),
            first_row=number,
            headcount=values.get("headcount", COLUMNS_BY_NAME["headcount"].default),
            hourly_cost=values.get("hourly_cost", COLUMNS_BY_NAME["hourly_cost"].default),
        )
    for name in given:
        earlier = job.given_in.get(name)
        if earlier is None:
            setattr(job, name, values[name])
            job.given_in[name] = number
        elif getattr(job, name) != values[name]:
            result.errors.append(
                Problem(
                    f'{_plain(values[name])} conflicts with {_plain(getattr(job, name))} given for job "{job.title}" '
                    f"in row {earlier}; use one value per job",
                    number,
                    name,
                )
            )
    if len(result.errors) > errors:
        return
    label_source = values["label_source"] or ("human" if values["exposure_label"] else "")
    result.tasks.append(
        ParsedTask(
            row=number,
            job_key=key,
            statement=values["task"],
            kind=values["kind"],
            mode=values["mode"],
            hours_per_week=values["hours_per_week"],
            people_share=values["people_share"],
            time_saved=values["time_saved"],
            exposure_label=values["exposure_label"],
            label_source=label_source,
            notes=values["notes"],
        )
    )


def _plain(value: Any) -> str:
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


def _warn_repeats(result: ParseResult) -> None:
    seen: dict[tuple[str, str], int] = {}
    repeats: list[str] = []
    for task in result.tasks:
        key = (task.job_key, task.statement.casefold())
        if key in seen:
            repeats.append(f"row {task.row} (same as row {seen[key]})")
        else:
            seen[key] = task.row
    if repeats:
        result.warnings.append(
            Problem(f"{len(repeats)} rows repeat a task of the same job: {_listing(repeats)}.")
        )


def _listing(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- planning and applying (database) ---------------------------------------------------------------


def _team_jobs(team: Team) -> dict[str, list[Job]]:
    jobs: dict[str, list[Job]] = {}
    for job in Job.objects.filter(team=team).only("id", "title", "headcount", "hourly_cost"):
        jobs.setdefault(job_key(job.title), []).append(job)
    return jobs


def _match(candidates: list[Job], title: str) -> Job:
    return next((job for job in candidates if job.title == title), candidates[0])


def plan_import(team: Team, parsed: ParseResult) -> ImportPlan:
    """What applying would do (new jobs, existing jobs used) and what the user should know: two queries."""
    team_jobs = _team_jobs(team)
    new_jobs: list[ParsedJob] = []
    existing: list[Job] = []
    warnings = list(parsed.warnings)
    for key, parsed_job in parsed.jobs.items():
        if key not in team_jobs:
            new_jobs.append(parsed_job)
            continue
        job = _match(team_jobs[key], parsed_job.title)
        existing.append(job)
        kept = [
            f"{name} {_plain(getattr(job, name))} (the file says {_plain(getattr(parsed_job, name))}, row {row})"
            for name, row in parsed_job.given_in.items()
            if getattr(job, name) != getattr(parsed_job, name)
        ]
        if kept:
            warnings.append(Problem(f'The existing job "{job.title}" keeps its {" and ".join(kept)}.'))

    if existing:
        existing_ids = {job.id: job_key(job.title) for job in existing}
        known = {
            (existing_ids[job_id], statement.casefold())
            for job_id, statement in Task.objects.filter(job_id__in=list(existing_ids)).values_list(
                "job_id", "statement"
            )
        }
        again = [f"row {t.row}" for t in parsed.tasks if (t.job_key, t.statement.casefold()) in known]
        if again:
            warnings.append(
                Problem(
                    f"{len(again)} tasks already exist in their job with the same statement; importing adds "
                    f"them again: {_listing(again)}."
                )
            )
    return ImportPlan(parsed=parsed, new_jobs=new_jobs, existing_jobs=existing, warnings=warnings)


def apply_import(team: Team, parsed: ParseResult) -> ImportResult:
    """Create the missing jobs and every task, all or nothing."""
    if parsed.errors:
        raise ValueError("An import with errors imports nothing.")
    with transaction.atomic():
        team_jobs = _team_jobs(team)
        new_jobs = [
            Job(team=team, title=job.title, headcount=job.headcount, hourly_cost=job.hourly_cost)
            for key, job in parsed.jobs.items()
            if key not in team_jobs
        ]
        # ignore_conflicts: a job created by a concurrent import since is simply reused below.
        Job.objects.bulk_create(new_jobs, batch_size=500, ignore_conflicts=True)
        if new_jobs:
            team_jobs = _team_jobs(team)
        job_ids = {key: _match(team_jobs[key], job.title).id for key, job in parsed.jobs.items()}
        tasks = [
            Task(
                job_id=job_ids[task.job_key],
                statement=task.statement,
                kind=task.kind,
                mode=task.mode,
                hours_per_week=task.hours_per_week,
                people_share=task.people_share,
                time_saved=task.time_saved,
                exposure_label=task.exposure_label,
                label_source=task.label_source,
                notes=task.notes,
            )
            for task in parsed.tasks
        ]
        Task.objects.bulk_create(tasks, batch_size=TASK_BATCH_SIZE)
        if any(task.label_source == LabelSource.HUMAN for task in tasks):
            from .triage import service as triage_service  # the pre-screen learns the new labels

            transaction.on_commit(lambda: triage_service.labels_changed(team))
    return ImportResult(tasks_created=len(tasks), jobs_created=len(new_jobs))


# --- pending uploads between preview and confirm -----------------------------------------------------

PENDING_MAX_AGE = 24 * 60 * 60
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _pending_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_pending(table: Table) -> str:
    """Keep a previewed table on disk until it is confirmed; returns its token. Prunes stale ones."""
    folder = _pending_dir()
    cutoff = time.time() - PENDING_MAX_AGE
    for stale in folder.glob("*.json"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
        except FileNotFoundError:
            pass
    token = uuid.uuid4().hex
    (folder / f"{token}.json").write_text(table.to_json(), encoding="utf-8")
    return token


def load_pending(token: str) -> Table | None:
    if not _TOKEN.match(token or ""):
        return None
    path = _pending_dir() / f"{token}.json"
    try:
        return Table.from_json(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def discard_pending(token: str) -> None:
    if _TOKEN.match(token or ""):
        (_pending_dir() / f"{token}.json").unlink(missing_ok=True)
