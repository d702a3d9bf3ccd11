"""Test cases from CSV or JSONL: pure parsing and validation with one error per row and field.

CSV columns: `key` (optional), `input.<variable>` (at least one), `expected_output`, `expected_label`,
`sensitive.<attribute>`, `tags` (separated by commas or semicolons). Row numbers count the header as
row 1, as spreadsheets do.

JSONL: one object per line: {"key": ..., "input": {...}, "expected_output": ..., "expected_label": ...,
"sensitive": {...}, "tags": [...]}; line numbers start at 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ROWS = 20_000
MAX_VALUE_CHARS = 20_000
CSV_FIXED = {"key", "expected_output", "expected_label", "tags"}
JSONL_KEYS = {"key", "input", "expected_output", "expected_label", "sensitive", "tags"}


@dataclass
class CaseData:
    inputs: dict[str, Any]
    expected_output: str = ""
    expected_label: str = ""
    sensitive_attributes: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    key: str = ""

    def content(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "expected_output": self.expected_output,
            "expected_label": self.expected_label,
            "sensitive_attributes": self.sensitive_attributes,
            "tags": self.tags,
        }


class ImportFailed(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors[:5]))


def validate_case(data: CaseData) -> dict[str, str]:
    """Errors by field name (`key`, `input`, `input.<name>`, `sensitive.<name>`, `tags`...)."""
    errors: dict[str, str] = {}
    if data.key and not KEY.match(data.key):
        errors["key"] = (
            f"{data.key!r} is not a valid key: up to 100 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    if not data.inputs:
        errors["input"] = "a test case needs at least one input variable"
    for name, value in data.inputs.items():
        where = f"input.{name}"
        if not VARIABLE.match(name):
            errors[where] = "variable names use letters, digits and underscores, starting with a letter"
        elif isinstance(value, dict | list):
            errors[where] = "must be text or a number, not a list or an object"
        elif value is None or (isinstance(value, str) and not value.strip()):
            errors[where] = "must not be empty"
        elif isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            errors[where] = f"is {len(value):,} characters long; the limit is {MAX_VALUE_CHARS:,}"
    for name, value in data.sensitive_attributes.items():
        if not VARIABLE.match(name):
            errors[f"sensitive.{name}"] = "attribute names use letters, digits and underscores"
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            errors[f"sensitive.{name}"] = "must be text or a number"
    if len(data.expected_label) > 200:
        errors["expected_label"] = "must be at most 200 characters"
    if len(data.expected_output) > MAX_VALUE_CHARS:
        errors["expected_output"] = f"must be at most {MAX_VALUE_CHARS:,} characters"
    for tag in data.tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 50:
            errors["tags"] = f"each tag must be text of 1 to 50 characters, got {tag!r}"
            break
    return errors


def split_tags(raw: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in re.split(r"[,;]", raw or "") if t.strip()))


def parse_csv(text: str) -> list[CaseData]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFailed(
            ["the file is empty: expected a header row with input.<variable> columns"]
        ) from None
    errors = _check_csv_header(header)
    if errors:
        raise ImportFailed(errors)
    cases: list[tuple[int, CaseData]] = []
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors.append(f"row {row_number}: has {len(row)} cells, the header has {len(header)}")
            continue
        cells = dict(zip(header, row, strict=True))
        data = CaseData(
            key=cells.get("key", "").strip(),
            inputs={h[6:]: cells[h] for h in header if h.startswith("input.")},
            expected_output=cells.get("expected_output", ""),
            expected_label=cells.get("expected_label", "").strip(),
            sensitive_attributes={
                h[10:]: cells[h].strip() for h in header if h.startswith("sensitive.") and cells[h].strip()
            },
            tags=split_tags(cells.get("tags", "")),
        )
        errors += [f"row {row_number}, {name}: {message}" for name, message in validate_case(data).items()]
        cases.append((row_number, data))
    return _finish(cases, errors, "row")


def parse_jsonl(text: str) -> list[CaseData]:
    cases: list[tuple[int, CaseData]] = []
    errors: list[str] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
        except json.JSONDecodeError as exc:
            errors.append(f"line {line_number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except _NotFinite as exc:
            errors.append(f"line {line_number}: {exc} is not a number JSON allows; write a finite number")
            continue
        if not isinstance(item, dict):
            errors.append(f"line {line_number}: expected a JSON object, got {type(item).__name__}")
            continue
        unknown = sorted(set(item) - JSONL_KEYS)
        if unknown:
            errors.append(
                f"line {line_number}: unknown field {', '.join(unknown)} (known: {', '.join(sorted(JSONL_KEYS))})"
            )
            continue
        shape = _jsonl_shape_errors(item)
        if shape:
            errors += [f"line {line_number}, {name}: {message}" for name, message in shape.items()]
            continue
        tags = item.get("tags") or []
        data = CaseData(
            key=str(item.get("key") or "").strip(),
            inputs=item.get("input") or {},
            expected_output=str(item.get("expected_output") or ""),
            expected_label=str(item.get("expected_label") or "").strip(),
            sensitive_attributes={
                k: v for k, v in (item.get("sensitive") or {}).items() if v not in (None, "")
            },
            tags=split_tags(tags) if isinstance(tags, str) else tags,
        )
        errors += [f"line {line_number}, {name}: {message}" for name, message in validate_case(data).items()]
        cases.append((line_number, data))
    return _finish(cases, errors, "line")


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    # json.loads reads NaN, Infinity and -Infinity by default; PostgreSQL's jsonb refuses them.
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 overflows to infinity
        raise _NotFinite(text)
    return value


def parse_upload(name: str, raw: bytes) -> list[CaseData]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed(["the file is not UTF-8 text; save it as UTF-8 CSV or JSONL"]) from None
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return parse_jsonl(text)
    if lowered.endswith(".csv"):
        return parse_csv(text)
    raise ImportFailed([f"{name!r}: expected a .csv or .jsonl file"])


def _check_csv_header(header: list[str]) -> list[str]:
    errors = []
    seen = set()
    for number, column in enumerate(header, start=1):
        if column in seen:
            errors.append(f"header: column {column!r} appears twice")
        seen.add(column)
        prefix, _, name = column.partition(".")
        if column in CSV_FIXED:
            continue
        if prefix in {"input", "sensitive"} and VARIABLE.match(name):
            continue
        errors.append(
            f"header, column {number}: unknown column {column!r} (expected key, input.<variable>, "
            "expected_output, expected_label, sensitive.<attribute>, tags)"
        )
    if not any(c.startswith("input.") for c in header):
        errors.append("header: no input.<variable> column; name each input variable like input.ticket")
    return errors


def _jsonl_shape_errors(item: dict[str, Any]) -> dict[str, str]:
    errors = {}
    if not isinstance(item.get("input"), dict):
        errors["input"] = 'must be an object of variables, e.g. {"ticket": "..."}'
    if item.get("sensitive") is not None and not isinstance(item["sensitive"], dict):
        errors["sensitive"] = 'must be an object, e.g. {"gender": "female"}'
    tags = item.get("tags")
    if tags is not None and not isinstance(tags, list | str):
        errors["tags"] = "must be a list of text"
    for name in ("key", "expected_output", "expected_label"):
        if item.get(name) is not None and not isinstance(item[name], str | int | float):
            errors[name] = "must be text"
    return errors


def _finish(cases: list[tuple[int, CaseData]], errors: list[str], unit: str) -> list[CaseData]:
    if len(cases) > MAX_ROWS:
        errors.append(f"the file has {len(cases):,} cases; the limit is {MAX_ROWS:,} per import")
    first_seen: dict[str, int] = {}
    for number, case in cases:
        if not case.key:
            continue
        if case.key in first_seen:
            errors.append(f"{unit} {number}, key: {case.key!r} already used on {unit} {first_seen[case.key]}")
        else:
            first_seen[case.key] = number
    if not cases and not errors:
        errors.append("the file has no test cases")
    if errors:
        raise ImportFailed(errors)
    return [case for _, case in cases]
