"""Results export: one row per generation with its case, run and scores. Columns live here, once.

JSONL rows carry `schema` = EXPORT_SCHEMA so consumers can tell versions apart; CSV flattens inputs and
scores into `input.<name>` and `score.<position>.<scorer>` columns.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accounts.spreadsheets import escape_formula

EXPORT_SCHEMA = "assay.generations/1"

COLUMNS = [
    "experiment",
    "run",
    "prompt",
    "prompt_version",
    "model",
    "params",
    "case",
    "case_version",
    "repeat",
    "expected_label",
    "expected_output",
    "output",
    "finish_reason",
    "error",
    "tokens_in",
    "tokens_out",
    "latency_s",
    "cost",
    "weighted_score",
    "passed",
    "reused",
]


@dataclass(frozen=True)
class ExportScore:
    position: int
    scorer: str
    version: str
    value: float | None
    passed: bool | None
    status: str
    rationale: str


@dataclass(frozen=True)
class ExportRow:
    experiment: str
    run: str
    prompt: str
    prompt_version: int
    model: str
    params: str
    case: str
    case_version: int
    repeat: int
    inputs: dict[str, Any]
    expected_label: str
    expected_output: str
    output: str
    finish_reason: str
    error: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    cost: Decimal
    weighted_score: float | None
    passed: bool | None
    reused: bool
    scores: tuple[ExportScore, ...] = ()

    def base(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "run": self.run,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "params": self.params,
            "case": self.case,
            "case_version": self.case_version,
            "repeat": self.repeat + 1,
            "expected_label": self.expected_label,
            "expected_output": self.expected_output,
            "output": self.output,
            "finish_reason": self.finish_reason,
            "error": self.error,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "latency_s": round(self.latency_s, 4),
            "cost": str(self.cost),
            "weighted_score": self.weighted_score,
            "passed": self.passed,
            "reused": self.reused,
        }


def jsonl_lines(rows: Iterable[ExportRow]) -> Iterator[str]:
    for row in rows:
        data = {"schema": EXPORT_SCHEMA, **row.base(), "inputs": row.inputs}
        data["scores"] = [
            {
                "scorer": s.scorer,
                "version": s.version,
                "value": s.value,
                "passed": s.passed,
                "status": s.status,
                "rationale": s.rationale,
            }
            for s in row.scores
        ]
        yield json.dumps(data, ensure_ascii=False) + "\n"


def csv_header(input_names: list[str], scorer_columns: list[tuple[int, str]]) -> list[str]:
    return (
        COLUMNS
        + [f"input.{name}" for name in input_names]
        + [f"score.{position + 1}.{scorer}" for position, scorer in scorer_columns]
    )


def csv_lines(
    rows: Iterable[ExportRow], input_names: list[str], scorer_columns: list[tuple[int, str]]
) -> Iterator[str]:
    """CSV text, one line at a time (for a streaming response). Cells that a spreadsheet would run as a
    formula are prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(csv_header(input_names, scorer_columns))
    yield flush()
    for row in rows:
        base = row.base()
        values = [base[c] for c in COLUMNS]
        values += [row.inputs.get(name, "") for name in input_names]
        by_position = {s.position: s for s in row.scores}
        values += [
            "" if (s := by_position.get(position)) is None or s.value is None else round(s.value, 4)
            for position, _ in scorer_columns
        ]
        writer.writerow([_safe(v) for v in values])
        yield flush()


def _safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return escape_formula(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value
