"""The portfolio's spreadsheet columns, in one place: the importer parses them, the exporter writes them.

Each column says how an imported cell is parsed (``parse``; None for columns the export writes but an
import ignores, such as the computed annual value) and how a task's value is read for export
(``export``; the task must have its job loaded). Parsers are pure: text in, value out, or CellError with
a message that says what is accepted and what was found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from accounts.spreadsheets import escape_formula, unescape_formula

from .limits import NOTES_MAX_LENGTH, STATEMENT_MAX_LENGTH, TITLE_MAX_LENGTH

if TYPE_CHECKING:
    from .models import Task


class CellError(ValueError):
    """A cell's value is not acceptable; the message says why (the caller adds row and column)."""


Parser = Callable[[str], Any]

# Exports quote text a spreadsheet would run as a formula; imports drop that quote again so an exported
# file round-trips (accounts.spreadsheets, shared by every export).
__all__ = ["escape_formula", "unescape_formula"]


def _got(raw: str) -> str:
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    return f'(got "{shown}")'


def text_parser(max_length: int | None = None) -> Parser:
    def parse(raw: str) -> str:
        value = unescape_formula(raw.strip()).strip()
        if max_length is not None and len(value) > max_length:
            raise CellError(f"must be at most {max_length:,} characters (got {len(value):,})")
        return value

    return parse


def choice_parser(values: list[str]) -> Parser:
    by_key = {value.lower(): value for value in values}

    def parse(raw: str) -> str:
        value = by_key.get(raw.strip().lower())
        if value is None:
            raise CellError(f"must be one of {', '.join(values)} {_got(raw)}")
        return value

    return parse


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def number_parser(low: int, high: int, places: int, percent: bool = False) -> Parser:
    """A decimal in [low, high], rounded to `places`; with `percent`, "50%" is read as 0.5."""
    step = Decimal(1).scaleb(-places)
    expected = f"must be a number between {low} and {high}" + (", or a percentage" if percent else "")

    def parse(raw: str) -> Decimal:
        text = raw.strip()
        if percent and text.endswith("%"):
            value = _decimal(text[:-1])
            value = value / 100 if value is not None else None
        else:
            value = _decimal(text)
        # The range is checked before rounding: quantize refuses a number as large as 1e30.
        if value is None or not low <= value <= high:
            raise CellError(f"{expected} {_got(raw)}")
        value = value.quantize(step, rounding=ROUND_HALF_UP)
        if not low <= value <= high:
            raise CellError(f"{expected} {_got(raw)}")
        return value

    return parse


def integer_parser(low: int, high: int) -> Parser:
    def parse(raw: str) -> int:
        value = _decimal(raw)
        if value is None or not low <= value <= high or value != value.to_integral_value():
            raise CellError(f"must be a whole number between {low} and {high} {_got(raw)}")
        return int(value)

    return parse


@dataclass(frozen=True)
class Column:
    name: str
    help: str
    export: Callable[[Task], Any]
    parse: Parser | None = None  # None: written by the export, ignored by the import
    required: bool = False
    default: Any = None
    job_field: bool = False  # a property of the job: one value per job across the file
    example: str = ""

    @property
    def importable(self) -> bool:
        return self.parse is not None


KINDS = ["write", "read", "chat", "other"]
MODES = ["augment", "automate"]
EXPOSURES = ["E0", "E1", "E2"]
LABEL_SOURCES = ["human", "predicted"]
VERDICTS = ["automation-ready", "augmentation-ready", "not-yet", "untested"]

def _job_exposure(key: str) -> Callable[[Task], Any]:
    """Reads one figure of `task.job.exposure` (set by opportunities.exposure.attach), rounded to 0.001;
    blank when the job has no labelled time."""
    attribute = {"e1": "e1_share", "e2": "e2_share", "predicted": "predicted_share"}.get(key, key)

    def export(task: Task) -> Any:
        job_exposure = getattr(task.job, "exposure", None)
        value = getattr(job_exposure, attribute, None) if job_exposure is not None else None
        return None if value is None else Decimal(value).quantize(Decimal("0.001"))

    return export


