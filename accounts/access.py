"""The one place that decides who may see and change what.

Every view resolves its objects through these helpers: a team the user is not a member of does not
exist for them (404); a member whose role may not make the change gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from .models import AUDIT_PREPARERS, AUDIT_WRITERS, PORTFOLIO_WRITERS, TEAM_ADMINS, Membership, Role, Team

READ = "read"
PORTFOLIO = "portfolio"
AUDIT = "audit"
PREPARE = "prepare"
ADMIN = "admin"

_WRITERS = {
    PORTFOLIO: PORTFOLIO_WRITERS,
    AUDIT: AUDIT_WRITERS,
    PREPARE: AUDIT_PREPARERS,
    ADMIN: TEAM_ADMINS,
}


@dataclass(frozen=True)
class TeamAccess:
    team: Team
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def can_edit_portfolio(self) -> bool:
        return self.membership.can_edit_portfolio

    @property
    def can_audit(self) -> bool:
        return self.membership.can_audit

    @property
    def is_admin(self) -> bool:
        return self.membership.is_admin

    @property
    def can_prepare_audits(self) -> bool:
        return self.membership.role in AUDIT_PREPARERS


def get_team_for_user(request: HttpRequest, slug: str, need: str = READ) -> TeamAccess:
    """The team with this slug as seen by request.user: one query, memoised on the request."""
    cache = request.__dict__.setdefault("_team_access", {})
    access = cache.get(slug)
    if access is None:
        if not request.user.is_authenticated:
            raise Http404("No such team")
        membership = (
            Membership.objects.select_related("team").filter(team__slug=slug, user=request.user).first()
        )
        if membership is None:
            raise Http404("No such team")
        access = cache[slug] = TeamAccess(team=membership.team, membership=membership)
    if need != READ and access.membership.role not in _WRITERS[need]:
        raise PermissionDenied(_denied_message(need, access.membership.role))
    return access


def get_object_for_team(request: HttpRequest, slug: str, queryset, need: str = READ, **lookup):
    """An object of `queryset` that belongs to the team: 404 if it or the team is not the user's.

    `queryset` must be filterable by `team` (pass e.g. Task.objects.filter(job__team=...) through
    `team_field`); see the per-kind helpers in each app's access module.
    """
    team_field = lookup.pop("team_field", "team")
    access = get_team_for_user(request, slug)
    obj = queryset.filter(**{team_field: access.team}, **lookup).first()
    if obj is None:
        raise Http404("Not found")
    get_team_for_user(request, slug, need)
    return access, obj


def _denied_message(need: str, role: str) -> str:
    label = Role(role).label.lower()
    what = {
        PORTFOLIO: "change the portfolio",
        AUDIT: "sign off audits",
        PREPARE: "prepare audits",
        ADMIN: "manage the team",
    }[need]
    return f"Your role in this team ({label}) cannot {what}."
