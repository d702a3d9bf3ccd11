"""The exposure pre-screen page: run it (on a worker, with progress), its quality on the team's labels,
and the "Label next" list (least confident predictions first) with one-click labels."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.pages import page_context, wants_fragment
from llmcore.forms import ModelConfigChoiceField
from llmcore.models import Modality, ModelConfig

from ..access import get_portfolio_team, get_task_for_user
from ..models import Exposure, LabelSource, Task
from ..triage import classifier, service
from ..triage.chart import learning_curve_svg


def _label_next_rows(team) -> list[Task]:
    """The Label next tasks, each with `similar`: its prediction's most similar labelled tasks as
    (statement, label, similarity), fetched in one query for the whole list."""
    rows = service.label_next(team)
    predictions = [getattr(task, "exposure_prediction", None) for task in rows]
    ids = {n[0] for p in predictions if p for n in p.neighbours[:3]}
    statements = dict(Task.objects.for_team(team).filter(id__in=ids).values_list("id", "statement"))
    for task, prediction in zip(rows, predictions, strict=True):
        task.similar = [
            (statements[n[0]], n[1], n[2]) for n in (prediction.neighbours[:3] if prediction else [])
            if n[0] in statements
        ]  # fmt: skip
    return rows


def _run_context(access) -> dict:
    """What the run panel shows (it polls while a run is active, so nothing about the task list)."""
    run = service.latest(access.team)
    quality = (run.quality if run else {}) or {}
    return {
        "run": run,
        "quality": quality,
        "curve_svg": learning_curve_svg(quality.get("learning_curve") or []),
        "human_labels": Task.objects.for_team(access.team).filter(label_source=LabelSource.HUMAN).count(),
        "min_labels": classifier.MIN_LABELS,
        "start_form": TriageStartForm(team=access.team, role=access.role)
        if access.can_edit_portfolio
        else None,
    }


def _label_next_context(access) -> dict:
    return {"label_next": _label_next_rows(access.team), "labels": Exposure.choices}


def _context(access, **extra) -> dict:
    return page_context(
        access,
        "portfolio",
        **_run_context(access),
        **_label_next_context(access),
        method=classifier.METHOD,
        **extra,
    )


@login_required
@require_GET
def triage(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    template = "opportunities/triage.html"
    if wants_fragment(request) and request.htmx.target == "triage-run":
        return render(request, f"{template}#run", page_context(access, "portfolio", **_run_context(access)))
    return render(request, template, _context(access))


class TriageStartForm(forms.Form):
    model = ModelConfigChoiceField(
        queryset=ModelConfig.objects.none(),
        label="Model for teams with few labels",
        required=False,
        empty_label="None: the classifier only",
        error_messages={"invalid_choice": "Pick one of the team's models listed here."},
        help_text=f"While the team has fewer than {classifier.MIN_LABELS} labels, this model labels up to "
        f"{service.RUBRIC_MAX_TASKS} tasks by the rubric, with its reason. From then on the classifier "
        "takes over.",
    )

    def __init__(self, *args, team, role: str, **kwargs):
        super().__init__(*args, **kwargs)
        models = ModelConfig.objects.available_models(team, role).filter(modality=Modality.TEXT)
        self.fields["model"].queryset = models.order_by("name")
        if not self.is_bound:
            last = service.latest(team)
            self.initial.setdefault("model", last.model_id if last else None)


@login_required
@require_POST
def triage_start(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug, write=True)
    form = TriageStartForm(request.POST, team=access.team, role=access.role)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["model"]))
        return redirect("triage", team_slug=team_slug)
    _, started = service.start(access.team, request.user, model=form.cleaned_data["model"])
    messages.success(
        request, "The pre-screen is running on a worker." if started else "The pre-screen is already running."
    )
    return redirect("triage", team_slug=team_slug)


@login_required
@require_POST
def triage_label(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """A person's label for a task: it wins over any prediction, and the pre-screen learns it next run."""
    access, task = get_task_for_user(request, team_slug, code, write=True)
    label = request.POST.get("label", "")
    if label not in Exposure.values:
        message = f"“{label[:20]}” is not a label: choose E0, E1 or E2."
        if wants_fragment(request):
            return render(
                request,
                "opportunities/triage.html#label_next",
                page_context(access, "portfolio", **_label_next_context(access), label_error=message),
            )
        messages.error(request, message)
        return redirect("triage", team_slug=team_slug)
    task.exposure_label, task.label_source = label, LabelSource.HUMAN
    task.save(update_fields=["exposure_label", "label_source", "updated"])
    service.human_labels_changed(access.team, [task.pk])
    done = f"Labelled {label}: “{task.statement[:60]}”."
    if wants_fragment(request):
        # The list without that task, the next one selected; the run panel picks up the retraining.
        context = page_context(access, "portfolio", **_label_next_context(access), labelled=done)
        response = render(request, "opportunities/triage.html#label_next", context)
        trigger_client_event(response, "labels-changed")
        return response
    messages.success(request, done)
    return redirect("triage", team_slug=team_slug)
