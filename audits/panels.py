"""The sections audits adds to the team home ("what is due") and to the use case page, through
opportunities.panels (so opportunities never imports audits)."""

from __future__ import annotations

from django.utils import timezone

from opportunities.models import Stage, UseCase
from opportunities.panels import Panel

from .gates import blocked_moves
from .models import OPEN_RISK_STATUSES, Audit, AuditStatus, Kind, Risk, TierAssessment, TrailEntry
from .risks import heat_map

DUE_LIMIT = 10
TRAIL_LIMIT = 10


def home_panel(request, access) -> Panel:
    team = access.team
    waiting = list(
        Audit.objects.filter(team=team, status=AuditStatus.SUBMITTED)
        .select_related("use_case", "preparer")
        .order_by("submitted")[:DUE_LIMIT]
    )
    overdue = list(
        Risk.objects.filter(team=team, status__in=OPEN_RISK_STATUSES, due__lt=timezone.localdate())
        .select_related("use_case", "owner")
        .order_by("due")[:DUE_LIMIT]
    )
    use_cases = list(UseCase.objects.filter(team=team).exclude(stage=Stage.MONITOR).order_by("name"))
    blocked = [
        {"use_case": use_case, "target": Stage(target).label, "missing": missing}
        for use_case, target, missing in blocked_moves(team, use_cases)
    ][:DUE_LIMIT]
    for audit in waiting:
        audit.can_sign_here = access.can_audit and audit.preparer_id != request.user.pk
    return Panel(
        "audits/_home_panel.html",
        {"waiting": waiting, "overdue": overdue, "blocked": blocked, "today": timezone.localdate()},
    )


def usecase_panel(request, access, use_case) -> Panel:
    audits = {a.kind: a for a in Audit.objects.filter(use_case=use_case).current().with_progress()}
    rows = [{"kind": value, "label": label, "audit": audits.get(value)} for value, label in Kind.choices]
    risks = list(Risk.objects.filter(use_case=use_case, status__in=OPEN_RISK_STATUSES))
    return Panel(
        "audits/_usecase_panel.html",
        {
            "use_case": use_case,
            "audit_rows": rows,
            "open_risks": len(risks),
            "cells": heat_map([(r.residual_likelihood, r.residual_impact) for r in risks]),
            "tier": TierAssessment.objects.filter(use_case=use_case).first(),
            "trail": list(TrailEntry.objects.filter(use_case_code=str(use_case.code))[:TRAIL_LIMIT]),
        },
    )