COLUMNS: tuple[Column, ...] = (
    Column(
        "job",
        "Job title. Jobs are matched by title (ignoring case and extra spaces) and created when missing.",
        export=lambda task: task.job.title,
        parse=text_parser(TITLE_MAX_LENGTH),
        required=True,
        example="Support agent",
    ),
    Column(
        "task",
        "What the task is, in one sentence.",
        export=lambda task: task.statement,
        parse=text_parser(STATEMENT_MAX_LENGTH),
        required=True,
        example="Answer customer emails about billing",
    ),
    Column(
        "kind",
        "write, read, chat or other.",
        export=lambda task: task.kind,
        parse=choice_parser(KINDS),
        default="other",
        example="write",
    ),
    Column(
        "mode",
        "augment (the model helps a person) or automate (the model does it).",
        export=lambda task: task.mode,
        parse=choice_parser(MODES),
        default="augment",
        example="augment",
    ),
    Column(
        "hours_per_week",
        "Hours per week each person doing the task spends on it, 0 to 80.",
        export=lambda task: task.hours_per_week,
        parse=number_parser(0, 80, places=2),
        default=Decimal("1.00"),
        example="6",
    ),
    Column(
        "people_share",
        "Share of the job's people who do the task, 0 to 1 (or a percentage such as 50%).",
        export=lambda task: task.people_share,
        parse=number_parser(0, 1, places=3, percent=True),
        default=Decimal("1.000"),
        example="0.8",
    ),
    Column(
        "time_saved",
        "Expected share of the task's time saved, 0 to 1 (or a percentage).",
        export=lambda task: task.time_saved,
        parse=number_parser(0, 1, places=3, percent=True),
        default=Decimal("0.300"),
        example="0.4",
    ),
    Column(
        "exposure_label",
        "E0 (no exposure), E1 (direct, chat) or E2 (through LLM-powered software); blank if unlabelled.",
        export=lambda task: task.exposure_label,
        parse=choice_parser(EXPOSURES),
        default="",
        example="E1",
    ),
    Column(
        "label_source",
        "human or predicted: who gave the exposure label. Defaults to human when a label is given.",
        export=lambda task: task.label_source,
        parse=choice_parser(LABEL_SOURCES),
        default="",
        example="human",
    ),
    Column(
        "headcount",
        "People in the job, a whole number from 1. One value per job.",
        export=lambda task: task.job.headcount,
        parse=integer_parser(1, 1_000_000),
        default=1,
        job_field=True,
        example="12",
    ),
    Column(
        "hourly_cost",
        "Loaded cost of one hour of the job, 0 to 10000. One value per job.",
        export=lambda task: task.job.hourly_cost,
        parse=number_parser(0, 10_000, places=2),
        default=Decimal("50.00"),
        job_field=True,
        example="45",
    ),
    Column(
        "annual_value",
        "Computed annual business value (export only; ignored on import).",
        export=lambda task: task.value_breakdown().annual_value,
    ),
    Column(
        "verdict",
        "Feasibility verdict from experiments (export only; ignored on import).",
        export=lambda task: task.verdict,
    ),
    Column(
        "verdict_warning",
        "Why the verdict needs a second look, e.g. reviews that disagree with the scorer (export only).",
        export=lambda task: " ".join(task.verdict_warnings or []),
    ),
    *(
        Column(
            f"job_exposure_{key}",
            f"{what} (export only; human labels where present, predictions otherwise).",
            export=_job_exposure(key),
        )
        for key, what in (
            ("e1", "Share of the job's labelled time in E1 tasks, 0 to 1"),
            ("e2", "Share of the job's labelled time in E2 tasks, 0 to 1"),
            ("e1_half_e2", "The job's exposed time, E1 + ½·E2, 0 to 1"),
            ("e1_e2", "The job's exposed time, E1 + E2, 0 to 1"),
            ("predicted", "Share of the job's labelled time whose label is a prediction, 0 to 1"),
        )
    ),
    Column(
        "notes",
        "Free text.",
        export=lambda task: task.notes,
        parse=text_parser(NOTES_MAX_LENGTH),
        default="",
        example="",
    ),
    Column(
        "task_code",
        "The task's identifier in Assay (export only; an import always adds new tasks).",
        export=lambda task: str(task.code),
    ),
)

COLUMNS_BY_NAME = {column.name: column for column in COLUMNS}
IMPORT_COLUMNS = tuple(column for column in COLUMNS if column.importable)

# Other spellings people use for a column, after normalising (lower case, spaces and dashes as "_").
ALIASES = {
    "statement": "task",
    "task_statement": "task",
    "job_title": "job",
    "exposure": "exposure_label",
    "code": "task_code",
}


def column_name(header: object) -> str:
    """The canonical column name for a header cell ("Hours per week " -> "hours_per_week")."""
    name = re.sub(r"[\s\-]+", "_", str(header if header is not None else "").strip().lower())
    return ALIASES.get(name, name)
