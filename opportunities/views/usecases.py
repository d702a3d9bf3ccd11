from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    ProtectedError,
    Q,
    RestrictedError,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import TeamAccess
from accounts.models import Team
from accounts.pages import page_context

from ..access import get_portfolio_team, get_usecase_for_user
from ..models import STAGE_ORDER, Job, Stage, Task, UseCase, Verdict
from ..panels import usecase_panels
from ..usecases import (
    VERDICT_READINESS,
    StageMoveRejected,
    create_use_case,
    move_stage,
    update_use_case,
    worst_verdict,
)

User = get_user_model()

EDIT_FIELDS = ["name", "description", "mode", "owner", "risk_tier"]
PAGE_SIZE = 50
# The task picker shows at most this many search results (highest value first).
PICKER_LIMIT = 30


class UseCaseForm(forms.ModelForm):
    tasks = forms.ModelMultipleChoiceField(
        queryset=Task.objects.none(),
        to_field_name="code",
        error_messages={
            "required": "Choose at least one task from the portfolio: a use case pursues one or more tasks.",
            "invalid_choice": "Task %(value)s is not in this team's portfolio (was it deleted?).",
        },
    )

    class Meta:
        model = UseCase
        fields = EDIT_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "mode": "Augment: the model helps a person. Automate: the model does the task.",
            "risk_tier": "The highest tier that applies to what the system does and to whom.",
        }

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        owner.queryset = User.objects.filter(memberships__team=team).order_by("username")
        owner.label_from_instance = lambda user: user.get_username()
        owner.empty_label = "No owner yet"
        owner.error_messages["invalid_choice"] = "Choose the owner among this team's members."
        # Never rendered as a widget (thousands of options): the picker template lists checkboxes,
        # and validation checks every chosen code against this team's tasks in one query.
        self.fields["tasks"].queryset = Task.objects.for_team(team)

    def edited_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in EDIT_FIELDS}


def _codes(values: list[str]) -> list[str]:
    """The values that are UUIDs (anything else cannot be a task of this team)."""
    codes = []
    for value in values:
        try:
            codes.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return codes


def _task_picker(team: Team, data: QueryDict, selected: list[str] | None = None) -> dict:
    """Context for usecase_task_picker.html: chosen tasks plus a search over the team's tasks.

    Scales to thousands of tasks: only the chosen ones and PICKER_LIMIT matches are ever rendered.
    """
    chosen = _codes(data.getlist("tasks") if selected is None else selected)
    query = data.get("task_q", "").strip()[:200]
    job_code = next(iter(_codes([data.get("task_job", "")])), "")
    tasks = Task.objects.for_team(team).select_related("job").with_value()
    chosen_tasks = list(tasks.filter(code__in=chosen).order_by("job__title", "id")) if chosen else []
    matches = tasks.exclude(code__in=chosen)
    if query:
        matches = matches.filter(Q(statement__icontains=query) | Q(job__title__icontains=query))
    if job_code:
        matches = matches.filter(job__code=job_code)
    found = list(matches.order_by("-annual_value", "id")[: PICKER_LIMIT + 1])
    return {
        "chosen": chosen_tasks,
        "results": sorted(found[:PICKER_LIMIT], key=lambda t: (t.job.title, -t.annual_value)),
        "more": len(found) > PICKER_LIMIT,
        "query": query,
        "job_code": job_code,
        "jobs": Job.objects.filter(team=team).only("code", "title"),
    }


def _initial_from(data: QueryDict) -> dict:
    """What the user typed so far, shown again (unvalidated) while they search for tasks."""
    return {name: data.get(name, "") for name in EDIT_FIELDS}


