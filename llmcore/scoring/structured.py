"""Scorers for structured output: valid JSON, and JSON that satisfies a JSON Schema.

An output that is not JSON fails these scorers (status "scored", passed False): producing JSON is
the model's job, so unreadable output is a failure of the output, not of the scorer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import GenerationMeta, Measure, Param, Scorer, ScoringCase, clip, register

_FENCE = re.compile(r"^```[\w-]*[ \t]*\n(?P<body>.*?)\n?```$", re.DOTALL)
_JSON_TYPES = {"any": None, "object": dict, "array": list}


class NotJSON(ValueError):
    pass


def parse_json_output(
    output: str, *, allow_code_fence: bool = True, allow_surrounding_text: bool = False
) -> Any:
    """The JSON value in a model's output, or NotJSON with where and why it failed.

    allow_code_fence accepts a single Markdown fence around the JSON (```json ... ```), which chat
    models add habitually; allow_surrounding_text takes the first JSON object or array in the text.
    """
    text = output.strip()
    if allow_code_fence:
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group("body").strip()
    if not text:
        raise NotJSON("output is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        error = exc
    if allow_surrounding_text:
        decoder = json.JSONDecoder()
        for match in re.finditer(r"[\[{]", text):
            try:
                value, _ = decoder.raw_decode(text, match.start())
                return value
            except json.JSONDecodeError:
                continue
    raise NotJSON(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")


_PARSE_PARAMS = (
    Param("allow_code_fence", "bool", "accept a Markdown ``` fence around the JSON", True),
    Param(
        "allow_surrounding_text", "bool", "accept text before or after the first JSON object or array", False
    ),
)


class _JSONScorer(Scorer):
    def _parse(self, output: str) -> Any:
        return parse_json_output(
            output,
            allow_code_fence=self.params["allow_code_fence"],
            allow_surrounding_text=self.params["allow_surrounding_text"],
        )


@register
class ValidJSON(_JSONScorer):
    name = "json_valid"
    label = "Valid JSON"
    description = "The output is valid JSON (optionally an object or an array)."
    params_spec = (
        *_PARSE_PARAMS,
        Param("require_type", "str", "what the top-level value must be", "any", choices=tuple(_JSON_TYPES)),
    )

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        try:
            value = self._parse(output)
        except NotJSON as exc:
            return Measure(0.0, f"{exc}: {clip(output, 60)}")
        wanted = _JSON_TYPES[self.params["require_type"]]
        if wanted is not None and not isinstance(value, wanted):
            got = _json_type(value)
            return Measure(
                0.0,
                f"valid JSON, but {_ARTICLE[got]} {got} where {_ARTICLE[self.params['require_type']]} "
                f"{self.params['require_type']} is required",
            )
        return Measure(1.0, f"valid JSON ({_json_type(value)})")


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


_ARTICLE = {"object": "an", "array": "an", "string": "a", "boolean": "a", "null": "a", "number": "a"}


def _check_schema(schema: Any) -> None:
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict | bool):
        got = _json_type(schema)
        raise ValueError(f"must be a JSON Schema object, got {_ARTICLE[got]} {got}")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "top level"
        raise ValueError(f"is not a valid JSON Schema ({where}): {exc.message}") from None


MAX_SCHEMA_ERRORS_SHOWN = 3


@register
class JSONSchemaMatch(_JSONScorer):
    name = "json_schema"
    label = "JSON Schema"
    description = "The output is JSON that satisfies a JSON Schema (draft chosen by the schema's $schema)."
    params_spec = (
        Param("schema", "json", "the JSON Schema, as an object or JSON text", check=_check_schema),
        *_PARSE_PARAMS,
    )

    def check_config(self) -> None:
        from jsonschema.validators import validator_for

        schema = self.params["schema"]
        self._validator = validator_for(schema)(schema)

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        try:
            value = self._parse(output)
        except NotJSON as exc:
            return Measure(0.0, f"{exc}: {clip(output, 60)}")
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if not errors:
            return Measure(1.0, "JSON satisfies the schema")
        shown = "; ".join(
            f"at {_json_path(e.absolute_path)}: {e.message}" for e in errors[:MAX_SCHEMA_ERRORS_SHOWN]
        )
        more = (
            f" (and {len(errors) - MAX_SCHEMA_ERRORS_SHOWN} more)"
            if len(errors) > MAX_SCHEMA_ERRORS_SHOWN
            else ""
        )
        return Measure(0.0, f"JSON breaks the schema: {shown}{more}")


def _json_path(path) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
