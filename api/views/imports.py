"""Bulk task import: the same parsing, row errors and all-or-nothing apply as the import page
(opportunities/importing.py), from JSON rows or an uploaded CSV/XLSX file."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from opportunities.importing import (
    ImportFileError,
    ParseResult,
    Problem,
    apply_import,
    parse_rows,
    plan_import,
    read_upload,
)

from ..errors import ImportRejected
from ..serializers.portfolio import ImportFileSerializer, ImportResultSerializer, ImportRowsSerializer
from .base import TeamScoped


def _problem(problem: Problem) -> dict:
    return {"row": problem.row, "field": problem.field, "message": problem.message}


def _nul_problems(rows: list[dict]) -> list[Problem]:
    """Text with NUL characters cannot be stored; say where instead of failing at the database."""
    found = []
    for index, row in enumerate(rows):
        for key, value in row.items():
            if "\x00" in str(key) or "\x00" in str(value):
                found.append(Problem("contains a NUL character", index + 2, str(key).replace("\x00", "")))
    return found


class TaskImport(TeamScoped, generics.GenericAPIView):
    parser_classes = [JSONParser, MultiPartParser]
    serializer_class = ImportRowsSerializer

    @extend_schema(
        request={"application/json": ImportRowsSerializer, "multipart/form-data": ImportFileSerializer},
        responses={201: ImportResultSerializer, 200: ImportResultSerializer},
        description="Imports tasks (creating missing jobs by title) in one transaction: with any row "
        "error nothing is imported and the 400 error lists every problem in `rows` (row, field, message). "
        "`dry_run` checks and plans without importing (200).",
    )
    def post(self, request, team_slug: str):
        access = self.access(write=True)
        if request.content_type.startswith("multipart/"):
            form = ImportFileSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            upload = form.validated_data["file"]
            try:
                table = read_upload(upload.name, upload.read(), max_bytes=settings.IMPORT_MAX_BYTES)
            except ImportFileError as error:
                raise ValidationError({"file": [str(error)]}) from None
            parsed = parse_rows(table.rows, table.headers)
            dry_run = form.validated_data["dry_run"]
        else:
            body = ImportRowsSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            rows = body.validated_data["rows"]
            problems = _nul_problems(rows)
            parsed = parse_rows(rows) if not problems else ParseResult(errors=problems)
            dry_run = body.validated_data["dry_run"]
        if parsed.errors:
            count = len(parsed.errors)
            raise ImportRejected(
                f"{count} problem{'s' if count != 1 else ''} found; nothing was imported.",
                [_problem(p) for p in parsed.errors],
            )
        plan = plan_import(access.team, parsed)
        result = {
            "dry_run": dry_run,
            "tasks_created": 0,
            "jobs_created": 0,
            "new_jobs": [job.title for job in plan.new_jobs],
            "warnings": [str(w) for w in plan.warnings],
        }
        if dry_run:
            return Response(result, status=status.HTTP_200_OK)
        done = apply_import(access.team, parsed)
        result.update(tasks_created=done.tasks_created, jobs_created=done.jobs_created)
        return Response(result, status=status.HTTP_201_CREATED)
