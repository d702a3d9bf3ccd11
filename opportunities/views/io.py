"""Task import (upload -> preview -> confirm) and portfolio export (CSV, XLSX, JSON)."""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from accounts.pages import page_context

from .. import exporting, exposure
from ..access import get_portfolio_team
from ..columns import IMPORT_COLUMNS
from ..importing import (
    ImportFileError,
    Table,
    apply_import,
    discard_pending,
    load_pending,
    parse_rows,
    plan_import,
    read_upload,
    save_pending,
)

PREVIEW_ROWS = 20
ERRORS_SHOWN = 500
STREAM_CHUNK = 2_000


def _session_key(team_slug: str) -> str:
    return f"task_import:{team_slug}"


@login_required
def task_import(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug, write=True)
    if request.method != "POST":
        if request.GET.get("template"):
            return _template_csv(access.team.slug)
        return _render(request, access, {})
    if "cancel" in request.POST:
        return _cancel(request, access)
    if "token" in request.POST:
        return _confirm(request, access)
    return _preview(request, access)


def _preview(request: HttpRequest, access) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        return _render(request, access, {"file_error": "Choose a CSV or XLSX file to upload."})
    if upload.size > settings.IMPORT_MAX_BYTES:
        return _render(
            request,
            access,
            {
                "file_error": f"The file is {upload.size / 1_000_000:.1f} MB; the largest accepted is "
                f"{settings.IMPORT_MAX_BYTES / 1_000_000:.0f} MB. Split it into smaller files.",
                "filename": upload.name,
            },
        )
    try:
        table = read_upload(upload.name, upload.read(), max_bytes=settings.IMPORT_MAX_BYTES)
    except ImportFileError as error:
        return _render(request, access, {"file_error": str(error), "filename": upload.name})

    session_key = _session_key(access.team.slug)
    discard_pending(request.session.pop(session_key, ""))
    context = _check(access, table)
    if context["parsed"].ok:
        request.session[session_key] = context["token"] = save_pending(table)
    context["filename"] = upload.name
    return _render(request, access, context)


def _confirm(request: HttpRequest, access) -> HttpResponse:
    session_key = _session_key(access.team.slug)
    token = request.POST.get("token", "")
    table = load_pending(token) if token and token == request.session.get(session_key) else None
    if table is None:
        messages.error(
            request, "This preview has expired or was replaced by a newer upload: upload the file again."
        )
        return _redirect(request, reverse("task_import", args=[access.team.slug]))
    context = _check(access, table)
    if not context["parsed"].ok:  # the team changed since the preview; show what is wrong now
        discard_pending(request.session.pop(session_key, ""))
        return _render(request, access, context)
    result = apply_import(access.team, context["parsed"])
    discard_pending(request.session.pop(session_key, ""))
    jobs = f" and {result.jobs_created} new job{'s' if result.jobs_created != 1 else ''}"
    messages.success(
        request,
        f"Imported {result.tasks_created} task{'s' if result.tasks_created != 1 else ''}"
        f"{jobs if result.jobs_created else ''}.",
    )
    return _redirect(request, reverse("portfolio", args=[access.team.slug]))


def _cancel(request: HttpRequest, access) -> HttpResponse:
    """Drop the pending upload (its file on disk too) and show the empty form again."""
    discard_pending(request.session.pop(_session_key(access.team.slug), ""))
    messages.info(request, "Import cancelled: nothing was imported.")
    return _redirect(request, reverse("task_import", args=[access.team.slug]))


def _check(access, table: Table) -> dict:
    parsed = parse_rows(table.rows, table.headers)
    plan = plan_import(access.team, parsed)
    jobs = {key: job.title for key, job in parsed.jobs.items()}
    return {
        "parsed": parsed,
        "plan": plan,
        "warnings": [*table.warnings, *(str(w) for w in plan.warnings)],
        "errors_shown": parsed.errors[:ERRORS_SHOWN],
        "errors_hidden": max(len(parsed.errors) - ERRORS_SHOWN, 0),
        "preview_rows": [(task, jobs[task.job_key]) for task in parsed.tasks[:PREVIEW_ROWS]],
        "preview_more": max(len(parsed.tasks) - PREVIEW_ROWS, 0),
    }


def _render(request: HttpRequest, access, context: dict) -> HttpResponse:
    context = page_context(
        access,
        "portfolio",
        columns=IMPORT_COLUMNS,
        max_mb=settings.IMPORT_MAX_BYTES // 1_000_000,
        checked="parsed" in context or "file_error" in context,
        **context,
    )
    template = "opportunities/import.html"
    if request.htmx and request.method == "POST":
        template += "#result"
    return render(request, template, context)


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _template_csv(team_slug: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.name for column in IMPORT_COLUMNS])
    writer.writerow([column.example for column in IMPORT_COLUMNS])
    second = {"task": "Summarise call notes into the ticket", "kind": "read", "hours_per_week": "3"}
    writer.writerow([second.get(column.name, column.example) for column in IMPORT_COLUMNS])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{team_slug}-task-import-template.csv"'
    return response


@login_required
def portfolio_export(request: HttpRequest, team_slug: str, fmt: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    if fmt not in exporting.FORMATS:
        raise Http404("Unknown export format")
    team = access.team
    filters = exporting.clean_filters(request.GET)
    exposures = exposure.for_team(team)
    tasks = exporting.export_tasks(team, filters, exposures, chunk_size=STREAM_CHUNK)
    now = timezone.now()
    if fmt == "csv":
        response: HttpResponse | StreamingHttpResponse | FileResponse = StreamingHttpResponse(
            exporting.iter_csv(tasks),
            content_type=exporting.CONTENT_TYPES[fmt],
        )
    elif fmt == "xlsx":
        # Built in a temporary file, then sent from it in chunks (the file is deleted when closed).
        workbook = exporting.xlsx_file(tasks)
        response = FileResponse(workbook, content_type=exporting.CONTENT_TYPES[fmt])
    else:
        response = StreamingHttpResponse(
            exporting.iter_portfolio_json(
                team,
                exporting.export_job_rows(team, filters, exposures, chunk_size=STREAM_CHUNK),
                tasks,
                generated_at=now,
                filters=filters,
            ),
            content_type=exporting.CONTENT_TYPES[fmt],
        )
    filename = exporting.export_filename(team, fmt, now)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
