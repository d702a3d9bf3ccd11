"""Tasks: add (on the job's page), the task's page with its value formula and feasibility evidence
(linked experiments, rubric answer, per-run verdicts), inline row editing over htmx, delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from accounts.access import TeamAccess
from accounts.pages import page_context, wants_fragment

from .. import verdicts
from ..access import get_job_for_user, get_task_for_user
from ..feasibility import RUBRIC_QUESTION
from ..forms import TaskEvidenceForm, TaskForm, TaskRowForm
from ..models import LabelSource, Task
from ..triage import service as triage_service
from .inline import Cell, EditRow, dollars, edit_row
from .jobs import job_tasks_context

# Sent after a task changes so the job's totals row refreshes itself.
TASK_CHANGED = "task-changed"


def _row_form_id(task: Task) -> str:
    return f"task-form-{task.code}"


def _display_row(request: HttpRequest, access: TeamAccess, task: Task) -> HttpResponse:
    # Same figure as the SQL annotation (tests hold them equal), without another query.
    task.annual_value = task.value_breakdown().annual_value
    context = page_context(access, "jobs", task=task)
    return render(request, "opportunities/job_detail.html#task_row", context)


def _edit_row(request: HttpRequest, access: TeamAccess, task: Task, form: TaskRowForm) -> HttpResponse:
    slug = access.team.slug
    row = EditRow(
        row_id=f"task-{task.code}",
        form_id=_row_form_id(task),
        action=reverse("task_edit", args=[slug, task.code]),
        cancel_href=reverse("job_detail", args=[slug, task.job.code]),
        cancel_get=reverse("task_detail", args=[slug, task.code]),
    )
    cells = [
        Cell(form["statement"], "Task"),
        Cell(form["kind"], "Kind"),
        Cell(form["hours_per_week"], "Hours per week per person"),
        Cell(form["people_share"], "Share of people doing it (%)", suffix="%"),
        Cell(form["mode"], "Mode"),
        Cell(form["time_saved"], "Expected time saved (%)", suffix="%"),
        Cell(form["exposure_label"], "Exposure"),
        Cell(text=task.get_verdict_display(), badge=task.verdict),
        Cell(text=dollars(task.value_breakdown().annual_value), numeric=True),
    ]
    return edit_row(request, access, row, form, cells)


def _label_saved(access: TeamAccess, task: Task, form) -> None:
    """A person set or cleared the task's exposure label: the pre-screen learns it (see triage.service)."""
    if {"exposure_label", "label_source"} & set(form.changed_data) and task.label_source != LabelSource.PREDICTED:
        triage_service.human_labels_changed(access.team, [task.pk])


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    form = TaskForm()
    if request.method == "POST":
        form = TaskForm(request.POST, instance=Task(job=job))
        if form.is_valid():
            task = form.save()
            _label_saved(access, task, form)
            if wants_fragment(request):
                return render(request, "opportunities/job_detail.html#tasks", job_tasks_context(access, job))
            messages.success(request, f"Added the task “{task.statement}”.")
            return redirect("job_detail", team_slug=team_slug, code=job.code)
        if wants_fragment(request):
            return render(
                request, "opportunities/job_detail.html#tasks", job_tasks_context(access, job, form)
            )
    context = page_context(access, "jobs", job=job, form=form, task=None)
    return render(request, "opportunities/task_form.html", context)


@login_required
def task_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code)
    if wants_fragment(request):
        return _display_row(request, access, task)
    return task_detail_response(request, access, task)


def task_detail_response(
    request: HttpRequest, access: TeamAccess, task: Task, evidence_form=None, status=200
):
    inputs = task.value_inputs()
    breakdown = task.value_breakdown()
    context = page_context(
        access,
        "jobs",
        task=task,
        inputs=inputs,
        breakdown=breakdown,
        formula=breakdown.formula(inputs),
        use_cases=task.use_cases.order_by("name"),
        explanation=triage_service.explain(task),
        **evidence_context(task, evidence_form),
    )
    return render(request, "opportunities/task_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code, write=True)
    inline = wants_fragment(request)
    if inline:
        # The inline row edits the columns it shows; the full form edits everything.
        form = TaskRowForm(
            request.POST or None,
            instance=task,
            html_form=_row_form_id(task),
            auto_id=f"task-{task.code}-%s",  # several rows may be open at once
        )
    else:
        form = TaskForm(request.POST or None, instance=task)
    if request.method == "POST" and form.is_valid():
        task = form.save()
        _label_saved(access, task, form)
        if inline:
            response = _display_row(request, access, task)
            trigger_client_event(response, TASK_CHANGED)
            return response
        messages.success(request, "Saved the task.")
        return redirect("task_detail", team_slug=team_slug, code=task.code)
    if request.method == "POST":
        # Validation copied the valid fields onto the instance: show the stored task beside the form.
        task.refresh_from_db(fields=[*form._meta.fields, "label_source"])
    if inline:
        return _edit_row(request, access, task, form)
    context = page_context(access, "jobs", job=task.job, form=form, task=task)
    return render(request, "opportunities/task_form.html", context)


@login_required
@require_http_methods(["GET", "POST", "DELETE"])
def task_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code, write=True)
    job = task.job
    if request.method in ("POST", "DELETE"):
        human = task.label_source == LabelSource.HUMAN
        task.delete()
        if human:
            triage_service.human_labels_changed(access.team)
        if wants_fragment(request):
            # An empty body swapped over the row removes it.
            return trigger_client_event(HttpResponse(""), TASK_CHANGED)
        messages.success(request, f"Deleted the task “{task.statement}”.")
        return redirect("job_detail", team_slug=team_slug, code=job.code)
    context = page_context(
        access,
        "jobs",
        title=f"Delete the task “{task.statement}”?",
        consequence=f"It is removed from the job “{job.title}” and from any use case.",
        action=request.path,
        cancel_url=reverse("task_detail", args=[team_slug, task.code]),
    )
    return render(request, "opportunities/confirm_delete.html", context)


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
        messages.error(request, "The evidence was not saved: see the errors below.")
        return task_detail_response(request, access, task, evidence_form=form, status=400)
    with transaction.atomic():
        task = form.save()
        verdicts.recompute([task])
    messages.success(request, f"Saved. The verdict is now {task.get_verdict_display().lower()}.")
    return redirect("task_detail", team_slug=team_slug, code=task.code)
