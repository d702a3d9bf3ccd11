from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from accounts.pages import page_context

from . import services, tasks, throughput, usage
from .access import get_llm_team, get_model_for_user
from .forms import ModelConfigForm, TeamBudgetForm
from .models import InferenceCall, Modality, ModelConfig, TeamBudget

# Comparison table sort keys: the selection criteria people weigh. Unknown models sort last.
SORTS = {
    "name": [F("name").asc()],
    "size": [F("parameter_count").asc(nulls_last=True), F("name").asc()],
    "context": [F("context_window").desc(), F("name").asc()],
    "latency": [F("measured_latency_s").asc(nulls_last=True), F("name").asc()],
    "throughput": [F("measured_tokens_per_s").desc(nulls_last=True), F("name").asc()],
    "cost": [F("cost_per_1k_output").asc(), F("cost_per_hour").asc(), F("name").asc()],
}


@login_required
def model_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_llm_team(request, team_slug)
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    configs = ModelConfig.objects.for_team(access.team).order_by(*SORTS[sort])
    context = page_context(
        access, "models", configs=configs, sort=sort, sorts=[(key, key.capitalize()) for key in SORTS]
    )
    template = "llmcore/model_list.html#table" if request.htmx else "llmcore/model_list.html"
    return render(request, template, context)


@login_required
def model_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_llm_team(request, team_slug, write=True)
    form = ModelConfigForm(request.POST or None, instance=ModelConfig(team=access.team), team=access.team)
    if request.method == "POST" and form.is_valid():
        config = form.save()
        messages.success(request, f"Added {config.name}. Measure it to fill in its latency and throughput.")
        return redirect("model_detail", team_slug=team_slug, code=config.code)
    return render(
        request,
        "llmcore/model_form.html",
        page_context(access, "models", form=form),
    )


@login_required
def model_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, config = get_model_for_user(request, team_slug, code)
    now = timezone.now()
    since = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    calls = InferenceCall.objects.filter(team=access.team, model=config, created__gte=since)
    rows = list(calls.daily_summary())
    days = [since.date() + timedelta(days=i) for i in range(30)]
    chart = usage.bar_chart(usage.daily_totals(rows, days))
    return render(
        request,
        "llmcore/model_detail.html",
        page_context(
            access,
            "models",
            config=config,
            totals=calls.totals(),
            chart=chart,
            recent=calls.select_related("user")[:20],
            can_use=config.allows_role(access.role) and config.is_active,
            can_measure=access.is_admin and not config.is_instance_wide and config.modality == Modality.TEXT,
            speed=throughput.for_models([config.pk]).get(config.pk),
            samples=config.throughput_samples.order_by("-created")[:10],
        ),
    )


@login_required
def model_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, config = get_model_for_user(request, team_slug, code, write=True)
    form = ModelConfigForm(request.POST or None, instance=config, team=access.team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {config.name}.")
        return redirect("model_detail", team_slug=team_slug, code=config.code)
    return render(
        request,
        "llmcore/model_form.html",
        page_context(access, "models", form=form, config=config),
    )


@login_required
def model_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, config = get_model_for_user(request, team_slug, code, write=True)
    if request.method == "POST":
        try:
            config.delete()
        except (ProtectedError, RestrictedError) as exc:
            count = len(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
            messages.error(
                request,
                f"{config.name} is used by {count} saved record(s) (e.g. experiment runs) and cannot be "
                "deleted; untick 'active' to stop people picking it.",
            )
            return redirect("model_detail", team_slug=team_slug, code=config.code)
        messages.success(request, f"Deleted {config.name}. Its usage history is kept.")
        return redirect("model_list", team_slug=team_slug)
    return render(
        request,
        "llmcore/model_delete.html",
        page_context(access, "models", config=config),
    )


@login_required
@require_POST
def model_measure(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, config = get_model_for_user(request, team_slug, code, write=True)
    if config.modality != Modality.TEXT:
        messages.error(request, f"{config.name} is not a text generation model; only those are measured.")
    else:
        try:
            tasks.enqueue_measurement(config, team=access.team, user=request.user)
        except OperationalError:
            messages.error(request, "The task queue cannot be reached; start a worker and try again.")
        else:
            messages.success(
                request,
                f"Measuring {config.name} on the {tasks.queue_for(config)} queue: reload this page in a "
                "minute to see its latency and throughput.",
            )
    return redirect("model_detail", team_slug=team_slug, code=config.code)


@login_required
def usage_report(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_llm_team(request, team_slug)
    now = timezone.now()
    window = usage.parse_month(request.GET.get("month", ""), now)
    calls = InferenceCall.objects.filter(team=access.team).between(window.start, window.end)
    rows = list(calls.daily_summary())
    status = services.budget_status(access.team, now)
    context = page_context(
        access,
        "models",
        window=window,
        is_current=window.start <= now < window.end,
        rows=rows,
        per_model=list(calls.per_model()),
        totals=calls.totals(),
        chart=usage.bar_chart(usage.daily_totals(rows, window.days)),
        status=status,
    )
    template = "llmcore/usage.html#report" if request.htmx else "llmcore/usage.html"
    return render(request, template, context)


@login_required
def budget_edit(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_llm_team(request, team_slug, write=True)
    budget = TeamBudget.objects.filter(team=access.team).first() or TeamBudget(team=access.team)
    form = TeamBudgetForm(request.POST or None, instance=budget)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved the monthly budget; it applies to work submitted from now on.")
        return redirect("usage", team_slug=team_slug)
    return render(
        request,
        "llmcore/budget_form.html",
        page_context(access, "models", form=form, status=services.budget_status(access.team)),
    )
