"""Report files under settings.ASSAY_REPORTS_DIR (inside ASSAY_DATA_DIR): one folder per team, one file
per report named by its code, written to a temporary file first and moved into place, so a download
never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse

from .models import Report


def root() -> Path:
    return Path(settings.ASSAY_REPORTS_DIR)


def relative_name(report: Report) -> str:
    return f"{report.team_id}/{report.code}.{report.format}"


def path_of(report: Report) -> Path | None:
    """The stored file, or None when there is none (not generated yet, or removed)."""
    if not report.file_name:
        return None
    path = (root() / report.file_name).resolve()
    if root().resolve() not in path.parents:  # never outside the reports folder
        return None
    return path if path.is_file() else None


def download_response(report: Report, path: Path) -> FileResponse:
    """The stored file as an attachment, private to the signed-in member and never run by the browser
    (the pages and the API both send it this way)."""
    from .rendering import CONTENT_TYPES

    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=report.download_name,
        content_type=CONTENT_TYPES[report.format],
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def write(report: Report, data: bytes) -> tuple[str, int]:
    """Stores the bytes for this report; returns (relative name, size)."""
    name = relative_name(report)
    target = root() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return name, len(data)


def remove(report: Report) -> None:
    path = path_of(report)
    if path is not None:
        path.unlink(missing_ok=True)
