"""Bounds on an uploaded XLSX workbook, checked before openpyxl builds anything from it.

An .xlsx file is a zip of XML parts, so a few megabytes can unpack to gigabytes (a "zip bomb"), and a
sheet can hold millions of (empty) cells in one row. Two checks keep reading cheap and memory flat:

1. ``check_archive``: the sizes the zip declares for its parts, added up, must stay under an absolute
   limit (``settings.IMPORT_MAX_UNPACKED_BYTES``). It reads only the zip's central directory. The
   declared sizes can be trusted: Python's zipfile stops decompressing a part at its declared size (and
   then fails on the checksum), so a part cannot unpack to more than it says.
2. ``scan_sheet``: one streaming pass over each sheet's XML (expat via ElementTree, each row dropped once
   counted) that refuses a row with more than ``max_row_cells`` cells or a sheet with more than
   ``max_cells`` cells, before openpyxl makes Python objects of any of them.
"""

from __future__ import annotations

import zipfile
from typing import IO
from xml.etree import ElementTree

# A workbook with more parts than this is not a task sheet.
MAX_PARTS = 10_000
# Cells in one row of the sheet, blank ones included (a task sheet has a dozen columns).
MAX_ROW_CELLS = 200
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


class WorkbookTooLarge(Exception):
    """The workbook exceeds a bound; the message says which, for people."""


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def check_archive(archive: zipfile.ZipFile, max_unpacked: int) -> int:
    """The declared unpacked size of the workbook; raises WorkbookTooLarge beyond `max_unpacked`."""
    parts = archive.infolist()
    if len(parts) > MAX_PARTS:
        raise WorkbookTooLarge(f"The workbook has {len(parts):,} parts; a task sheet has a few dozen.")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > max_unpacked:
        raise WorkbookTooLarge(
            f"The workbook unpacks to {_mb(unpacked)}; the largest accepted is {_mb(max_unpacked)} unpacked. "
            "Split it into smaller files or save it as CSV."
        )
    return unpacked


def sheet_parts(archive: zipfile.ZipFile) -> list[str]:
    """The archive's worksheet parts (xl/worksheets/sheet1.xml, ...)."""
    return [
        name
        for name in archive.namelist()
        if name.startswith("xl/worksheets/") and name.endswith(".xml") and name.count("/") == 2
    ]


def scan_sheet(stream: IO[bytes], max_cells: int | None, max_row_cells: int = MAX_ROW_CELLS) -> int:
    """Count the sheet's cells in one streaming pass; returns the count or raises WorkbookTooLarge."""
    total = 0
    in_row = 0
    rows = 0
    sheet_data = None
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == f"{_SHEET_NS}sheetData":
                sheet_data = element
            elif tag == f"{_SHEET_NS}row":
                rows += 1
                in_row = 0
            continue
        if tag == f"{_SHEET_NS}c":
            in_row += 1
            total += 1
            if in_row > max_row_cells:
                raise WorkbookTooLarge(
                    f"Row {rows:,} of the sheet has more than {max_row_cells:,} cells; "
                    "a task sheet has a dozen columns."
                )
            if max_cells is not None and total > max_cells:
                raise WorkbookTooLarge(
                    f"The sheet has more than {max_cells:,} cells: split it into smaller files."
                )
        elif tag == f"{_SHEET_NS}row" and sheet_data is not None:
            sheet_data.clear()  # rows already counted are dropped: memory stays flat
    return total
