"""Lookups for reports, through accounts.access: strangers get 404; every member reads and downloads
the team's reports; only members who may change the portfolio (editors, admins) request new ones."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import PORTFOLIO, READ, TeamAccess, get_object_for_team, get_team_for_user

from .models import Report


def get_reports_team(request: HttpRequest, slug: str, write: bool = False) -> TeamAccess:
    return get_team_for_user(request, slug, PORTFOLIO if write else READ)


def get_report_for_user(request: HttpRequest, slug: str, code) -> tuple[TeamAccess, Report]:
    return get_object_for_team(
        request, slug, Report.objects.select_related("team", "created_by"), READ, code=code
    )
