"""Report files under settings.ASSAY_REPORTS_DIR (inside ASSAY_DATA_DIR): one folder per team, one file
per report named by its code, written to a temporary file first and moved into place, so a download
never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings

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
