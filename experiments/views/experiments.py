from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh, HttpResponseStopPolling

from accounts.pages import page_context
from llmcore.services import BudgetExceeded, ModelNotAllowed

from .. import ambiguity, exporting, notices, result_export, results, reviewing, trials
from ..access import get_experiment_for_user, get_experiments_team, get_run_for_user
from ..estimates import describe_duration
from ..forms import PARAM_PRESETS, ExperimentForm, ParamSetForm, ParamSetFormSet, ScorerForm, ScorerFormSet
from ..models import Experiment, Generation, HumanReview, Run, Status, TestCase, TestCaseVersion
from ..services import grid

GENERATIONS_PER_PAGE = 50
LATEST_OUTPUTS = 8
COMPARE_CASES_PER_PAGE = 20
DEFAULT_PARAM_SET = {"label": "greedy", "params": {"temperature": 0, "max_new_tokens": 64}}


@login_required
def experiment_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug)
    experiments = (
        Experiment.objects.filter(team=access.team, trial=False)
        .select_related("dataset", "created_by")
        .annotate(run_count=Count("runs"))
        .order_by("-created", "-id")
    )
    page = Paginator(experiments, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "experiments/experiment_list.html",
        page_context(access, "experiments", page=page),
    )


def _builder(request: HttpRequest, access, experiment: Experiment | None) -> HttpResponse:
    team = access.team
    if experiment is not None:
        spec = grid.grid_spec_of(experiment)
        initial = {
            "name": spec.name,
            "description": spec.description,
            "dataset": spec.dataset.pk,
            "prompt_versions": [v.pk for v in spec.prompt_versions],
            "model_configs": [m.pk for m in spec.model_configs],
            "repeats": spec.repeats,
            "reuse_cached": spec.reuse_cached,
        }
        params_initial = [ParamSetForm.initial_for(p) for p in experiment.param_sets]
        scorers_initial = [ScorerForm.initial_for(c) for c in experiment.scorers]
    else:
        initial = {"repeats": 1, "reuse_cached": True}
        params_initial, scorers_initial = [ParamSetForm.initial_for(DEFAULT_PARAM_SET)], []
    data = request.POST if request.method == "POST" else None
    form = ExperimentForm(data, team=team, role=access.role, initial=initial)
    param_forms = ParamSetFormSet(data, prefix="params", initial=params_initial)
    scorer_forms = ScorerFormSet(data, prefix="scorers", initial=scorers_initial)
    estimate = None
    if data is not None:
        valid = form.is_valid() & param_forms.is_valid() & scorer_forms.is_valid()
        param_sets = [
            grid.ParamSet(f.cleaned_data["label"].strip(), f.params)
            for f in param_forms
            if valid and not f.is_empty
        ]
        if valid and not param_sets:
            param_forms.forms[0].add_error("label", "Fill in at least one parameter set.")
            valid = False
        if valid:
            spec = grid.GridSpec(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                dataset=form.cleaned_data["dataset"],
                prompt_versions=list(form.cleaned_data["prompt_versions"]),
                model_configs=list(form.cleaned_data["model_configs"]),
                param_sets=param_sets,
                repeats=form.cleaned_data["repeats"],
                scorers=[f.config for f in scorer_forms if not f.is_empty],
                reuse_cached=form.cleaned_data["reuse_cached"],
            )
            estimate = grid.estimate_grid_for(spec)
            if "trial" in request.POST:
                return _start_trial(request, access, spec)
            if "estimate" not in request.POST:
                try:
                    experiment = grid.save_experiment(team, request.user, spec, experiment)
                except grid.ExperimentError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, "Saved as a draft: check the estimate, then start it.")
                    return redirect("experiments:experiment_detail", team.slug, experiment.code)
    context = {
        "team": team,
        "access": access,
        "nav": "experiments",
        "form": form,
        "param_forms": param_forms,
        "scorer_forms": scorer_forms,
        "experiment": experiment,
        "estimate": estimate,
        "duration": describe_duration(estimate) if estimate else "",
        "scorer_catalog": scorer_reference(),
        "param_presets": [(name, json.dumps(values)) for name, values in PARAM_PRESETS.items()],
    }
    if request.htmx and "trial" in request.POST:
        # The grid does not validate: say so where the try-out would appear.
        return render(
            request, "experiments/_trial.html", {**context, "trial_errors": True, "builder_url": request.path}
        )
    if request.htmx and "estimate" in request.POST:
        return render(request, "experiments/_estimate.html", context)
    return render(request, "experiments/experiment_form.html", context)


