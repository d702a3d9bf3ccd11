from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from accounts.pages import page_context, wants_fragment
from experiments.models import Dataset, Experiment
from experiments.services.datasets import current_versions
from experiments.services.grid import ExperimentError
from llmcore.services import BudgetExceeded, ModelNotAllowed

from . import charts, counterfactual, exporting, groupfair, pii, redteam, services, stereotype
from .access import get_fairness_team, get_policy_team, get_result_for_user
from .forms import (
    AssessmentForm,
    CounterfactualForm,
    GroupListForm,
    OverrideForm,
    PolicyForm,
    RedTeamForm,
    StereotypeForm,
    SuiteUploadForm,
    team_group_lists,
)
from .models import (
    CounterfactualProbe,
    FairnessAssessment,
    GroupList,
    PairSuite,
    PiiGuardEvent,
    PiiPolicy,
    RedTeamRun,
    Status,
    StereotypeProbe,
)

START_ERRORS = (ExperimentError, BudgetExceeded, ModelNotAllowed, counterfactual.ProbeError, ValueError)
NAV = "fairness"


@login_required
def fairness_home(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug)
    team = access.team
    context = page_context(
        access,
        NAV,
        assessments=FairnessAssessment.objects.filter(team=team)[:20],
        counterfactuals=CounterfactualProbe.objects.filter(team=team).select_related("model")[:20],
        stereotypes=StereotypeProbe.objects.filter(team=team).select_related("suite")[:20],
        redteams=RedTeamRun.objects.filter(team=team).select_related("model")[:20],
        can_run=_can_run(access),
    )
    return render(request, "fairness/home.html", context)


def _can_run(access) -> bool:
    return access.role in ("editor", "auditor", "admin")


# Group fairness -----------------------------------------------------------------------------------


@login_required
def assessment_new(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=True)
    form = AssessmentForm(request.POST or None, team=access.team)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            options = groupfair.Options(
                attributes=data["attributes"],
                positive_label=data["positive_label"].strip(),
                min_group_size=data["min_group_size"],
                n_boot=data["n_boot"],
                rule=groupfair.Rule(data["rule_metric"], data["rule_threshold"]),
            )
            assessment = services.request_assessment(
                access.team, request.user, data["run"], options, data["name"]
            )
        except (groupfair.AssessmentError, ValueError) as exc:
            error = str(exc)
        else:
            return redirect("fairness:assessment_detail", team_slug, assessment.code)
    return render(request, "fairness/assessment_form.html", page_context(access, NAV, form=form, error=error))


def assessment_charts(figures: dict) -> list[dict]:
    small = set(figures.get("small_groups", []))
    rule = figures.get("rule", {})
    out = []
    for item in figures.get("per_label", []):
        bars = [
            charts.Bar(
                g["group"],
                g["selection_rate"],
                *(g["selection_rate_ci"] or (None, None)),
                flag=g["group"] in small,
            )
            for g in item["groups"]
        ]
        reference = None
        if rule.get("metric") == "selection_rate_ratio" and item.get("highest"):
            reference = rule["threshold"] * item["highest"][1]
        out.append(
            {
                "label": item["label"],
                "svg": charts.interval_bars(
                    bars,
                    reference=reference,
                    reference_label="four-fifths of the highest" if reference is not None else "",
                    title=f"Selection rate of {item['label']!r} by group, with 95% bootstrap intervals",
                ),
                "item": item,
                "disparities": [
                    (key.replace("_", " ").capitalize(), value, item["intervals"].get(key))
                    for key, value in item["figures"].items()
                ],
            }
        )
    return out


@login_required
def assessment_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, assessment = get_result_for_user(
        request, team_slug, FairnessAssessment.objects.select_related("run__experiment"), code
    )
    experiment = None
    if assessment.status == Status.QUEUED and assessment.run is not None:
        experiment = _experiment_progress(assessment.run.experiment_id)
        if experiment is not None and experiment.is_finished:
            assessment.run.refresh_from_db()
            assessment = services.compute_pending_assessment(assessment)
    figures = assessment.result.get("figures", {})
    context = page_context(access, NAV, assessment=assessment, figures=figures, experiment=experiment,
                           charts=assessment_charts(figures), doc=assessment.result)  # fmt: skip
    if wants_fragment(request):
        response = render(request, "fairness/_experiment_progress.html", context)
        return response if assessment.status == Status.QUEUED else HttpResponseStopPolling(response.content)
    return render(request, "fairness/assessment_detail.html", context)


