"""Jobs: the list (with inline row editing over htmx), a job's page with its tasks, edit and delete.

Every page works as plain HTML; an htmx request gets only the fragment it swaps, rendered from a
partial of the same template (django-template-partials).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import TeamAccess
from accounts.pages import page_context, wants_fragment

from .. import exposure
from ..access import get_job_for_user, get_portfolio_team
from ..forms import JobForm, JobRowForm, TaskForm
from ..models import Job
from ..templatetags.portfolio_tags import share
from .inline import Cell, EditRow, dollars, edit_row


def _save_job(form: JobForm) -> Job | None:
    """Saves the job; None (with the error on the form) if another request took the title meanwhile."""
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        title = form.cleaned_data["title"]
        form.add_error("title", f"A job titled “{title}” already exists in this team.")
        return None


@login_required
@require_http_methods(["GET", "POST"])
def job_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    form = JobForm(team=access.team)
    if request.method == "POST":
        access = get_portfolio_team(request, team_slug, write=True)
        form = JobForm(request.POST, team=access.team, instance=Job(team=access.team))
        if form.is_valid() and (job := _save_job(form)):
            if wants_fragment(request):
                # The table gains the row and the add form starts afresh.
                form = JobForm(team=access.team)
            else:
                messages.success(request, f"Added the job “{job.title}”. Now list its tasks.")
                return redirect("job_detail", team_slug=team_slug, code=job.code)
    jobs = with_exposure(access, Job.objects.filter(team=access.team).with_totals())
    context = page_context(access, "jobs", jobs=jobs, form=form)
    template = "opportunities/job_list.html"
    if request.method == "POST" and wants_fragment(request):
        return render(request, f"{template}#jobs", context)
    return render(request, template, context)


def with_exposure(access: TeamAccess, jobs) -> list[Job]:
    """The jobs, each with `exposure` (opportunities.exposure.JobExposure), in one more query."""
    jobs = list(jobs)
    exposures = exposure.for_team(access.team, [job.pk for job in jobs])
    for job in jobs:
        job.exposure = exposures.get(job.pk)
    return jobs


def _job_row_form_id(job: Job) -> str:
    return f"job-form-{job.code}"


def _job_display_row(request: HttpRequest, access: TeamAccess, job: Job) -> HttpResponse:
    (row,) = with_exposure(access, Job.objects.filter(team=access.team).with_totals().filter(pk=job.pk))
    context = page_context(access, "jobs", job=row)
    return render(request, "opportunities/job_list.html#job_row", context)


def job_tasks_context(access: TeamAccess, job: Job, form: TaskForm | None = None) -> dict:
    tasks = job.tasks.with_value().order_by("id")
    totals = tasks.aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
    if form is None and access.can_edit_portfolio:
        form = TaskForm()
    return page_context(
        access,
        "jobs",
        job=job,
        tasks=tasks,
        task_count=totals["task_count"],
        value_total=totals["value_total"] or Decimal(0),
        form=form,
        exposure=exposure.for_team(access.team, [job.pk]).get(job.pk),
    )


@login_required
def job_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code)
    if wants_fragment(request) and request.htmx.target == f"job-{job.code}":
        # Cancelling an inline edit on the job list puts the display row back.
        return _job_display_row(request, access, job)
    template = "opportunities/job_detail.html"
    if wants_fragment(request) and request.htmx.target == "job-totals":
        totals = job.tasks.with_value().aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
        context = page_context(
            access,
            "jobs",
            job=job,
            task_count=totals["task_count"],
            value_total=totals["value_total"] or Decimal(0),
        )
        return render(request, f"{template}#totals", context)
    if wants_fragment(request) and request.htmx.target == "job-exposure":
        context = page_context(
            access, "jobs", job=job, exposure=exposure.for_team(access.team, [job.pk]).get(job.pk)
        )
        return render(request, f"{template}#exposure", context)
    return render(request, template, job_tasks_context(access, job))


@login_required
@require_http_methods(["GET", "POST"])
def job_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    inline = wants_fragment(request)
    if inline:
        # The inline row edits the columns it shows; the full form edits everything.
        form = JobRowForm(
            request.POST or None,
            instance=job,
            team=access.team,
            html_form=_job_row_form_id(job),
            auto_id=f"job-{job.code}-%s",  # several rows may be open at once
        )
    else:
        form = JobForm(request.POST or None, instance=job, team=access.team)
    if request.method == "POST" and form.is_valid() and _save_job(form):
        if inline:
            return _job_display_row(request, access, job)
        messages.success(request, f"Saved the job “{job.title}”.")
        return redirect("job_detail", team_slug=team_slug, code=job.code)
    if request.method == "POST":
        # Validation copied the valid fields onto the instance: show the stored job beside the form.
        job.refresh_from_db(fields=form._meta.fields)
    if inline:
        totals = Job.objects.filter(team=access.team).with_totals().get(pk=job.pk)
        row = EditRow(
            row_id=f"job-{job.code}",
            form_id=_job_row_form_id(job),
            action=reverse("job_edit", args=[team_slug, job.code]),
            cancel_href=reverse("job_list", args=[team_slug]),
            cancel_get=reverse("job_detail", args=[team_slug, job.code]),
        )
        cells = [
            Cell(form["title"], "Job title"),
            Cell(form["headcount"], "Headcount", numeric=True),
            Cell(form["hourly_cost"], "Loaded hourly cost", numeric=True),
            Cell(text=str(totals.task_count), numeric=True),
            Cell(text=share(exposure.for_team(access.team, [job.pk]).get(job.pk).e1_half_e2), numeric=True),
            Cell(text=dollars(totals.value_total), numeric=True),
        ]
        return edit_row(request, access, row, form, cells)
    return render(request, "opportunities/job_form.html", page_context(access, "jobs", job=job, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    if request.method == "POST":
        job.delete()
        if wants_fragment(request):
            # An empty body swapped over the row removes it.
            return HttpResponse("")
        messages.success(request, f"Deleted the job “{job.title}” and its tasks.")
        return redirect("job_list", team_slug=team_slug)
    task_count = job.tasks.count()
    context = page_context(
        access,
        "jobs",
        title=f"Delete the job “{job.title}”?",
        consequence=f"This also deletes its {task_count} task{'s' if task_count != 1 else ''}"
        " and removes them from any use case.",
        action=request.path,
        cancel_url=reverse("job_detail", args=[team_slug, job.code]),
    )
    return render(request, "opportunities/confirm_delete.html", context)