EXAMPLE_VALUES = {"str": "text", "str_list": ["first", "second"], "bool": True, "int": 100, "float": 0.5}


def _start_trial(request: HttpRequest, access, spec) -> HttpResponse:
    context = page_context(access, "experiments", builder_url=request.path)
    try:
        experiment = trials.start_trial(access.team, request.user, access.role, spec)
    except (grid.ExperimentError, BudgetExceeded, ModelNotAllowed) as exc:
        return render(request, "experiments/_trial.html", {**context, "trial_error": str(exc)})
    return render(request, "experiments/_trial.html", {**context, **trial_context(experiment)})


def trial_context(experiment: Experiment) -> dict:
    run = experiment.runs.select_related("prompt_version__template").first()
    generations = (
        Generation.objects.filter(run=run)
        .select_related("case_version__case")
        .prefetch_related("scores")
        .order_by("case_version__case__key")
        if run
        else []
    )
    generations = list(generations)
    scoring = bool(experiment.scorers) and any(g.scored is None and not g.error for g in generations)
    return {
        "trial": experiment,
        "trial_run": run,
        "generations": generations,
        "polling": experiment.is_active or scoring,
    }


@login_required
def experiment_trial(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """The try-out's outputs as they arrive (polled by the builder)."""
    access, experiment = get_experiment_for_user(request, team_slug, code)
    if not experiment.trial:
        raise Http404("Not a try-out.")
    builder_url = urlsplit(request.headers.get("HX-Current-URL", "")).path or reverse(
        "experiments:experiment_create", args=[team_slug]
    )
    context = {**page_context(access, "experiments", builder_url=builder_url), **trial_context(experiment)}
    response = render(request, "experiments/_trial.html", context)
    return response if context["polling"] else HttpResponseStopPolling(response.content)


def scorer_reference() -> list[dict]:
    """Each scorer with its parameters and an example of the JSON the builder takes."""
    from llmcore.scoring import catalog

    reference = []
    for item in catalog():
        example = {}
        for param in item["params"]:
            if param["required"]:
                example[param["name"]] = (
                    param["choices"][0] if param["choices"] else EXAMPLE_VALUES.get(param["kind"], "…")
                )
        reference.append({**item, "example": json.dumps(example, ensure_ascii=False)})
    return reference


@login_required
def experiment_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug, write=True)
    return _builder(request, access, None)


@login_required
def experiment_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    if experiment.status != Status.DRAFT:
        messages.info(request, "This experiment has started: copy it to change its grid.")
        return redirect("experiments:experiment_detail", team_slug, experiment.code)
    return _builder(request, access, experiment)


# Scoring that has not caught up this long after the experiment finished is not waited for any more
# (a failed scoring task is the recovery sweep's business, not a reason to poll forever).
SCORING_WAIT = timedelta(minutes=30)


def progress_context(experiment: Experiment) -> dict:
    """Runs with their counts from the database: one query for every run of the experiment. The page
    keeps polling while outputs are generated and, when the experiment has scorers, until they are scored."""
    runs = list(experiment.runs.select_related("prompt_version__template").with_progress().order_by("id"))
    generated = sum(r.generated for r in runs)
    total = sum(r.total for r in runs)
    to_score = sum(r.generated - r.errors for r in runs) if experiment.scorers else 0
    scored = sum(r.scored for r in runs) if experiment.scorers else 0
    recently = experiment.finished is None or timezone.now() - experiment.finished < SCORING_WAIT
    scoring = bool(experiment.scorers) and scored < to_score and recently
    return {
        "runs": runs,
        "generated": generated,
        "total": total,
        "percent": round(100 * generated / total) if total else 0,
        "to_score": to_score,
        "scored": scored,
        "scoring": scoring,
        "polling": experiment.is_active or scoring,
    }


