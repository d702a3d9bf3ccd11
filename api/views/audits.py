from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from audits.access import get_audit
from audits.models import Audit, Risk

from ..serializers.audits import (
    AuditDetailSerializer,
    AuditFilters,
    AuditSerializer,
    RiskFilters,
    RiskSerializer,
)
from .base import TeamScoped, by_updated


def _filtered(queryset, filters: dict):
    if "use_case" in filters:
        queryset = queryset.filter(use_case__code=filters["use_case"])
    for name in ("status", "kind", "dimension"):
        if name in filters:
            queryset = queryset.filter(**{name: filters[name]})
    return by_updated(queryset, filters)


@extend_schema_view(get=extend_schema(parameters=[AuditFilters]))
class AuditList(TeamScoped, generics.ListAPIView):
    """The team's audits (every version), with progress and sign-off; read only."""

    serializer_class = AuditSerializer

    def get_queryset(self):
        if self.is_fake:
            return Audit.objects.none()
        audits = (
            Audit.objects.filter(team=self.access().team)
            .select_related("use_case", "preparer", "sign_off__signer")
            .with_progress()
            .order_by("use_case__name", "kind", "-version", "id")
        )
        return _filtered(audits, self.filters(AuditFilters))


class AuditDetail(TeamScoped, generics.RetrieveAPIView):
    """An audit with its answers, in template order."""

    serializer_class = AuditDetailSerializer

    def get_object(self):
        _, audit = get_audit(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        audit = (
            Audit.objects.with_progress()
            .select_related("use_case", "preparer", "sign_off__signer")
            .get(pk=audit.pk)
        )
        audit.items_list = list(audit.items.order_by("position", "id"))
        return audit


@extend_schema_view(get=extend_schema(parameters=[RiskFilters]))
class RiskList(TeamScoped, generics.ListAPIView):
    """The team's risk register; read only."""

    serializer_class = RiskSerializer

    def get_queryset(self):
        if self.is_fake:
            return Risk.objects.none()
        risks = Risk.objects.filter(team=self.access().team).select_related("use_case", "owner")
        return _filtered(risks.order_by("use_case__name", "-created", "-id"), self.filters(RiskFilters))
