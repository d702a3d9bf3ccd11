from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..access import get_portfolio_team


@login_required
def team_home(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    return render(
        request, "opportunities/team_home.html", {"team": access.team, "access": access, "nav": "home"}
    )


# Scaffolding: replaced by the portfolio views.
portfolio = job_list = job_detail = job_edit = job_delete = task_create = task_detail = task_edit = (
    task_delete
) = team_home