@login_required
def experiment_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code)
    context = page_context(access, "experiments", experiment=experiment)
    if experiment.status == Status.DRAFT:
        spec = grid.grid_spec_of(experiment)
        estimate = grid.estimate_grid_for(spec)
        context.update(spec=spec, estimate=estimate, duration=describe_duration(estimate))
        return render(request, "experiments/experiment_detail.html", context)
    context.update(progress_context(experiment))
    if request.htmx:
        if not context["polling"]:
            # Finished and scored: the status, the actions and the results all change, so the whole
            # page is loaded again once (it does not poll).
            return HttpResponseClientRefresh()
        return render(request, "experiments/experiment_detail.html#progress", context)
    context["spec"] = grid.grid_spec_of(experiment)
    rows = Generation.objects.filter(run__experiment=experiment).result_rows()
    summaries = results.summarise({run.pk: run.total for run in context["runs"]}, rows)
    verdicts: dict[int, list[str]] = {}
    for run_id, verdict in HumanReview.objects.filter(generation__run__experiment=experiment).values_list(
        "generation__run_id", "verdict"
    ):
        verdicts.setdefault(run_id, []).append(verdict)
    ambiguous = ambiguity.ambiguous_by_run(run.pk for run in context["runs"])
    context["matrix"] = [
        (run, summaries[run.pk], reviewing.acceptance(verdicts.get(run.pk, [])), ambiguous.get(run.pk))
        for run in context["runs"]
    ]
    return render(request, "experiments/experiment_detail.html", context)


