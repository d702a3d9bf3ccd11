"""The exposure pre-screen page: run it (on a worker, with progress), its quality on the team's labels,
and the "Label next" list (least confident predictions first) with one-click labels."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.pages import page_context

from ..access import get_portfolio_team, get_task_for_user
from ..models import Exposure, ExposurePrediction, LabelSource, Task
from ..triage import classifier, service


@login_required
@require_GET
def triage(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    run = service.latest(access.team)
    tasks = Task.objects.for_team(access.team)
    context = page_context(
        access,
        "portfolio",
        run=run,
        quality=(run.quality if run else {}) or {},
        label_next=service.label_next(access.team),
        human_labels=tasks.filter(label_source=LabelSource.HUMAN).count(),
        predicted_labels=tasks.filter(label_source=LabelSource.PREDICTED).count(),
        labels=Exposure.choices,
        min_labels=classifier.MIN_LABELS,
        method=classifier.METHOD,
    )
    return render(request, "opportunities/triage.html", context)


@login_required
@require_POST
def triage_start(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug, write=True)
    _, started = service.start(access.team, request.user)
    messages.success(
        request, "The pre-screen is running on a worker." if started else "The pre-screen is already running."
    )
    return redirect("triage", team_slug=team_slug)


@login_required
@require_POST
def triage_label(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """A person's label for a task: it wins over any prediction, and the pre-screen learns it next run."""
    _, task = get_task_for_user(request, team_slug, code, write=True)
    label = request.POST.get("label", "")
    if label not in Exposure.values:
        messages.error(request, f"“{label[:20]}” is not a label: choose E0, E1 or E2.")
        return redirect("triage", team_slug=team_slug)
    task.exposure_label, task.label_source = label, LabelSource.HUMAN
    task.save(update_fields=["exposure_label", "label_source", "updated"])
    ExposurePrediction.objects.filter(task=task).delete()
    messages.success(request, f"Labelled {label}: “{task.statement[:60]}”.")
    return redirect("triage", team_slug=team_slug)
