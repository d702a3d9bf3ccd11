"""Use case (GenAI project) writes that span models, and the pure rules they follow.

Creating a use case records its first history entry; a stage move changes the stage and records who
moved it, when and why, in one transaction, and only from the stage the user saw (compare-and-set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Team

from .models import STAGE_ORDER, Stage, StageChange, Task, UseCase, Verdict
from .signals import stage_moved, stage_refused, use_case_created

NOTE_MAX_CHARS = 2000

# Feasibility roll-up: a use case is only as ready as its least ready task. A task shown not to work
# yet blocks more than one not measured yet, so "not yet" ranks below "untested".
VERDICT_READINESS = [
    Verdict.NOT_YET.value,
    Verdict.UNTESTED.value,
    Verdict.AUGMENTATION_READY.value,
    Verdict.AUTOMATION_READY.value,
]


def worst_verdict(verdicts: Iterable[str]) -> str | None:
    """The least ready verdict (see VERDICT_READINESS), or None when there are no tasks."""
    ranked = [VERDICT_READINESS.index(v) for v in verdicts if v in VERDICT_READINESS]
    return VERDICT_READINESS[min(ranked)] if ranked else None


class StageMoveRejected(Exception):
    def __init__(self, message: str, stale: bool = False, missing: list[GateRequirement] | None = None):
        super().__init__(message)
        self.stale = stale
        # What a stage gate still needs (empty for other refusals); an admin may override them.
        self.missing = missing or []


@dataclass(frozen=True)
class GateRequirement:
    """One thing a stage gate still needs before a use case may enter a stage, and where to do it."""

    text: str
    url: str = ""


# Stage gates other apps register (audits does, in its AppConfig.ready): fn(use_case, target_stage)
# returns what is missing; an empty list lets the move through. This app never imports them.
StageGate = Callable[[UseCase, str], list[GateRequirement]]
_STAGE_GATES: list[StageGate] = []


def register_stage_gate(gate: StageGate) -> None:
    if gate not in _STAGE_GATES:
        _STAGE_GATES.append(gate)


def unregister_stage_gate(gate: StageGate) -> None:
    if gate in _STAGE_GATES:
        _STAGE_GATES.remove(gate)


def stage_gate_requirements(use_case: UseCase, target: str) -> list[GateRequirement]:
    """Everything the registered gates still need before `use_case` may enter `target`."""
    missing: list[GateRequirement] = []
    for gate in _STAGE_GATES:
        missing.extend(gate(use_case, target))
    return missing


def stage_move_problem(current: str, expected: str, target: str, note: str = "") -> str | None:
    """Why moving from `current` to `target` is refused, or None if it is allowed.

    `expected` is the stage the user saw when they pressed the button: if the use case has moved
    since, the move is refused rather than applied to a state they did not see.
    """
    labels = dict(Stage.choices)
    if target not in labels:
        return f"Unknown stage {target!r}: choose one of {', '.join(Stage.labels)}."
    if expected != current:
        seen = labels.get(expected, expected or "an unknown stage")
        return (
            f"This use case is now in {labels[current]}, not {seen}: someone moved it while you were "
            "looking. Check the history below and try again."
        )
    if target == current:
        return f"This use case is already in {labels[current]}."
    index = STAGE_ORDER.index(current)
    neighbours = [STAGE_ORDER[i] for i in (index - 1, index + 1) if 0 <= i < len(STAGE_ORDER)]
    if target not in neighbours:
        allowed = " or ".join(labels[s] for s in neighbours)
        return (
            f"A use case moves one stage at a time: from {labels[current]} it can go to {allowed}, "
            f"not straight to {labels[target]}."
        )
    if len(note) > NOTE_MAX_CHARS:
        return f"The note is too long ({len(note)} characters; at most {NOTE_MAX_CHARS})."
    return None


@transaction.atomic
def create_use_case(team: Team, created_by, tasks: Iterable[Task], **fields) -> UseCase:
    use_case = UseCase.objects.create(team=team, stage=Stage.SCOPE, **fields)
    use_case.tasks.set(tasks)
    StageChange.objects.create(use_case=use_case, from_stage="", to_stage=Stage.SCOPE, changed_by=created_by)
    use_case_created.send(sender=UseCase, use_case=use_case, user=created_by)
    return use_case


@transaction.atomic
def update_use_case(use_case: UseCase, tasks: Iterable[Task]) -> UseCase:
    """Saves the edited fields (not the stage: that moves only through move_stage) and the tasks."""
    use_case.save(update_fields=["name", "description", "mode", "owner", "risk_tier", "updated"])
    use_case.tasks.set(tasks)
    return use_case


def move_stage(
    use_case: UseCase,
    *,
    target: str,
    expected: str,
    user,
    note: str = "",
    override_reason: str | None = None,
) -> StageChange:
    """Moves the use case one stage and records it; raises StageMoveRejected with the reason.

    The registered stage gates are consulted first; what they find missing refuses the move unless
    `override_reason` is given (the caller checks that the user is a team admin), which is then recorded
    on the stage change and sent with `stage_moved`.
    """
    note = note.strip()
    problem = stage_move_problem(use_case.stage, expected, target, note)
    if problem:
        raise StageMoveRejected(problem, stale=expected != use_case.stage)
    missing = stage_gate_requirements(use_case, target)
    override = None
    if missing:
        reason = (override_reason or "").strip()
        if not reason:
            label = Stage(target).label
            stage_refused.send(
                sender=UseCase,
                use_case=use_case,
                target=target,
                user=user,
                missing=[requirement.text for requirement in missing],
            )
            raise StageMoveRejected(
                f"{use_case.name} cannot enter {label} yet: {len(missing)} requirement"
                f"{'s are' if len(missing) != 1 else ' is'} missing.",
                missing=missing,
            )
        if len(reason) > NOTE_MAX_CHARS:
            raise StageMoveRejected(
                f"The override reason is too long ({len(reason)} characters; at most {NOTE_MAX_CHARS}).",
                missing=missing,
            )
        override = {"reason": reason, "missing": [requirement.text for requirement in missing]}
        note = f"Gate overridden: {reason}" + (f"\n{note}" if note else "")
    with transaction.atomic():
        # Compare-and-set: applies only if nobody moved it since `use_case` was read.
        moved = UseCase.objects.filter(pk=use_case.pk, stage=expected).update(
            stage=target, updated=timezone.now()
        )
        if moved != 1:
            current = UseCase.objects.filter(pk=use_case.pk).values_list("stage", flat=True).first()
            if current is None:
                raise StageMoveRejected("This use case was deleted meanwhile.", stale=True)
            raise StageMoveRejected(
                stage_move_problem(current, expected, target) or "This use case changed meanwhile.",
                stale=True,
            )
        change = StageChange.objects.create(
            use_case=use_case, from_stage=expected, to_stage=target, changed_by=user, note=note
        )
        use_case.stage = target
        stage_moved.send(sender=UseCase, use_case=use_case, change=change, user=user, override=override)
    return change
