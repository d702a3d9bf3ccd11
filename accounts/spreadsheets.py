"""Text bound for a spreadsheet cell (CSV or XLSX), shared by every export of every app.

A spreadsheet runs a text cell that starts with = + - @ (or a tab or carriage return before one) as a
formula. Control characters are removed first: XLSX cannot hold them (openpyxl refuses them) and a
spreadsheet drops them, so "\\x01=HYPERLINK(...)" would become a live formula if the quote were decided
before they were gone. Then a cell that would run gets a leading single quote, which spreadsheets show
as text and importers drop again (``unescape_formula``).
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# What openpyxl refuses in a cell (openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE), and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


def _runs(text: str) -> bool:
    # Leading spaces do not stop some spreadsheets (LibreOffice trims them on CSV import).
    return text.startswith(FORMULA_TRIGGERS) or text.lstrip(" ").startswith(FORMULA_TRIGGERS)


def escape_formula(text: str) -> str:
    """The text as a spreadsheet cell: control characters removed, then quoted if it would run."""
    text = strip_control(text)
    return "'" + text if _runs(text) else text


def unescape_formula(text: str) -> str:
    """Undo escape_formula's quote on import, so an exported file round-trips."""
    return text[1:] if text.startswith("'") and _runs(text[1:]) else text
