"""Trail entries for governance events that happen in the apps below (they declare the signals)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import role_changed
from opportunities.signals import stage_moved, stage_refused, thresholds_changed, use_case_created

from . import trail


@receiver(use_case_created, dispatch_uid="audits-trail-usecase-created")
def _use_case_created(sender, use_case, user, **kwargs) -> None:
    trail.record(
        "usecase.created",
        team=use_case.team_id,
        user=user,
        obj=use_case,
        object_type="usecase",
        use_case=use_case,
        change={"stage": use_case.stage, "risk_tier": use_case.risk_tier, "mode": use_case.mode},
    )


@receiver(stage_moved, dispatch_uid="audits-trail-stage-moved")
def _stage_moved(sender, use_case, change, user, override=None, **kwargs) -> None:
    data = {"stage": [change.from_stage, change.to_stage], "note": change.note[:500]}
    if override:
        data["override"] = override
    trail.record(
        "usecase.stage_overridden" if override else "usecase.stage_moved",
        team=use_case.team_id,
        user=user,
        obj=use_case,
        object_type="usecase",
        use_case=use_case,
        change=data,
    )


@receiver(stage_refused, dispatch_uid="audits-trail-stage-refused")
def _stage_refused(sender, use_case, target, user, missing, **kwargs) -> None:
    trail.record(
        "usecase.stage_refused",
        team=use_case.team_id,
        user=user,
        obj=use_case,
        object_type="usecase",
        use_case=use_case,
        change={"stage": [use_case.stage, target], "missing": missing},
    )


@receiver(thresholds_changed, dispatch_uid="audits-trail-thresholds")
def _thresholds_changed(sender, team, user, changes, **kwargs) -> None:
    if changes:
        trail.record(
            "thresholds.changed",
            team=team,
            user=user,
            object_type="feasibilitypolicy",
            object_code=str(team.code),
            object_label=f"Feasibility thresholds of {team}",
            change=changes,
        )


@receiver(role_changed, dispatch_uid="audits-trail-roles")
def _role_changed(sender, team, user, old_role, new_role, by, **kwargs) -> None:
    action = "member.added" if not old_role else "member.removed" if not new_role else "member.role_changed"
    trail.record(
        action,
        team=team,
        user=by,
        object_type="membership",
        object_code=str(user.pk),
        object_label=user.get_username(),
        change={"role": [old_role, new_role]},
    )
