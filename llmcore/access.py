"""Lookups for the model registry, all through accounts.access: 404 strangers, 403 read-only members.

Everyone in a team reads its models and usage; team admins change team models and the budget.
Instance-wide models are read-only here: site administrators manage them in the Django admin.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.access import ADMIN, READ, TeamAccess, get_team_for_user

from .models import ModelConfig


def get_llm_team(request: HttpRequest, slug: str, write: bool = False) -> TeamAccess:
    return get_team_for_user(request, slug, ADMIN if write else READ)


def get_model_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, ModelConfig]:
    """A model the team can see (its own, or instance-wide and enabled for it)."""
    access = get_team_for_user(request, slug)
    config = ModelConfig.objects.for_team(access.team).filter(code=code).first()
    if config is None:
        raise Http404("No such model")
    if write:
        get_team_for_user(request, slug, ADMIN)
        if config.is_instance_wide:
            raise PermissionDenied(
                "Instance-wide models are managed by site administrators in the admin site."
            )
    return access, config