# Counterfactual probe -----------------------------------------------------------------------------


@login_required
def counterfactual_new(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=True)
    lists = team_group_lists(access.team)
    form = CounterfactualForm(request.POST or None, team=access.team, role=access.role, group_lists=lists)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            groups = counterfactual.parse_groups(form.raw_groups())
            probe = services.start_counterfactual(
                access.team, request.user, access.role, name=data["name"], template=data["template"],
                groups=groups, model=data["model"], repeats=data["repeats"], seed=data["seed"],
                temperature=data["temperature"], max_new_tokens=data["max_new_tokens"],
                decision_labels=data["decision_labels"], threshold=data["threshold"],
            )  # fmt: skip
        except START_ERRORS as exc:
            error = str(exc)
        else:
            messages.success(request, "Probe started: the worker generates every group's outputs.")
            return redirect("fairness:counterfactual_detail", team_slug, probe.code)
    return render(
        request, "fairness/counterfactual_form.html", page_context(access, NAV, form=form, error=error)
    )


def _experiment_progress(experiment_id):
    return Experiment.objects.with_progress().filter(pk=experiment_id).first()


@login_required
def counterfactual_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, probe = get_result_for_user(
        request, team_slug, CounterfactualProbe.objects.select_related("model"), code
    )
    experiment = _experiment_progress(probe.experiment_id)
    if experiment is not None and experiment.is_finished and not probe.result:
        probe = services.analyse_counterfactual(probe)
    figures = probe.result.get("figures", {})
    category_charts = []
    for category in figures.get("categories", []):
        bars = [
            charts.Bar(g["group"], g["refusal"]["rate"], g["refusal"]["low"], g["refusal"]["high"])
            for g in category["groups"]
        ]
        similarity = [charts.Bar(g["group"], g["similarity_to_others"]) for g in category["groups"]]
        category_charts.append(
            {
                "category": category,
                "refusals": charts.interval_bars(
                    bars, title=f"Refusal rate by {category['category']} (95% Wilson)"
                ),
                "similarity": charts.interval_bars(
                    similarity, title="Mean MiniLM similarity to other groups' outputs (same seed)"
                ),
            }
        )
    context = page_context(access, NAV, probe=probe, experiment=experiment, figures=figures,
                           category_charts=category_charts, doc=probe.result)  # fmt: skip
    if wants_fragment(request):
        response = render(request, "fairness/_experiment_progress.html", context)
        return (
            HttpResponseStopPolling(response.content)
            if experiment is None or experiment.is_finished
            else response
        )
    return render(request, "fairness/counterfactual_detail.html", context)


@login_required
def group_lists(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=request.method == "POST")
    form = GroupListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        category = form.cleaned_data["category"]
        try:
            groups = counterfactual.parse_groups({category: form.cleaned_data["groups"]})[category]
        except counterfactual.ProbeError as exc:
            form.add_error("groups", str(exc))
        else:
            GroupList.objects.update_or_create(
                team=access.team, category=category, defaults={"groups": groups}
            )
            messages.success(request, f"Group list {category!r} saved.")
            return redirect("fairness:group_lists", team_slug)
    lists = team_group_lists(access.team)
    own = set(GroupList.objects.filter(team=access.team).values_list("category", flat=True))
    return render(
        request,
        "fairness/group_lists.html",
        page_context(access, NAV, form=form, lists=lists, own=own, can_run=_can_run(access)),
    )


# Stereotype probe ---------------------------------------------------------------------------------


@login_required
def stereotype_new(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=True)
    suites = list(PairSuite.objects.filter(team=access.team))
    form = StereotypeForm(request.POST or None, team=access.team, role=access.role, suites=suites)
    error = ""
    if request.method == "POST" and form.is_valid():
        choice = form.cleaned_data["suite"]
        suite = None if choice == "builtin" else next(s for s in suites if str(s.code) == choice)
        try:
            probe = services.start_stereotype(
                access.team, request.user, access.role, model=form.cleaned_data["model"], suite=suite
            )
        except (stereotype.PairsInvalid, BudgetExceeded, ModelNotAllowed) as exc:
            error = str(exc)
        else:
            return redirect("fairness:stereotype_detail", team_slug, probe.code)
    return render(
        request,
        "fairness/stereotype_form.html",
        page_context(access, NAV, form=form, error=error, upload=SuiteUploadForm(), caveat=stereotype.CROWS_CAVEAT,
                     citation=stereotype.CROWS_CITATION, suites=suites),
    )  # fmt: skip


