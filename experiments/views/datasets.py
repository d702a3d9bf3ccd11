from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.pages import page_context

from ..access import get_case_for_user, get_dataset_for_user, get_experiments_team
from ..forms import CaseForm, DatasetForm, ImportForm
from ..importing import ImportFailed, parse_upload
from ..models import Dataset
from ..services.datasets import (
    add_case,
    current_versions,
    dataset_variables,
    edit_case,
    import_cases,
    remove_case,
)

CASES_PER_PAGE = 50
MAX_IMPORT_BYTES = 10 * 1024 * 1024


@login_required
def dataset_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug)
    datasets = (
        Dataset.objects.filter(team=access.team)
        .annotate(case_count=Count("cases", filter=Q(cases__removed__isnull=True)))
        .order_by("name", "id")
    )
    return render(
        request,
        "experiments/dataset_list.html",
        page_context(access, "datasets", datasets=datasets),
    )


@login_required
def dataset_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug, write=True)
    form = DatasetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        dataset = form.save(commit=False)
        dataset.team, dataset.created_by = access.team, request.user
        dataset.save()
        messages.success(request, f"Dataset {dataset.name!r} created. Add test cases or import a file.")
        return redirect("experiments:dataset_detail", team_slug, dataset.code)
    return render(
        request,
        "experiments/dataset_form.html",
        page_context(access, "datasets", form=form, dataset=None),
    )


@login_required
def dataset_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, dataset = get_dataset_for_user(request, team_slug, code)
    if request.method == "POST":
        access, dataset = get_dataset_for_user(request, team_slug, code, write=True)
        form = DatasetForm(request.POST, instance=dataset)
        if form.is_valid():
            form.save()
            messages.success(request, "Dataset saved.")
            return redirect("experiments:dataset_detail", team_slug, dataset.code)
    else:
        form = DatasetForm(instance=dataset)
    cases = current_versions(dataset)
    tag = request.GET.get("tag", "").strip()
    if tag:
        cases = cases.filter(tags__icontains=tag)
    page = Paginator(cases, CASES_PER_PAGE).get_page(request.GET.get("page"))
    variables = sorted(dataset_variables(dataset))
    snapshots = dataset.snapshots.order_by("-number")[:10]
    return render(
        request,
        "experiments/dataset_detail.html",
        page_context(
            access,
            "datasets",
            dataset=dataset,
            form=form,
            page=page,
            variables=variables,
            snapshots=snapshots,
            tag=tag,
        ),
    )


@login_required
def dataset_import(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, dataset = get_dataset_for_user(request, team_slug, code, write=True)
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = min(MAX_IMPORT_BYTES, getattr(settings, "IMPORT_MAX_BYTES", MAX_IMPORT_BYTES))
        if upload.size > limit:
            errors = [f"The file is {upload.size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB."]
        else:
            try:
                rows = parse_upload(upload.name, upload.read())
            except ImportFailed as exc:
                errors = exc.errors
            else:
                counts = import_cases(dataset, request.user, rows)
                messages.success(
                    request,
                    f"Imported {len(rows)} test cases: {counts['created']} new, {counts['updated']} updated "
                    f"(new versions), {counts['unchanged']} unchanged.",
                )
                return redirect("experiments:dataset_detail", team_slug, dataset.code)
    return render(
        request,
        "experiments/dataset_import.html",
        page_context(access, "datasets", dataset=dataset, form=form, errors=errors),
        status=400 if errors else 200,
    )


@login_required
def case_create(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, dataset = get_dataset_for_user(request, team_slug, code, write=True)
    form = CaseForm(request.POST or None, variables=sorted(dataset_variables(dataset)))
    if request.method == "POST" and form.is_valid():
        data = form.case_data
        if data.key and dataset.cases.filter(key=data.key).exists():
            form.add_error("key", f"The key {data.key!r} is already used in this dataset.")
        else:
            case = add_case(dataset, request.user, data)
            messages.success(request, f"Test case {case.key} added.")
            if "another" in request.POST:
                return redirect("experiments:case_create", team_slug, dataset.code)
            return redirect("experiments:dataset_detail", team_slug, dataset.code)
    return render(
        request,
        "experiments/case_form.html",
        page_context(access, "datasets", dataset=dataset, form=form, case=None),
    )


@login_required
def case_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, case = get_case_for_user(request, team_slug, code)
    versions = case.versions.select_related("author").order_by("-number")
    return render(
        request,
        "experiments/case_detail.html",
        page_context(access, "datasets", case=case, dataset=case.dataset, versions=versions),
    )


@login_required
def case_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, case = get_case_for_user(request, team_slug, code, write=True)
    current = case.versions.filter(is_current=True).first()
    variables = sorted(dataset_variables(case.dataset) | set(current.inputs if current else {}))
    form = CaseForm(
        request.POST or None,
        variables=variables,
        initial=CaseForm.initial_for(case, current) if current else None,
    )
    form.fields["key"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.case_data
        data.key = case.key
        version = edit_case(case, request.user, data, form.cleaned_data["change_note"])
        if version is None:
            messages.info(request, "Nothing changed: no new version.")
        else:
            messages.success(
                request, f"Saved as version {version.number}. Runs on earlier versions keep them."
            )
        return redirect("experiments:case_detail", team_slug, case.code)
    return render(
        request,
        "experiments/case_form.html",
        page_context(access, "datasets", dataset=case.dataset, form=form, case=case),
    )


@login_required
@require_POST
def case_remove(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, case = get_case_for_user(request, team_slug, code, write=True)
    remove_case(case)
    messages.success(request, f"Test case {case.key} removed from new snapshots; past runs keep it.")
    return redirect("experiments:dataset_detail", team_slug, case.dataset.code)
