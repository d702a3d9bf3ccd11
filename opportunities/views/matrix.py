from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models.functions import Left
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString

from accounts.models import Team
from accounts.pages import page_context

from .. import exposure
from ..access import get_portfolio_team
from ..forms import PortfolioFilterForm
from ..matrix import (
    MatrixItem,
    MatrixLayout,
    layout_matrix,
    quadrant_summary,
    render_svg,
    sample_for_matrix,
)
from ..models import Job, Task
from ..verdicts import thresholds_for

# Hover titles are cut to TITLE_STATEMENT_CHARS anyway; don't fetch long statements in full.
_STATEMENT_CHARS = 200


class MatrixFilterForm(PortfolioFilterForm):
    """The portfolio's filters (same names, so links carry over) plus the value threshold."""

    threshold = forms.DecimalField(
        label="Value threshold ($/year)",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=2,
        help_text="Blank: the median value of the tasks shown.",
        error_messages={"invalid": "Enter the threshold as a dollar amount, e.g. 25000."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].error_messages["invalid_choice"] = "That job is not in this team (deleted?)."


def matrix_filter_form(team: Team, params: Mapping[str, str] | None) -> MatrixFilterForm:
    jobs = [(str(code), title) for code, title in Job.objects.filter(team=team).values_list("code", "title")]
    return MatrixFilterForm(params or {}, jobs=jobs)


def matrix_layout(team: Team, form: MatrixFilterForm) -> MatrixLayout:
    """The team's matrix: one query up to settings.ASSAY_MATRIX_MAX_POINTS tasks. Beyond, a sample of
    that many is drawn (sample_for_matrix), while the threshold, the axes and the quadrant counts are
    those of every task: one light query of all tasks' numbers, one for the sampled tasks' details."""
    tasks = form.filter(Task.objects.for_team(team).with_value())
    threshold = form.cleaned_data.get("threshold")
    threshold = None if threshold is None else float(threshold)
    # The feasibility line sits at the team's augmentation bar: a task is on the feasible side exactly
    # when the figure its verdict rests on clears the bar its verdict needed.
    feasibility_threshold = thresholds_for(team.pk).augmentation_lower
    limit = settings.ASSAY_MATRIX_MAX_POINTS
    rows = list(_detail_rows(tasks)[: limit + 1])
    sample = None
    if len(rows) > limit:
        numbers = list(tasks.order_by("id").values_list("id", "verdict", "feasibility", "annual_value"))
        sample = sample_for_matrix(
            numbers, limit, value_threshold=threshold, feasibility_threshold=feasibility_threshold
        )
        rows = list(_detail_rows(tasks.filter(id__in=sample.ids)))
    # Reverse once, then fill in each code: reverse() per point costs more than the whole query.
    exposures = exposure.for_team(team, {row[2] for row in rows})
    placeholder = str(uuid.UUID(int=0))
    url_pattern = reverse("task_detail", args=[team.slug, placeholder])
    items = [
        MatrixItem(
            code=str(code),
            statement=statement,
            job=job_title,
            value=float(value or 0),
            verdict=verdict,
            feasibility=feasibility,
            url=url_pattern.replace(placeholder, str(code)),
            basis=basis,
            warning=" ".join(warnings or []),
            exposure=exposure_text(label, source, exposures.get(job_id)),
        )
        for code, statement, job_id, job_title, verdict, feasibility, value, basis, warnings, label, source in rows
    ]
    return layout_matrix(
        items, value_threshold=threshold, feasibility_threshold=feasibility_threshold, sample=sample
    )


def exposure_text(label: str, source: str, job_exposure: exposure.JobExposure) -> str:
    """The task's label (marked when predicted) and its job's exposed time, for the point's hover text."""
    parts = []
    if label:
        parts.append(f"Exposure {label}" + (" (predicted)" if source == "predicted" else ""))
    if job_exposure.labelled:
        marked = " incl. predictions" if job_exposure.has_predictions else ""
        figure = round(100 * (job_exposure.e1_half_e2 or 0))
        parts.append(f"job’s exposed time E1 + ½·E2 {figure}%{marked}")
    return " · ".join(parts)


def _detail_rows(tasks):
    return (
        tasks.annotate(short_statement=Left("statement", _STATEMENT_CHARS))
        .order_by("id")
        .values_list(
            "code",
            "short_statement",
            "job_id",
            "job__title",
            "verdict",
            "feasibility",
            "annual_value",
            "feasibility_basis",
            "verdict_warnings",
            "exposure_label",
            "label_source",
        )  # fmt: skip
    )


def team_matrix_svg(team: Team, params: Mapping[str, str] | None = None) -> SafeString:
    """The chart as SVG markup for a PDF or any other export, with the page's filters as `params`."""
    return render_svg(matrix_layout(team, matrix_filter_form(team, params)))


@login_required
def matrix(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    form = matrix_filter_form(access.team, request.GET)
    layout = matrix_layout(access.team, form)
    context = page_context(
        access,
        "matrix",
        form=form,
        layout=layout,
        svg=render_svg(layout),
        summary=quadrant_summary(layout),
        task_count=layout.task_count,
        warned=[p for p in layout.points if p.item.warning],
        filtered=bool(form.active()),
    )
    template = "opportunities/matrix.html#chart" if request.htmx else "opportunities/matrix.html"
    return render(request, template, context)
