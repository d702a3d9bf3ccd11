"""Every API error as {"error": {"code", "message", "fields"}}; import errors add "rows"."""

from __future__ import annotations

import logging

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """The request is valid but the object's state refuses it (e.g. starting a started experiment)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the object's current state."

    def __init__(self, message: str, code: str = "conflict"):
        super().__init__(message, code)
        self.error_code = code


class ImportRejected(exceptions.APIException):
    """A bulk import with row errors: nothing was imported; `rows` lists each problem."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "import_invalid"

    def __init__(self, message: str, rows: list[dict]):
        super().__init__(message, "import_invalid")
        self.rows = rows


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": [...], "rows.0.job": [...]}."""
    found: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            found.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list) and detail and all(not isinstance(item, dict | list) for item in detail):
        found[prefix or "non_field_errors"] = [str(item) for item in detail]
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                found.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        found[prefix or "non_field_errors"] = [str(detail)]
    return found


def _validation_body(exc: exceptions.ValidationError) -> dict:
    fields = _flatten(exc.detail)
    general = fields.pop("non_field_errors", [])
    if general:
        message = " ".join(general)
    elif fields:
        message = "Some fields are not valid: " + ", ".join(fields) + "."
    else:
        message = "The request is not valid."
    return error_body("invalid", message, fields)


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        # Anything else is a bug: logged with its traceback, answered in the same shape.
        log.exception("API error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc)
    elif isinstance(exc, ImportRejected):
        response.data = error_body(exc.default_code, str(exc.detail), rows=exc.rows)
    elif isinstance(exc, Conflict):
        response.data = error_body(exc.error_code, str(exc.detail))
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        code = getattr(detail, "code", None) or _default_code(exc, response.status_code)
        response.data = error_body(str(code), str(detail))
    return response


def _default_code(exc, status_code: int) -> str:
    if isinstance(exc, exceptions.APIException):
        return exc.default_code
    return {403: "permission_denied", 404: "not_found"}.get(status_code, "error")