@login_required
@require_POST
def experiment_start(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    try:
        grid.start_experiment(experiment, request.user, access.role)
    except (grid.ExperimentError, BudgetExceeded, ModelNotAllowed) as exc:
        messages.error(request, str(exc))
    else:
        runs = experiment.runs.count()
        messages.success(request, f"Started: {runs} run{'s' if runs != 1 else ''} queued.")
        notices.watch(request, experiment)
    return redirect("experiments:experiment_detail", team_slug, experiment.code)


@login_required
@require_POST
def experiment_cancel(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    count = grid.cancel_experiment(experiment, request.user)
    if count:
        messages.success(
            request,
            f"Cancelled {count} run{'s' if count != 1 else ''}; batches already generating finish and keep their outputs.",
        )
    else:
        messages.info(request, "Nothing to cancel: every run had finished.")
    return redirect("experiments:experiment_detail", team_slug, experiment.code)


@login_required
@require_POST
def experiment_copy(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    copy = grid.copy_experiment(experiment, request.user)
    messages.success(request, "Copied as a new draft. Unchanged cells will reuse their earlier outputs.")
    return redirect("experiments:experiment_detail", team_slug, copy.code)


@login_required
@require_POST
def experiment_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    if experiment.status != Status.DRAFT:
        messages.error(request, "Only drafts can be deleted: started experiments are evidence.")
        return redirect("experiments:experiment_detail", team_slug, experiment.code)
    experiment.delete()
    messages.success(request, f"Draft {experiment.name!r} deleted.")
    return redirect("experiments:experiment_list", team_slug)


FILTERS = {
    "all": Q(),
    "errors": ~Q(error=""),
    "passed": Q(passed=True),
    "failed": Q(passed=False),
    "unscored": Q(scored__isnull=True, error=""),
}


@login_required
def run_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, run = get_run_for_user(request, team_slug, code)
    experiment = run.experiment
    shown = request.GET.get("show", "all")
    if shown not in FILTERS:
        raise Http404("Unknown filter")
    counts = Generation.objects.filter(run=run).aggregate(
        generated=Count("id"),
        errors=Count("id", filter=~Q(error="")),
        n_passed=Count("id", filter=Q(passed=True)),
        n_failed=Count("id", filter=Q(passed=False)),
        n_scored=Count("id", filter=Q(scored__isnull=False, error="")),
        reused=Count("id", filter=Q(reused_from__isnull=False)),
        tokens_in=Sum("tokens_in"),
        tokens_out=Sum("tokens_out"),
        cost=Sum("cost"),
        latency=Avg("latency_s"),
    )
    percent = round(100 * counts["generated"] / run.total) if run.total else 100
    active = run.status in (Status.QUEUED, Status.RUNNING)
    latest = (
        Generation.objects.filter(run=run)
        .select_related("case_version__case")
        .order_by("-id")[:LATEST_OUTPUTS]
    )
    context = page_context(
        access,
        "experiments",
        experiment=experiment,
        run=run,
        counts=counts,
        percent=percent,
        polling=active,
        latest=latest,
        show=shown,
        filters=list(FILTERS),
    )
    if request.htmx:
        if not active:
            return HttpResponseClientRefresh()  # the summary and the outputs below change too
        return render(request, "experiments/run_detail.html#progress", context)
    generations = (
        Generation.objects.filter(run=run)
        .filter(FILTERS[shown])
        .select_related("case_version__case")
        .prefetch_related("scores")
        .order_by("case_version__case__key", "repeat")
    )
    context["page"] = Paginator(generations, GENERATIONS_PER_PAGE).get_page(request.GET.get("page"))
    context["summary"] = results.summarise_run(
        run.pk, run.total, Generation.objects.filter(run=run).result_rows()
    )
    context["ambiguous"] = ambiguity.ambiguous_by_run([run.pk]).get(run.pk)
    context.update(_baseline_context(request, access.team, run))
    return render(request, "experiments/run_detail.html", context)


BASELINE_CHOICES = 50


def _baseline_context(request: HttpRequest, team, run: Run) -> dict:
    """Runs of the team on the same dataset to compare with, and the comparison with the chosen one."""
    candidates = list(
        Run.objects.filter(experiment__team=team, experiment__dataset_id=run.experiment.dataset_id)
        .exclude(pk=run.pk)
        .exclude(status__in=[Status.QUEUED])
        .select_related("experiment", "prompt_version__template")
        .order_by("-created")[:BASELINE_CHOICES]
    )
    context: dict = {"baseline_candidates": [(c, f"{c.experiment.name}: {c.label}") for c in candidates]}
    code = request.GET.get("baseline", "")
    baseline = next((c for c in candidates if str(c.code) == code), None)
    if baseline is None:
        return context
    comparison = results.compare_to_baseline(
        Generation.objects.filter(run=run).result_rows(),
        Generation.objects.filter(run=baseline).result_rows(),
    )
    cases = {
        pk: (key, case_code)
        for pk, key, case_code in TestCase.objects.filter(
            pk__in=comparison.improved + comparison.regressed
        ).values_list("pk", "key", "code")
    }
    context.update(
        baseline=baseline,
        comparison=comparison,
        improved=sorted(cases[i] for i in comparison.improved),
        regressed=sorted(cases[i] for i in comparison.regressed),
    )
    return context


@login_required
def experiment_compare(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """Side by side: every run's outputs for each case; optionally only cases where the runs differ."""
    access, experiment = get_experiment_for_user(request, team_slug, code)
    if experiment.snapshot is None:
        raise Http404("This experiment has not started")
    runs = list(experiment.runs.select_related("prompt_version__template").order_by("id"))
    rows = Generation.objects.filter(run__experiment=experiment).result_rows(with_text=True)
    differ = request.GET.get("differ") == "1"
    versions = TestCaseVersion.objects.filter(snapshots=experiment.snapshot).select_related("case")
    versions = versions.order_by("case__key")
    if differ:
        versions = versions.filter(case_id__in=results.differing_cases(rows))
    page = Paginator(versions, COMPARE_CASES_PER_PAGE).get_page(request.GET.get("page"))
    cells: dict[tuple[int, int], list] = {}
    for row in rows:
        cells.setdefault((row.case_id, row.run_id), []).append(row)
    table = [
        {
            "version": version,
            "cells": [
                sorted(cells.get((version.case_id, run.pk), []), key=lambda r: r.repeat) for run in runs
            ],
        }
        for version in page.object_list
    ]
    return render(
        request,
        "experiments/experiment_compare.html",
        page_context(
            access,
            "experiments",
            experiment=experiment,
            runs=[(run, run.label) for run in runs],
            table=table,
            page=page,
            differ=differ,
        ),
    )


@login_required
def experiment_export(request: HttpRequest, team_slug: str, code, fmt: str) -> HttpResponse:
    access, experiment = get_experiment_for_user(request, team_slug, code)
    if fmt not in ("csv", "jsonl"):
        raise Http404("Unknown format")
    rows = result_export.export_rows(experiment)
    filename = f"experiment-{slugify(experiment.name) or 'results'}-{experiment.code.hex[:8]}.{fmt}"
    if fmt == "jsonl":
        response = StreamingHttpResponse(exporting.jsonl_lines(rows), content_type="application/x-ndjson")
    else:
        names = set()
        if experiment.snapshot_id:
            for inputs in TestCaseVersion.objects.filter(snapshots=experiment.snapshot).values_list(
                "inputs", flat=True
            ):
                names.update(inputs)
        scorer_columns = [(i, c.get("name", "")) for i, c in enumerate(experiment.scorers)]
        response = StreamingHttpResponse(
            exporting.csv_lines(rows, sorted(names), scorer_columns), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
