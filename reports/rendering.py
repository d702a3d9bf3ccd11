"""A report dict to the bytes of one format.

- JSON: the dict itself (its schema in reports/schemas/, named by `schema` and `schema_version`).
- CSV: the main table (tables.py), UTF-8 with a BOM so spreadsheets read it.
- XLSX: a sheet per table, typed cells (numbers stay numbers), frozen header rows.
- PDF: HTML rendered by WeasyPrint with the charts as inline SVG, a table of contents, page numbers,
  the team's name and the generated date in the margins. Django's template escaping covers every text
  a person or a model wrote; WeasyPrint is refused every URL fetch (as audits/report.py does).

CSV and XLSX text that a spreadsheet would run as a formula is quoted (accounts.spreadsheets).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from accounts.spreadsheets import escape_formula
from opportunities.matrix import _HALO, VERDICTS, money_full, render_svg

from .charts import pass_rate_svg
from .portfolio import matrix_layout
from .tables import Table, experiment_tables, portfolio_tables

# The PDF's ranked table stops here and its matrix draws at most this many points (a sample, with the
# counts of every task), while the XLSX, CSV and JSON carry every task: WeasyPrint needed ~3 s for 100
# table rows and ~7 s for a 5,000-point matrix on this 2-core machine (bench/reports.py).
PDF_TASK_ROWS = 100
PDF_MATRIX_POINTS = 1000
# Links and hover titles mean nothing on paper and triple the SVG WeasyPrint lays out. Removing them
# only removes markup: the titles' text is escaped (no "<" in it), as are the hrefs (no ">").
_INTERACTIVE = re.compile(r"<title>[^<]*</title>|<a [^>]*>|</a>")
PDF_TEMPLATES = {"portfolio": "reports/portfolio_pdf.html", "experiment": "reports/experiment_pdf.html"}


def tables(kind: str, doc: dict) -> list[Table]:
    return portfolio_tables(doc) if kind == "portfolio" else experiment_tables(doc)


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return escape_formula(value)
    return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    value = _cell(value)
    return "" if value is None else value


def to_json(kind: str, doc: dict) -> bytes:
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def to_csv(kind: str, doc: dict) -> bytes:
    main = tables(kind, doc)[0]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(main.headers)
    for row in main.rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(kind: str, doc: dict) -> bytes:
    import openpyxl
    from openpyxl.utils import get_column_letter

    workbook = openpyxl.Workbook(write_only=True)
    for table in tables(kind, doc):
        sheet = workbook.create_sheet(title=table.title[:31])
        for index, name in enumerate(table.headers, start=1):
            wide = name in ("task", "value_formula", "verdict_reasons", "output", "top_risks", "value")
            sheet.column_dimensions[get_column_letter(index)].width = 60 if wide else 16
        sheet.freeze_panes = "A2"
        sheet.append(table.headers)
        for row in table.rows:
            sheet.append([_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pdf_context(kind: str, doc: dict) -> dict:
    context: dict[str, Any] = {"r": doc, "verdict_labels": {k: v[0] for k, v in VERDICTS.items()}}
    if kind == "portfolio":
        layout = matrix_layout(doc["tasks"], doc["matrix"]["feasibility_threshold"], PDF_MATRIX_POINTS)
        # WeasyPrint has no paint-order: the labels' white halo would be drawn over their text.
        svg = _INTERACTIVE.sub("", render_svg(layout).replace(_HALO, ""))
        context.update(
            matrix_svg=mark_safe(svg),  # noqa: S308 - render_svg's markup with parts removed
            matrix_drawn=len(layout.points),
            tasks_shown=doc["tasks"][:PDF_TASK_ROWS],
            tasks_cut=max(0, len(doc["tasks"]) - PDF_TASK_ROWS),
            value_total=money_full(doc["summary"]["annual_value"]),
            threshold=money_full(doc["matrix"]["value_threshold"]),
        )
    else:
        context["pass_rate_svg"] = pass_rate_svg(doc["runs"])
    return context


def pdf_html(kind: str, doc: dict) -> str:
    return render_to_string(PDF_TEMPLATES[kind], pdf_context(kind, doc))


def _refuse_fetch(url: str, *args, **kwargs):
    raise ValueError(f"The report never loads external resources ({url[:60]}).")


def to_pdf(kind: str, doc: dict) -> bytes:
    # WeasyPrint reports each layout step at INFO (from its import on); keep the log for warnings.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    return HTML(string=pdf_html(kind, doc), url_fetcher=_refuse_fetch).write_pdf()


RENDERERS = {"json": to_json, "csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
