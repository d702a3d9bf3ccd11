from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.pages import page_context

from ..access import get_experiments_team, get_prompt_for_user
from ..forms import PromptForm
from ..models import PromptTemplate, TestCase
from ..rendering import PromptError
from ..services.datasets import current_versions
from ..services.prompts import create_prompt_template, preview_prompt, save_prompt_version

PREVIEW_CASES = 200  # cases offered in the preview picker


@login_required
def prompt_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug)
    templates = (
        PromptTemplate.objects.filter(team=access.team)
        .select_related("dataset")
        .annotate(
            latest=Max("versions__number"), changed=Max("versions__created"), version_count=Count("versions")
        )
        .order_by("name", "id")
    )
    return render(
        request,
        "experiments/prompt_list.html",
        page_context(access, "prompts", templates=templates),
    )


@login_required
def prompt_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_experiments_team(request, team_slug, write=True)
    form = PromptForm(request.POST or None, team=access.team)
    if request.method == "POST" and form.is_valid():
        try:
            template = create_prompt_template(
                access.team,
                request.user,
                form.cleaned_data["name"],
                form.content(),
                description=form.cleaned_data["description"],
                dataset=form.cleaned_data["dataset"],
                change_note=form.cleaned_data["change_note"] or "First version",
            )
        except PromptError as exc:
            form.add_error("instruction", str(exc))
        else:
            messages.success(request, f"Prompt {template.name!r} saved as version 1.")
            return redirect("experiments:prompt_detail", team_slug, template.code)
    return render(
        request,
        "experiments/prompt_form.html",
        page_context(access, "prompts", form=form, template=None),
    )


@login_required
def prompt_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, template = get_prompt_for_user(request, team_slug, code)
    versions = list(template.versions.select_related("author").order_by("-number"))
    if not versions:
        raise Http404("This prompt has no version")
    version = versions[0]
    if request.GET.get("v"):
        version = next((v for v in versions if str(v.number) == request.GET["v"]), None)
        if version is None:
            raise Http404("No such version")
    cases = list(current_versions(template.dataset)[:PREVIEW_CASES]) if template.dataset else []
    preview = preview_error = chosen = None
    case_code = request.GET.get("case")
    if case_code:
        case = (
            TestCase.objects.filter(code=case_code, dataset__team=access.team).first()
            if _is_uuid(case_code)
            else None
        )
        chosen = case and case.versions.filter(is_current=True).first()
        if chosen is None:
            preview_error = "That test case no longer exists."
        else:
            try:
                preview = preview_prompt(version, chosen)
            except PromptError as exc:
                preview_error = str(exc)
    context = page_context(
        access,
        "prompts",
        template=template,
        versions=versions,
        version=version,
        cases=cases,
        chosen=chosen,
        preview=preview,
        preview_error=preview_error,
    )
    name = "experiments/prompt_detail.html#preview" if request.htmx else "experiments/prompt_detail.html"
    return render(request, name, context)


@login_required
def prompt_edit(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, template = get_prompt_for_user(request, team_slug, code, write=True)
    latest = template.versions.order_by("-number").first()
    form = PromptForm(
        request.POST or None, team=access.team, initial=PromptForm.initial_for(template, latest)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        template.name, template.description, template.dataset = (
            data["name"],
            data["description"],
            data["dataset"],
        )
        try:
            with transaction.atomic():
                template.save(update_fields=["name", "description", "dataset"])
                version, created = save_prompt_version(
                    template, request.user, form.content(), data["change_note"]
                )
        except PromptError as exc:
            form.add_error("instruction", str(exc))
        else:
            if created:
                messages.success(
                    request, f"Saved as version {version.number}. Earlier versions are unchanged."
                )
            else:
                messages.info(
                    request, f"The content is identical to version {version.number}: no new version."
                )
            return redirect("experiments:prompt_detail", team_slug, template.code)
    return render(
        request,
        "experiments/prompt_form.html",
        page_context(access, "prompts", form=form, template=template, latest=latest),
    )


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
