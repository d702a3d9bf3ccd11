"""The JSON Schemas of the report formats (reports/schemas/<kind>-report-<version>.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "schemas"


@cache
def schema_for(kind: str, version: int = 1) -> dict:
    return json.loads((FOLDER / f"{kind}-report-{version}.json").read_text(encoding="utf-8"))


def validate(kind: str, doc: dict) -> None:
    """Raises jsonschema.ValidationError when the document does not follow its schema."""
    import jsonschema

    jsonschema.validate(doc, schema_for(kind, doc.get("schema_version", 1)))