@login_required
def suite_upload(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=True)
    form = SuiteUploadForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > stereotype.MAX_UPLOAD_BYTES:
            errors = [
                f"The file is {upload.size / 2**20:.1f} MB; the limit is {stereotype.MAX_UPLOAD_BYTES // 2**20} MB."
            ]
        else:
            try:
                pairs = stereotype.parse_pairs(upload.read())
            except stereotype.PairsInvalid as exc:
                errors = exc.errors
            else:
                suite = services.save_suite(access.team, request.user, form.cleaned_data["name"], pairs)
                messages.success(request, f"Suite {suite.name!r} saved with {len(pairs)} pairs.")
                return redirect("fairness:stereotype_new", team_slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "fairness/suite_upload.html",
        page_context(access, NAV, form=form, errors=errors[:50], more_errors=max(0, len(errors) - 50)),
        status=status,
    )


@login_required
def stereotype_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, probe = get_result_for_user(
        request, team_slug, StereotypeProbe.objects.select_related("suite", "model"), code
    )
    done = probe.scores.count()
    figures = probe.result.get("figures", {})
    chart = None
    if figures:
        bars = [
            charts.Bar(
                "All pairs", figures["overall"]["rate"], figures["overall"]["low"], figures["overall"]["high"]
            )
        ]
        bars += [charts.Bar(c["category"], c["rate"], c["low"], c["high"]) for c in figures["categories"]]
        chart = charts.interval_bars(
            bars, reference=0.5, reference_label="no preference",
            title="Share of pairs where the more stereotyping sentence is preferred (95% Wilson)",
        )  # fmt: skip
    context = page_context(
        access, NAV, probe=probe, done=done, percent=round(100 * done / probe.total) if probe.total else 0,
        figures=figures, chart=chart, caveat=stereotype.CROWS_CAVEAT, citation=stereotype.CROWS_CITATION,
        can_run=_can_run(access), doc=probe.result,
    )  # fmt: skip
    if wants_fragment(request):
        response = render(request, "fairness/_stereotype_progress.html", context)
        return response if probe.is_active else HttpResponseStopPolling(response.content)
    return render(request, "fairness/stereotype_detail.html", context)


