"""Team home, the portfolio table, jobs and tasks (with inline row editing over htmx).

Every page works as plain HTML; an htmx request gets only the fragment it swaps, rendered from a
partial of the same template (django-template-partials).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods
from django_htmx.http import push_url, trigger_client_event

from accounts.access import TeamAccess
from accounts.models import Team
from llmcore.experiments.services import active_with_progress

from ..access import get_job_for_user, get_portfolio_team, get_task_for_user
from ..forms import (
    DEFAULT_SORT,
    SORTS,
    JobForm,
    JobRowForm,
    PortfolioFilterForm,
    TaskForm,
    TaskRowForm,
    order_by_for,
)
from ..models import Job, Task, Verdict
from .feasibility import evidence_context

PAGE_SIZE = 50
TOP_COUNT = 10
# Sent after a task changes so the job's totals row refreshes itself.
TASK_CHANGED = "task-changed"
MONEY = DecimalField(max_digits=20, decimal_places=2)


def _context(access: TeamAccess, nav: str, **extra) -> dict:
    return {"team": access.team, "access": access, "nav": nav, **extra}


def _wants_fragment(request: HttpRequest) -> bool:
    # A history restore (back button after a cache miss) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- Team home -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerdictBar:
    verdict: str
    label: str
    count: int
    total: Decimal
    y: int
    width: int


CHART_BAR_WIDTH = 320
CHART_ROW_HEIGHT = 30


def verdict_bars(totals: dict[str, tuple[int, Decimal]]) -> list[VerdictBar]:
    """One bar per verdict (all four, in a fixed order) scaled to the largest positive total."""
    largest = max((total for _, total in totals.values() if total > 0), default=Decimal(0))
    bars = []
    for index, (verdict, label) in enumerate(Verdict.choices):
        count, total = totals.get(verdict, (0, Decimal(0)))
        width = int(CHART_BAR_WIDTH * total / largest) if largest and total > 0 else 0
        bars.append(VerdictBar(verdict, label, count, total, index * CHART_ROW_HEIGHT, width))
    return bars


@login_required
def team_home(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    team = access.team
    tasks = Task.objects.for_team(team).with_value()
    totals = tasks.aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
    by_verdict = {
        row["verdict"]: (row["count"], row["total"] or Decimal(0))
        for row in tasks.order_by().values("verdict").annotate(count=Count("id"), total=Sum("annual_value"))
    }
    context = _context(
        access,
        "home",
        task_count=totals["task_count"],
        value_total=totals["value_total"] or Decimal(0),
        job_count=Job.objects.filter(team=team).count(),
        bars=verdict_bars(by_verdict),
        chart_height=len(Verdict.choices) * CHART_ROW_HEIGHT,
        top_tasks=tasks.select_related("job").order_by("-annual_value", "id")[:TOP_COUNT],
        running_experiments=active_with_progress(team, TOP_COUNT),
    )
    return render(request, "opportunities/team_home.html", context)


# --- Portfolio table ------------------------------------------------------------------------------

# The portfolio's sortable columns in display order: (sort key, heading, numeric).
COLUMNS = [
    ("statement", "Task", False),
    ("job", "Job", False),
    ("kind", "Kind", False),
    ("mode", "Mode", False),
    ("exposure", "Exposure", False),
    ("verdict", "Verdict", False),
    ("hours", "Hours/week", True),
    ("value", "Annual value", True),
]


def sort_headers(current: str, keep: dict[str, str]) -> list[dict]:
    """Each column heading with the query that sorts by it (a second click reverses) and its state.

    Numeric columns sort biggest first on the first click.
    """
    headers = []
    for column, label, numeric in COLUMNS:
        if current.lstrip("-") == column:
            state = "descending" if current.startswith("-") else "ascending"
            target = column if current.startswith("-") else f"-{column}"
        else:
            state, target = "", f"-{column}" if numeric else column
        query = urlencode({**keep, "sort": target})
        headers.append({"label": label, "numeric": numeric, "state": state, "query": query})
    return headers


@login_required
def portfolio(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    team = access.team
    jobs = [(str(code), title) for code, title in Job.objects.filter(team=team).values_list("code", "title")]
    filters = PortfolioFilterForm(request.GET, jobs=jobs)
    tasks = filters.filter(Task.objects.for_team(team).with_value())
    value_total = tasks.aggregate(total=Sum("annual_value"))["total"] or Decimal(0)

    sort = request.GET.get("sort", "")
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    active = filters.active()
    page = Paginator(tasks.select_related("job").order_by(*order_by_for(sort)), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = _context(
        access,
        "portfolio",
        filters=filters,
        page=page,
        value_total=value_total,
        sort=sort,
        headers=sort_headers(sort, active),
        query=urlencode({**active, "sort": sort}),
        filtered=bool(active),
    )
    template = "opportunities/portfolio.html"
    if not _wants_fragment(request):
        response = render(request, template, context)
    else:
        response = render(request, f"{template}#table", context)
        # The address bar shows the tidy query (no empty filters) for sharing and reloading.
        page_part = f"&page={page.number}" if page.number > 1 else ""
        push_url(response, f"{request.path}?{context['query']}{page_part}")
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Jobs -----------------------------------------------------------------------------------------


def jobs_with_totals(team: Team) -> QuerySet[Job]:
    """The team's jobs with `task_count` and `value_total` annotated (two columns, no per-row query)."""
    value_per_job = (
        Task.objects.filter(job=OuterRef("pk"))
        .with_value()
        .order_by()
        .values("job")
        .annotate(total=Sum("annual_value"))
        .values("total")
    )
    count_per_job = (
        Task.objects.filter(job=OuterRef("pk")).order_by().values("job").annotate(n=Count("id")).values("n")
    )
    return Job.objects.filter(team=team).annotate(
        task_count=Coalesce(Subquery(count_per_job), Value(0)),
        value_total=Coalesce(
            Subquery(value_per_job, output_field=MONEY), Value(Decimal(0)), output_field=MONEY
        ),
    )


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
            if _wants_fragment(request):
                # The table gains the row and the add form starts afresh.
                form = JobForm(team=access.team)
            else:
                messages.success(request, f"Added the job “{job.title}”. Now list its tasks.")
                return redirect("job_detail", team_slug=team_slug, code=job.code)
    context = _context(access, "jobs", jobs=jobs_with_totals(access.team), form=form)
    template = "opportunities/job_list.html"
    if request.method == "POST" and _wants_fragment(request):
        return render(request, f"{template}#jobs", context)
    return render(request, template, context)