def _with_rollups(use_cases):
    """Annotates task_count, value_total (sum of the tasks' annual value) and feasibility (the least
    ready verdict of the tasks, see usecases.VERDICT_READINESS): three subqueries, one query."""
    tasks = Task.objects.filter(use_cases=OuterRef("pk")).order_by()
    count = tasks.values("use_cases").annotate(n=Count("id")).values("n")
    value = tasks.with_value().values("use_cases").annotate(total=Sum("annual_value")).values("total")
    readiness = Case(
        *[When(verdict=verdict, then=Value(rank)) for rank, verdict in enumerate(VERDICT_READINESS)],
        default=Value(len(VERDICT_READINESS)),
        output_field=IntegerField(),
    )
    least_ready = tasks.annotate(readiness=readiness).order_by("readiness").values("verdict")[:1]
    money = DecimalField(max_digits=20, decimal_places=2)
    return use_cases.annotate(
        task_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        value_total=Coalesce(Subquery(value, output_field=money), Value(Decimal(0)), output_field=money),
        feasibility=Subquery(least_ready),
    )


def _steps(stage: str) -> list[dict]:
    current = STAGE_ORDER.index(stage)
    return [
        {
            "value": value,
            "label": label,
            "number": index + 1,
            "state": "done" if index < current else "current" if index == current else "todo",
        }
        for index, (value, label) in enumerate(Stage.choices)
    ]


def _stage_context(access: TeamAccess, use_case: UseCase, **extra) -> dict:
    history = list(use_case.stage_changes.select_related("changed_by"))
    labels = dict(Stage.choices)
    next_stage, previous_stage = use_case.next_stage(), use_case.previous_stage()
    return page_context(
        access,
        "usecases",
        use_case=use_case,
        steps=_steps(use_case.stage),
        stage_number=STAGE_ORDER.index(use_case.stage) + 1,
        stage_count=len(STAGE_ORDER),
        next_stage=next_stage,
        next_label=labels.get(next_stage),
        previous_stage=previous_stage,
        previous_label=labels.get(previous_stage),
        history=history,
        **{"stage_error": "", "stage_done": "", "note": "", "missing": [], "target": "", **extra},
    )


def _detail_context(request: HttpRequest, access: TeamAccess, use_case: UseCase, **extra) -> dict:
    tasks = list(use_case.tasks.select_related("job").with_value().order_by("-annual_value", "id"))
    feasibility = worst_verdict(t.verdict for t in tasks)
    return {
        **_stage_context(access, use_case, **extra),
        "panels": usecase_panels(request, access, use_case),
        "tasks": tasks,
        "value_total": sum((t.annual_value for t in tasks), Decimal(0)),
        "feasibility": feasibility,
        "feasibility_label": dict(Verdict.choices).get(feasibility, ""),
    }


@login_required
def usecase_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug)
    team = access.team
    form = picker = None
    open_form = "new" in request.GET
    if request.method == "POST":
        access = get_portfolio_team(request, team_slug, write=True)
        open_form = True
        if "find_tasks" in request.POST:
            form = UseCaseForm(team=team, initial=_initial_from(request.POST))
        else:
            form = UseCaseForm(request.POST, team=team)
            if form.is_valid():
                use_case = create_use_case(
                    team, request.user, form.cleaned_data["tasks"], **form.edited_fields()
                )
                messages.success(request, f"Created use case “{use_case.name}” in Scope.")
                return redirect("usecase_detail", team_slug=team.slug, code=use_case.code)
        picker = _task_picker(team, request.POST)
    elif access.can_edit_portfolio:
        picker = _task_picker(team, request.GET)
        if request.htmx and "task_q" in request.GET:
            return render(request, "opportunities/usecase_task_picker.html", {"team": team, **picker})
        form = UseCaseForm(team=team, initial={"owner": request.user.pk})
        open_form = open_form or bool(picker["chosen"])

    stage = request.GET.get("stage", "")
    use_cases = _with_rollups(UseCase.objects.filter(team=team).select_related("owner"))
    if stage in STAGE_ORDER:
        use_cases = use_cases.filter(stage=stage)
    page = Paginator(use_cases, PAGE_SIZE).get_page(request.GET.get("page"))
    verdict_labels = dict(Verdict.choices)
    for use_case in page:
        use_case.steps = _steps(use_case.stage)
        use_case.feasibility_label = verdict_labels.get(use_case.feasibility, "")
    return render(
        request,
        "opportunities/usecase_list.html",
        {
            "team": team,
            "access": access,
            "nav": "usecases",
            "page": page,
            "stage": stage,
            "stages": Stage.choices,
            "form": form,
            "picker": picker,
            "open_form": open_form,
        },
    )


