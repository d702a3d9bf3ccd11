"""The health page for instance administrators (staff): can this instance run experiments now."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .. import health as health_checks


@login_required
def health(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise Http404("Only instance administrators see the health page")  # nothing to learn here
    report = health_checks.check()
    response = render(
        request, "experiments/health.html", {"report": report}, status=200 if report.ok else 503
    )
    return response
