from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRefresh

from accounts.pages import page_context, wants_fragment
from opportunities.models import UseCase

from . import files, services
from .access import get_report_for_user, get_reports_team
from .forms import ReportRequestForm
from .models import Report

LIST_LIMIT = 100


def _list_page(request: HttpRequest, access, form: ReportRequestForm, status: int = 200) -> HttpResponse:
    team = access.team
    reports = list(
        Report.objects.filter(team=team, expires__gt=timezone.now()).select_related("created_by")[:LIST_LIMIT]
    )
    use_cases = list(UseCase.objects.filter(team=team).order_by("name", "id").only("code", "name", "stage"))
    context = page_context(access, "reports", reports=reports, form=form, use_cases=use_cases)
    context["retention_days"] = services.retention().days
    return render(request, "reports/report_list.html", context, status=status)


@login_required
@require_safe
def report_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_reports_team(request, team_slug)
    return _list_page(request, access, ReportRequestForm(team=access.team))


@login_required
@require_POST
def report_request(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_reports_team(request, team_slug, write=True)
    form = ReportRequestForm(request.POST, team=access.team)
    if not form.is_valid():
        return _list_page(request, access, form, status=400)
    report = services.request_report(
        access.team,
        request.user,
        form.cleaned_data["kind"],
        form.cleaned_data["format"],
        form.parameters(),
        form.title(),
    )
    messages.success(request, "Report requested: a worker is making it.")
    return redirect("reports:report_detail", team_slug, report.code)


@login_required
@require_safe
def report_detail(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, report = get_report_for_user(request, team_slug, code)
    context = page_context(access, "reports", report=report)
    if wants_fragment(request):
        if not report.active:
            return HttpResponseClientRefresh()  # the download link and the status change
        return render(request, "reports/report_detail.html#progress", context)
    return render(request, "reports/report_detail.html", context)


@login_required
@require_safe
def report_download(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, report = get_report_for_user(request, team_slug, code)
    path = files.path_of(report) if report.ready else None
    if path is None:
        raise Http404("This report has no file (not ready yet, failed or expired).")
    return files.download_response(report, path)


@login_required
@require_POST
def report_delete(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, report = get_report_for_user(request, team_slug, code)
    get_reports_team(request, team_slug, write=True)
    services.delete_report(report)
    messages.success(request, f"Deleted “{report.title}”.")
    return redirect("reports:report_list", team_slug)
