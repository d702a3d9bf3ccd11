"""The team's home page: totals, value by verdict (an SVG bar chart), the top tasks and the experiments
running now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.pages import page_context
from experiments.models import Experiment

from ..access import get_portfolio_team
from ..models import Job, Task, Verdict
from ..panels import home_panels

TOP_COUNT = 10


@dataclass(frozen=True)
class VerdictBar:
    verdict: str
    label: str
    count: int
    total: Decimal
    y: int
    width: int


CHART_BAR_WIDTH = 320
CHART_ROW_HEIGHT = 30


def verdict_bars(totals: dict[str, tuple[int, Decimal]]) -> list[VerdictBar]:
    """One bar per verdict (all four, in a fixed order) scaled to the largest positive total."""
    largest = max((total for _, total in totals.values() if total > 0), default=Decimal(0))
    bars = []
    for index, (verdict, label) in enumerate(Verdict.choices):
        count, total = totals.get(verdict, (0, Decimal(0)))
        width = int(CHART_BAR_WIDTH * total / largest) if largest and total > 0 else 0
        bars.append(VerdictBar(verdict, label, count, total, index * CHART_ROW_HEIGHT, width))
    return bars


@login_required
def team_home(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    team = access.team
    tasks = Task.objects.for_team(team).with_value()
    totals = tasks.aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
    by_verdict = {
        row["verdict"]: (row["count"], row["total"] or Decimal(0))
        for row in tasks.order_by().values("verdict").annotate(count=Count("id"), total=Sum("annual_value"))
    }
    context = page_context(
        access,
        "home",
        task_count=totals["task_count"],
        value_total=totals["value_total"] or Decimal(0),
        job_count=Job.objects.filter(team=team).count(),
        bars=verdict_bars(by_verdict),
        chart_height=len(Verdict.choices) * CHART_ROW_HEIGHT,
        top_tasks=tasks.select_related("job").order_by("-annual_value", "id")[:TOP_COUNT],
        running_experiments=Experiment.objects.filter(team=team, trial=False)
        .active()
        .with_progress()
        .order_by("-started", "-id")[:TOP_COUNT],
        panels=home_panels(request, access),
    )
    return render(request, "opportunities/team_home.html", context)
