"""Inline row editing, shared by the job list and a job's task table: the row's form and how each cell
shows (a form field with its label, or a read-only figure), rendered by one template."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.humanize.templatetags.humanize import intcomma
from django.forms import BoundField
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import TeamAccess
from accounts.pages import page_context

ROW_TEMPLATE = "opportunities/_inline_edit_row.html"


@dataclass(frozen=True)
class Cell:
    """A form field (with a label for screen readers and an optional unit after it), or read-only text,
    optionally shown as a badge of the given kind."""

    field: BoundField | None = None
    label: str = ""
    suffix: str = ""
    text: str = ""
    numeric: bool = False
    badge: str = ""


@dataclass(frozen=True)
class EditRow:
    row_id: str  # the display row's id, which this row replaces
    form_id: str  # the <form> the inputs belong to (a form cannot wrap table cells)
    action: str  # where the row posts
    cancel_href: str  # without JavaScript: back to the page
    cancel_get: str  # with htmx: fetches the display row back


def edit_row(request: HttpRequest, access: TeamAccess, row: EditRow, form, cells: list[Cell]) -> HttpResponse:
    context = page_context(access, "jobs", row=row, form=form, cells=cells)
    return render(request, ROW_TEMPLATE, context)


def dollars(amount: Decimal) -> str:
    """Whole dollars with thousands separators, as the display rows show them ("$43,780")."""
    return f"${intcomma(int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)))}"
