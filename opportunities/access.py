"""Per-kind lookups for the portfolio, all through accounts.access (404 strangers, 403 read-only)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import PORTFOLIO, READ, TeamAccess, get_object_for_team, get_team_for_user

from .models import Job, Task, UseCase


def get_portfolio_team(request: HttpRequest, slug: str, write: bool = False) -> TeamAccess:
    return get_team_for_user(request, slug, PORTFOLIO if write else READ)


def get_job_for_user(request: HttpRequest, slug: str, code, write: bool = False) -> tuple[TeamAccess, Job]:
    return get_object_for_team(request, slug, Job.objects.all(), PORTFOLIO if write else READ, code=code)


def get_task_for_user(request: HttpRequest, slug: str, code, write: bool = False) -> tuple[TeamAccess, Task]:
    return get_object_for_team(
        request,
        slug,
        Task.objects.select_related("job"),
        PORTFOLIO if write else READ,
        code=code,
        team_field="job__team",
    )


def get_usecase_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, UseCase]:
    return get_object_for_team(
        request, slug, UseCase.objects.select_related("owner"), PORTFOLIO if write else READ, code=code
    )