@login_required
@require_POST
def stereotype_cancel(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    _, probe = get_result_for_user(request, team_slug, StereotypeProbe.objects.all(), code, write=True)
    if services.cancel_stereotype(probe, request.user):
        messages.info(request, "Cancelled between chunks; pairs already scored are kept. Resume to finish.")
    return redirect("fairness:stereotype_detail", team_slug, probe.code)


@login_required
@require_POST
def stereotype_resume(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    _, probe = get_result_for_user(request, team_slug, StereotypeProbe.objects.all(), code, write=True)
    if services.resume_stereotype(probe):
        messages.success(request, "Resumed: only pairs not scored yet are computed.")
    return redirect("fairness:stereotype_detail", team_slug, probe.code)


# Red team -----------------------------------------------------------------------------------------


@login_required
def redteam_new(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug, write=True)
    form = RedTeamForm(request.POST or None, team=access.team, role=access.role)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.start_redteam(
                access.team, request.user, access.role, name=data["name"], version=data["prompt_version"],
                model=data["model"], suites=data["suites"], repeats=data["repeats"],
            )  # fmt: skip
        except START_ERRORS as exc:
            error = str(exc)
        else:
            return redirect("fairness:redteam_detail", team_slug, run.code)
    attacks = redteam.ATTACKS
    return render(
        request,
        "fairness/redteam_form.html",
        page_context(access, NAV, form=form, error=error, attacks=attacks),
    )


@login_required
def redteam_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, run = get_result_for_user(
        request, team_slug, RedTeamRun.objects.select_related("model", "prompt_version__template"), code
    )
    experiment = _experiment_progress(run.experiment_id)
    if experiment is not None and experiment.is_finished and not run.result:
        run = services.analyse_redteam(run)
    figures = run.result.get("figures", {})
    chart = None
    if figures.get("suites"):
        chart = charts.interval_bars(
            [charts.Bar(s["label"], s["rate"], s["low"], s["high"]) for s in figures["suites"]],
            title="Attack success rate per suite (95% Wilson)",
        )
    context = page_context(access, NAV, run=run, experiment=experiment, figures=figures, chart=chart,
                           attacks=redteam.BY_ID, can_run=_can_run(access), doc=run.result)  # fmt: skip
    if wants_fragment(request):
        response = render(request, "fairness/_experiment_progress.html", context)
        return (
            HttpResponseStopPolling(response.content)
            if experiment is None or experiment.is_finished
            else response
        )
    return render(request, "fairness/redteam_detail.html", context)


@login_required
@require_POST
def redteam_override(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    _, run = get_result_for_user(
        request,
        team_slug,
        RedTeamRun.objects.select_related("prompt_version__template", "model"),
        code,
        write=True,
    )
    form = OverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the attack succeeded.")
    else:
        try:
            services.overrule(run, form.cleaned_data["generation"], form.cleaned_data["success"],
                              form.cleaned_data["note"], request.user)  # fmt: skip
        except ValueError as exc:
            raise Http404(str(exc)) from exc
        messages.success(request, "Verdict recorded; the success rates are updated.")
    return redirect("fairness:redteam_detail", team_slug, run.code)


# Exports ------------------------------------------------------------------------------------------

EXPORTABLE = {
    "assessment": FairnessAssessment,
    "counterfactual": CounterfactualProbe,
    "stereotype": StereotypeProbe,
    "redteam": RedTeamRun,
}


@login_required
def export(request: HttpRequest, team_slug: str, kind: str, code, fmt: str) -> HttpResponse:
    model = EXPORTABLE.get(kind)
    if model is None or fmt not in ("json", "csv"):
        raise Http404("No such export")
    _, obj = get_result_for_user(request, team_slug, model.objects.all(), code)
    if not obj.result:
        raise Http404("This result has not been computed yet")
    filename = f"{kind}-{obj.code}.{fmt}"
    if fmt == "json":
        response = HttpResponse(
            json.dumps(obj.result, indent=2, ensure_ascii=False), content_type="application/json"
        )
    else:
        response = HttpResponse(exporting.to_csv(kind, obj.result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# PII ----------------------------------------------------------------------------------------------

MAX_SCAN_CASES = 5000


@login_required
def pii_overview(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_fairness_team(request, team_slug)
    policy = PiiPolicy.objects.filter(team=access.team).first() or PiiPolicy(team=access.team)
    form = None
    if request.method == "POST":
        access = get_policy_team(request, team_slug)
        form = PolicyForm(request.POST, instance=policy)
        if form.is_valid():
            saved = form.save(commit=False)
            saved.updated_by = request.user
            saved.save()
            messages.success(request, f"PII policy set to {saved.get_action_display().lower()}.")
            return redirect("fairness:pii_overview", team_slug)
    elif access.is_admin:
        form = PolicyForm(instance=policy)
    datasets = Dataset.objects.filter(team=access.team).annotate(
        case_count=Count("cases", filter=Q(cases__removed__isnull=True))
    )
    events = PiiGuardEvent.objects.filter(team=access.team).select_related("run__experiment")[:50]
    return render(
        request,
        "fairness/pii_overview.html",
        page_context(
            access, NAV, policy=policy, form=form, datasets=datasets, events=events, kinds=pii.KINDS
        ),
    )


@login_required
def pii_dataset(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access = get_fairness_team(request, team_slug)
    dataset = Dataset.objects.filter(team=access.team, code=code).first()
    if dataset is None:
        raise Http404("No such dataset")
    rows, totals, holding = [], {}, 0
    versions = list(current_versions(dataset)[:MAX_SCAN_CASES])
    for version in versions:
        found = pii.scan_values([version.inputs, version.expected_output])
        if found:
            holding += 1
            counts = pii.count_kinds(found)
            for kind, n in counts.items():
                totals[kind] = totals.get(kind, 0) + n
            rows.append({"key": version.case.key, "code": version.case.code, "counts": counts,
                         "findings": [(pii.KINDS[f.kind], f.detail, f.text) for f in found]})  # fmt: skip
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "fairness/pii_dataset.html",
        page_context(access, NAV, dataset=dataset, page=page, holding=holding, scanned=len(versions),
                     totals={pii.KINDS[k]: v for k, v in totals.items()}),
    )  # fmt: skip
