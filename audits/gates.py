"""The stage gate audits registers with opportunities (see AuditsConfig.ready).

Defaults (a team admin changes them on the gate policy page; README "Stage gates"):
- entering Build needs a signed-off (approved) governance audit;
- entering Deploy needs approved model and application audits, no open risk whose residual score is
  above 9, and for high-risk use cases an approved governance audit as well;
- a prohibited use case cannot leave Scope.
"The audit" is always its newest version: a reopened audit counts as not signed until it is signed again.
Moving back a stage is never gated.
"""

from __future__ import annotations

from django.urls import reverse

from opportunities.models import STAGE_ORDER, RiskTier, Stage, UseCase
from opportunities.usecases import GateRequirement

from .models import OPEN_RISK_STATUSES, Audit, AuditStatus, GatePolicy, Kind, Risk


def policy_for(team) -> GatePolicy:
    return GatePolicy.objects.filter(team=team).first() or GatePolicy(team=team)


def required_audits(use_case: UseCase, target: str, policy: GatePolicy) -> list[str]:
    kinds = []
    if target == Stage.BUILD and policy.build_needs_governance:
        kinds.append(Kind.GOVERNANCE)
    if target == Stage.DEPLOY:
        if use_case.risk_tier == RiskTier.HIGH and policy.deploy_high_needs_governance:
            kinds.append(Kind.GOVERNANCE)
        if policy.deploy_needs_model:
            kinds.append(Kind.MODEL)
        if policy.deploy_needs_application:
            kinds.append(Kind.APPLICATION)
    return kinds


def stage_gate(use_case: UseCase, target: str) -> list[GateRequirement]:
    if not _forward(use_case, target):
        return []
    team = use_case.team
    policy = policy_for(team)
    audits = {a.kind: a for a in Audit.objects.filter(use_case=use_case).current()}
    risks = list(Risk.objects.filter(use_case=use_case, status__in=OPEN_RISK_STATUSES).order_by("id"))
    return missing_for(use_case, target, policy, audits, risks, team.slug)


def _forward(use_case: UseCase, target: str) -> bool:
    return target in STAGE_ORDER and STAGE_ORDER.index(target) > STAGE_ORDER.index(use_case.stage)


def missing_for(
    use_case: UseCase,
    target: str,
    policy: GatePolicy,
    audits: dict[str, Audit],
    open_risks: list[Risk],
    slug: str,
) -> list[GateRequirement]:
    """What the gate into `target` still needs, from the use case's current audits and open risks."""
    missing: list[GateRequirement] = []
    if use_case.risk_tier == RiskTier.PROHIBITED:
        missing.append(
            GateRequirement(
                "The risk tier is Prohibited: a prohibited use case cannot go ahead.",
                reverse("audits:tier", args=[slug, use_case.code]),
            )
        )
    for kind in required_audits(use_case, target, policy):
        audit = audits.get(kind)
        label = Kind(kind).label.lower()
        if audit is None:
            missing.append(
                GateRequirement(
                    f"A signed-off {label} audit (none started yet).",
                    reverse("audits:usecase_audits", args=[slug, use_case.code]) + f"?kind={kind}",
                )
            )
        elif audit.status != AuditStatus.APPROVED:
            missing.append(
                GateRequirement(
                    f"A signed-off {label} audit (version {audit.version} is "
                    f"{audit.get_status_display().lower()}).",
                    reverse("audits:audit_detail", args=[slug, audit.code]),
                )
            )
    if target == Stage.DEPLOY:
        for risk in open_risks:
            if risk.residual_score > policy.max_open_residual:
                missing.append(
                    GateRequirement(
                        f"Open risk “{risk.description[:80]}” has residual score {risk.residual_score} "
                        f"(at most {policy.max_open_residual} allowed).",
                        reverse("audits:risk_detail", args=[slug, risk.code]),
                    )
                )
    return missing


def blocked_moves(team, use_cases: list[UseCase]) -> list[tuple[UseCase, str, list[GateRequirement]]]:
    """(use case, next stage, what is missing) for each use case whose next move the gate refuses:
    three queries for any number of use cases (none without use cases)."""
    if not use_cases:
        return []
    policy = policy_for(team)
    ids = [use_case.pk for use_case in use_cases]
    audits: dict[int, dict[str, Audit]] = {}
    for audit in Audit.objects.filter(use_case_id__in=ids).current():
        audits.setdefault(audit.use_case_id, {})[audit.kind] = audit
    risks: dict[int, list[Risk]] = {}
    for risk in Risk.objects.filter(use_case_id__in=ids, status__in=OPEN_RISK_STATUSES).order_by("id"):
        risks.setdefault(risk.use_case_id, []).append(risk)
    blocked = []
    for use_case in use_cases:
        target = use_case.next_stage()
        if target is None:
            continue
        missing = missing_for(
            use_case, target, policy, audits.get(use_case.pk, {}), risks.get(use_case.pk, []), team.slug
        )
        if missing:
            blocked.append((use_case, target, missing))
    return blocked
