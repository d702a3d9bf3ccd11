"""Lookups for fairness results, through accounts.access: strangers get 404; viewers read but get 403 on
every write; editors, auditors and admins run measurements; team admins set the PII policy."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.access import ADMIN, READ, TeamAccess, get_object_for_team, get_team_for_user
from accounts.models import Role

RUNNERS = frozenset({Role.EDITOR, Role.AUDITOR, Role.ADMIN})


def _check_write(access: TeamAccess) -> None:
    if access.role not in RUNNERS:
        raise PermissionDenied(
            f"Your role in this team ({Role(access.role).label.lower()}) cannot run fairness measurements."
        )


def get_fairness_team(request: HttpRequest, slug: str, write: bool = False) -> TeamAccess:
    access = get_team_for_user(request, slug, READ)
    if write:
        _check_write(access)
    return access


def get_policy_team(request: HttpRequest, slug: str) -> TeamAccess:
    return get_team_for_user(request, slug, ADMIN)


def get_result_for_user(request: HttpRequest, slug: str, queryset, code, write: bool = False):
    access, obj = get_object_for_team(request, slug, queryset, READ, code=code)
    if write:
        _check_write(access)
    return access, obj