def _job_row_form_id(job: Job) -> str:
    return f"job-form-{job.code}"


def _job_display_row(request: HttpRequest, access: TeamAccess, job: Job) -> HttpResponse:
    context = _context(access, "jobs", job=jobs_with_totals(access.team).get(pk=job.pk))
    return render(request, "opportunities/job_list.html#job_row", context)


def _job_tasks_context(access: TeamAccess, job: Job, form: TaskForm | None = None) -> dict:
    tasks = job.tasks.with_value().order_by("id")
    totals = tasks.aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
    if form is None and access.can_edit_portfolio:
        form = TaskForm()
    return _context(
        access,
        "jobs",
        job=job,
        tasks=tasks,
        task_count=totals["task_count"],
        value_total=totals["value_total"] or Decimal(0),
        form=form,
    )


@login_required
def job_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code)
    if _wants_fragment(request) and request.htmx.target == f"job-{job.code}":
        # Cancelling an inline edit on the job list puts the display row back.
        return _job_display_row(request, access, job)
    template = "opportunities/job_detail.html"
    if _wants_fragment(request) and request.htmx.target == "job-totals":
        totals = job.tasks.with_value().aggregate(task_count=Count("id"), value_total=Sum("annual_value"))
        context = _context(
            access,
            "jobs",
            job=job,
            task_count=totals["task_count"],
            value_total=totals["value_total"] or Decimal(0),
        )
        return render(request, f"{template}#totals", context)
    return render(request, template, _job_tasks_context(access, job))