@login_required
def usecase_detail(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase_for_user(request, team_slug, code)
    return render(request, "opportunities/usecase_detail.html", _detail_context(request, access, use_case))


@login_required
def usecase_edit(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase_for_user(request, team_slug, code, write=True)
    team = access.team
    title = use_case.name  # binding the form overwrites the instance's fields, even when invalid
    if request.method == "POST":
        if "find_tasks" in request.POST:
            form = UseCaseForm(instance=use_case, team=team, initial=_initial_from(request.POST))
        else:
            form = UseCaseForm(request.POST, instance=use_case, team=team)
            if form.is_valid():
                update_use_case(form.instance, form.cleaned_data["tasks"])
                messages.success(request, f"Saved use case “{use_case.name}”.")
                return redirect("usecase_detail", team_slug=team.slug, code=use_case.code)
        picker = _task_picker(team, request.POST)
    else:
        in_search = "task_q" in request.GET
        current = [str(c) for c in use_case.tasks.values_list("code", flat=True)]
        picker = _task_picker(team, request.GET, selected=None if in_search else current)
        if request.htmx and in_search:
            return render(request, "opportunities/usecase_task_picker.html", {"team": team, **picker})
        form = UseCaseForm(instance=use_case, team=team)
    return render(
        request,
        "opportunities/usecase_edit.html",
        {
            "team": team,
            "access": access,
            "nav": "usecases",
            "use_case": use_case,
            "title": title,
            "form": form,
            "picker": picker,
        },
    )


@login_required
@require_POST
def usecase_stage(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase_for_user(request, team_slug, code, write=True)
    target = request.POST.get("to", "")
    note = request.POST.get("note", "")
    override_reason = request.POST.get("override_reason") if "override" in request.POST else None
    if override_reason is not None and not access.is_admin:
        raise PermissionDenied("Only a team admin may override a stage gate.")
    try:
        move_stage(
            use_case,
            target=target,
            expected=request.POST.get("expected", ""),
            user=request.user,
            note=note,
            override_reason=override_reason,
        )
    except StageMoveRejected as rejected:
        try:
            use_case.refresh_from_db(fields=["stage"])
        except UseCase.DoesNotExist:
            messages.error(request, str(rejected))
            url = reverse("usecase_list", args=[access.team.slug])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        # Shown again with the note as typed, so nothing is lost. htmx swaps only 2xx responses.
        refused = {"stage_error": str(rejected), "note": note, "missing": rejected.missing, "target": target}
        if request.htmx:
            context = _stage_context(access, use_case, **refused)
            return render(request, "opportunities/usecase_detail.html#stage", context)
        context = _detail_context(request, access, use_case, **refused)
        return render(request, "opportunities/usecase_detail.html", context, status=409)
    done = f"Moved to {Stage(target).label}."
    if request.htmx:
        return render(
            request,
            "opportunities/usecase_detail.html#stage",
            _stage_context(access, use_case, stage_done=done),
        )
    messages.success(request, done)
    return redirect("usecase_detail", team_slug=access.team.slug, code=use_case.code)


@login_required
@require_POST
def usecase_delete(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase_for_user(request, team_slug, code, write=True)
    try:
        use_case.delete()
    except (ProtectedError, RestrictedError):
        messages.error(
            request,
            f"“{use_case.name}” cannot be deleted while audits or other records refer to it.",
        )
        return redirect("usecase_detail", team_slug=access.team.slug, code=use_case.code)
    messages.success(request, f"Deleted use case “{use_case.name}” and its stage history.")
    return redirect("usecase_list", team_slug=access.team.slug)
