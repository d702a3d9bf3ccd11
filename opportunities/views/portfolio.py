"""The portfolio table: every task of the team, filtered, sorted and paginated; htmx swaps the table."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import push_url

from accounts.pages import page_context, wants_fragment

from .. import exposure
from ..access import get_portfolio_team
from ..forms import DEFAULT_SORT, SORTS, BulkTaskForm, PortfolioFilterForm, order_by_for
from ..models import Job, Task, UseCase

PAGE_SIZE = 50

# The portfolio's sortable columns in display order: (sort key, heading, numeric).
COLUMNS = [
    ("statement", "Task", False),
    ("job", "Job", False),
    ("kind", "Kind", False),
    ("mode", "Mode", False),
    ("exposure", "Exposure", False),
    ("verdict", "Verdict", False),
    ("hours", "Hours/week", True),
    ("value", "Annual value", True),
]


def sort_headers(current: str, keep: dict[str, str]) -> list[dict]:
    """Each column heading with the query that sorts by it (a second click reverses) and its state.

    Numeric columns sort biggest first on the first click.
    """
    headers = []
    for column, label, numeric in COLUMNS:
        if current.lstrip("-") == column:
            state = "descending" if current.startswith("-") else "ascending"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", f"-{column}" if numeric else column
        query = urlencode({**keep, "sort": target})
        headers.append({"label": label, "numeric": numeric, "state": state, "query": query})
    return headers


@login_required
def portfolio(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    team = access.team
    jobs = [(str(code), title) for code, title in Job.objects.filter(team=team).values_list("code", "title")]
    filters = PortfolioFilterForm(request.GET, jobs=jobs)
    tasks = filters.filter(Task.objects.for_team(team).with_value())
    value_total = tasks.aggregate(total=Sum("annual_value"))["total"] or Decimal(0)

    sort = request.GET.get("sort", "")
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    active = filters.active()
    page = Paginator(tasks.select_related("job").order_by(*order_by_for(sort)), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    exposures = exposure.for_team(team)
    list(exposure.attach(page.object_list, exposures))
    context = page_context(
        access,
        "portfolio",
        team_exposure=exposures.team,
        filters=filters,
        page=page,
        value_total=value_total,
        sort=sort,
        headers=sort_headers(sort, active),
        query=urlencode({**active, "sort": sort}),
        filtered=bool(active),
        bulk_actions=BulkTaskForm.ACTIONS,
        use_cases=list(UseCase.objects.filter(team=team).order_by("name").values_list("code", "name"))
        if access.can_edit_portfolio
        else [],
    )
    template = "opportunities/portfolio.html"
    if not wants_fragment(request):
        response = render(request, template, context)
    else:
        response = render(request, f"{template}#table", context)
        # The address bar shows the tidy query (no empty filters) for sharing and reloading.
        page_part = f"&page={page.number}" if page.number > 1 else ""
        push_url(response, f"{request.path}?{context['query']}{page_part}")
    patch_vary_headers(response, ["HX-Request"])
    return response