@login_required
@require_http_methods(["GET", "POST"])
def job_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    inline = _wants_fragment(request)
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
        totals = jobs_with_totals(access.team).get(pk=job.pk)
        job.task_count, job.value_total = totals.task_count, totals.value_total
        context = _context(access, "jobs", job=job, form=form, form_id=_job_row_form_id(job))
        return render(request, "opportunities/job_list.html#job_edit_row", context)
    return render(request, "opportunities/job_form.html", _context(access, "jobs", job=job, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    if request.method == "POST":
        job.delete()
        if _wants_fragment(request):
            # An empty body swapped over the row removes it.
            return HttpResponse("")
        messages.success(request, f"Deleted the job “{job.title}” and its tasks.")
        return redirect("job_list", team_slug=team_slug)
    task_count = job.tasks.count()
    context = _context(
        access,
        "jobs",
        title=f"Delete the job “{job.title}”?",
        consequence=f"This also deletes its {task_count} task{'s' if task_count != 1 else ''}"
        " and removes them from any use case.",
        action=request.path,
        cancel_url=reverse("job_detail", args=[team_slug, job.code]),
    )
    return render(request, "opportunities/confirm_delete.html", context)


# --- Tasks ----------------------------------------------------------------------------------------


def _row_form_id(task: Task) -> str:
    return f"task-form-{task.code}"


def _display_row(request: HttpRequest, access: TeamAccess, task: Task) -> HttpResponse:
    # Same figure as the SQL annotation (tests hold them equal), without another query.
    task.annual_value = task.value_breakdown().annual_value
    context = _context(access, "jobs", task=task)
    return render(request, "opportunities/job_detail.html#task_row", context)


def _edit_row(request: HttpRequest, access: TeamAccess, task: Task, form: TaskRowForm) -> HttpResponse:
    task.annual_value = task.value_breakdown().annual_value
    context = _context(access, "jobs", task=task, form=form, form_id=_row_form_id(task))
    return render(request, "opportunities/job_detail.html#task_edit_row", context)


@login_required
@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    form = TaskForm()
    if request.method == "POST":
        form = TaskForm(request.POST, instance=Task(job=job))
        if form.is_valid():
            task = form.save()
            if _wants_fragment(request):
                return render(request, "opportunities/job_detail.html#tasks", _job_tasks_context(access, job))
            messages.success(request, f"Added the task “{task.statement}”.")
            return redirect("job_detail", team_slug=team_slug, code=job.code)
        if _wants_fragment(request):
            return render(
                request, "opportunities/job_detail.html#tasks", _job_tasks_context(access, job, form)
            )
    context = _context(access, "jobs", job=job, form=form, task=None)
    return render(request, "opportunities/task_form.html", context)


@login_required
def task_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code)
    if _wants_fragment(request):
        return _display_row(request, access, task)
    return task_detail_response(request, access, task)


def task_detail_response(
    request: HttpRequest, access: TeamAccess, task: Task, evidence_form=None, status=200
):
    inputs = task.value_inputs()
    breakdown = task.value_breakdown()
    context = _context(
        access,
        "jobs",
        task=task,
        inputs=inputs,
        breakdown=breakdown,
        formula=breakdown.formula(inputs),
        use_cases=task.use_cases.order_by("name"),
        **evidence_context(task, evidence_form),
    )
    return render(request, "opportunities/task_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code, write=True)
    inline = _wants_fragment(request)
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
    context = _context(access, "jobs", job=task.job, form=form, task=task)
    return render(request, "opportunities/task_form.html", context)


@login_required
@require_http_methods(["GET", "POST", "DELETE"])
def task_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, task = get_task_for_user(request, team_slug, code, write=True)
    job = task.job
    if request.method in ("POST", "DELETE"):
        task.delete()
        if _wants_fragment(request):
            # An empty body swapped over the row removes it.
            return trigger_client_event(HttpResponse(""), TASK_CHANGED)
        messages.success(request, f"Deleted the task “{task.statement}”.")
        return redirect("job_detail", team_slug=team_slug, code=job.code)
    context = _context(
        access,
        "jobs",
        title=f"Delete the task “{task.statement}”?",
        consequence=f"It is removed from the job “{job.title}” and from any use case.",
        action=request.path,
        cancel_url=reverse("task_detail", args=[team_slug, task.code]),
    )
    return render(request, "opportunities/confirm_delete.html", context)
