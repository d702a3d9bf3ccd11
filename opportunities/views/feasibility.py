"""A task's feasibility evidence (linked experiments, rubric answer, per-run verdicts) and the team's
verdict thresholds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import ADMIN, READ, get_team_for_user

from .. import verdicts
from ..access import get_task_for_user
from ..feasibility import RUBRIC_QUESTION, Thresholds
from ..forms import TaskEvidenceForm, ThresholdsForm
from ..models import FeasibilityPolicy, Task


def evidence_context(task: Task, form: TaskEvidenceForm | None = None) -> dict:
    """The task page's feasibility section: every linked run judged, the deciding one first."""
    judged = verdicts.run_verdicts(task)
    judged.sort(key=lambda rv: not rv.decides)
    return {
        "run_verdicts": judged,
        "linked_experiments": list(task.experiments.order_by("name")),
        "evidence_form": form or TaskEvidenceForm(instance=task, team=task.job.team),
        "rubric_question": RUBRIC_QUESTION,
    }


@login_required
@require_http_methods(["POST"])
def task_evidence(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code, write=True)
    form = TaskEvidenceForm(request.POST, instance=task, team=access.team)
    if not form.is_valid():
        from .portfolio import task_detail_response

        messages.error(request, "The evidence was not saved: see the errors below.")
        return task_detail_response(request, access, task, evidence_form=form, status=400)
    with transaction.atomic():
        task = form.save()
        verdicts.recompute([task])
    messages.success(request, f"Saved. The verdict is now {task.get_verdict_display().lower()}.")
    return redirect("task_detail", team_slug=team_slug, code=task.code)


@login_required
@require_http_methods(["GET", "POST"])
def thresholds(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_team_for_user(request, team_slug, ADMIN if request.method == "POST" else READ)
    policy = FeasibilityPolicy.objects.filter(team=access.team).first() or FeasibilityPolicy(team=access.team)
    form = ThresholdsForm(request.POST or None, instance=policy)
    if not access.is_admin:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            changed = verdicts.recompute_team(access.team.pk)
        messages.success(
            request, f"Saved the thresholds; {changed} task verdict{'s' if changed != 1 else ''} changed."
        )
        return redirect("feasibility_thresholds", team_slug=team_slug)
    context = {
        "team": access.team,
        "access": access,
        "nav": "portfolio",
        "form": form,
        "defaults": Thresholds(),
        "rubric_question": RUBRIC_QUESTION,
    }
    return render(request, "opportunities/thresholds.html", context, status=400 if form.errors else 200)
