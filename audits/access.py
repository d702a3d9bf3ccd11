"""Per-kind lookups for audits, all through accounts.access: strangers get 404, members whose role may
not make the change 403. Preparing (answers, evidence, risks, tier) is for editors, auditors and admins;
signing off for auditors and admins; the gate policy and the team's template items for admins."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from accounts.access import ADMIN, AUDIT, PREPARE, READ, TeamAccess, get_object_for_team, get_team_for_user
from opportunities.models import UseCase

from .models import Audit, AuditItem, Evidence, Risk


def get_audits_team(request: HttpRequest, slug: str, need: str = READ) -> TeamAccess:
    return get_team_for_user(request, slug, need)


def get_usecase(request: HttpRequest, slug: str, code, need: str = READ) -> tuple[TeamAccess, UseCase]:
    return get_object_for_team(
        request, slug, UseCase.objects.select_related("owner", "team"), need, code=code
    )


def get_audit(request: HttpRequest, slug: str, code, need: str = READ) -> tuple[TeamAccess, Audit]:
    return get_object_for_team(
        request,
        slug,
        Audit.objects.select_related("use_case", "team", "preparer", "previous", "sign_off__signer"),
        need,
        code=code,
    )


def get_item(request: HttpRequest, slug: str, code, item_id: int, need: str = PREPARE):
    access, audit = get_audit(request, slug, code)
    item = AuditItem.objects.filter(audit=audit, pk=item_id).first()
    if item is None:
        raise Http404("No such item")
    get_team_for_user(request, slug, need)
    item.audit = audit
    return access, audit, item


def get_risk(request: HttpRequest, slug: str, code, need: str = READ) -> tuple[TeamAccess, Risk]:
    return get_object_for_team(
        request, slug, Risk.objects.select_related("use_case", "owner", "team"), need, code=code
    )


def get_evidence(request: HttpRequest, slug: str, code, need: str = READ) -> tuple[TeamAccess, Evidence]:
    return get_object_for_team(
        request,
        slug,
        Evidence.objects.select_related("file", "item__audit__use_case", "item__audit__team"),
        need,
        code=code,
    )


__all__ = ["ADMIN", "AUDIT", "PREPARE", "READ"]
