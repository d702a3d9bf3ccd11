"""Evidence files: type and size checks, sha256, storage under ASSAY_DATA_DIR, one copy per team and hash.

Accepted: PDF, PNG, JPEG, GIF, WebP, CSV, XLSX, Markdown and plain text, recognised by extension and
checked against the content (magic bytes for binary types, valid UTF-8 text without NUL bytes for text
types), so an HTML page renamed to .png is refused. Files are always served as attachments with
`X-Content-Type-Options: nosniff` (see views.evidence_download), never rendered inline.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .models import EvidenceFile

TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}
MAGIC = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".xlsx": (b"PK\x03\x04",),
}
TEXT = {".csv", ".md", ".markdown", ".txt"}
ALLOWED_TEXT = "PDF, PNG, JPEG, GIF, WebP, CSV, XLSX, Markdown (.md) or text (.txt)"


class EvidenceFileError(ValueError):
    pass


@dataclass(frozen=True)
class Checked:
    extension: str
    content_type: str
    size: int
    sha256: str
    temp_path: Path


def max_bytes() -> int:
    return settings.AUDIT_EVIDENCE_MAX_BYTES


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def check_upload(upload) -> Checked:
    """Reads the upload once into a temporary file under the evidence folder, hashing as it goes;
    raises EvidenceFileError with the reason when its type or size is not accepted."""
    name = os.path.basename(upload.name or "")
    extension = Path(name).suffix.lower()
    if extension not in TYPES:
        raise EvidenceFileError(f"“{name}” is not an accepted file type: upload a {ALLOWED_TEXT} file.")
    limit = max_bytes()
    if upload.size is not None and upload.size > limit:
        raise EvidenceFileError(
            f"“{name}” is {_mb(upload.size)}; evidence files may be at most {_mb(limit)}."
        )
    if not upload.size:
        raise EvidenceFileError(f"“{name}” is empty.")
    folder = Path(settings.AUDIT_EVIDENCE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle, temp = tempfile.mkstemp(dir=folder, prefix="upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise EvidenceFileError(
                        f"“{name}” is larger than {_mb(limit)}, the limit for evidence files."
                    )
                if len(head) < 4096:
                    head += chunk[: 4096 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        _check_content(name, extension, head, Path(temp))
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Checked(extension, TYPES[extension], size, digest.hexdigest(), Path(temp))


def _check_content(name: str, extension: str, head: bytes, path: Path) -> None:
    if extension == ".webp":
        if not (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            raise EvidenceFileError(f"“{name}” is not a WebP image.")
        return
    if extension in MAGIC:
        if not any(head.startswith(magic) for magic in MAGIC[extension]):
            raise EvidenceFileError(
                f"“{name}” does not look like a {extension[1:].upper()} file (its content does not match)."
            )
        return
    data = path.read_bytes()
    if b"\x00" in data:
        raise EvidenceFileError(f"“{name}” is not a text file (it contains binary data).")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EvidenceFileError(
            f"“{name}” is not valid UTF-8 text (byte {error.start}); save it as UTF-8 and upload it again."
        ) from None


def stored_path(sha256: str) -> Path:
    return Path(settings.AUDIT_EVIDENCE_DIR) / sha256[:2] / sha256


def store(team, checked: Checked) -> tuple[EvidenceFile, bool]:
    """The team's EvidenceFile for these bytes (created, and the bytes moved into place, only when the
    team has no file with this hash); the temporary file is removed either way."""
    existing = EvidenceFile.objects.filter(team=team, sha256=checked.sha256).first()
    target = stored_path(checked.sha256)
    if existing is not None and target.exists():
        checked.temp_path.unlink(missing_ok=True)
        return existing, False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        checked.temp_path.unlink(missing_ok=True)
    else:
        os.replace(checked.temp_path, target)
    if existing is not None:
        return existing, False
    return (
        EvidenceFile.objects.create(
            team=team, sha256=checked.sha256, size=checked.size, content_type=checked.content_type
        ),
        True,
    )
