"""403, 404 and 500 pages that keep the navigation and say why.

The team's navigation is shown only to its members: a stranger's 404 looks the same whether the team
exists or not."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404

from .access import get_team_for_user
from .pages import page_context

logger = logging.getLogger("assay.errors")

GENERIC_404 = "There is no page at this address, or it is not shared with you."


def _context(request: HttpRequest, **extra) -> dict:
    match = getattr(request, "resolver_match", None)
    slug = (match.kwargs.get("team_slug") if match else None) or ""
    user = getattr(request, "user", None)
    if slug and user is not None and user.is_authenticated:
        try:
            return page_context(get_team_for_user(request, slug), **extra)
        except Http404:
            pass
    return extra


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception or "") or "Your role does not allow this."
    logger.info("403 %s %s: %s", request.method, request.path, reason)
    return render(request, "403.html", _context(request, reason=reason), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = GENERIC_404
    if exception is not None and not isinstance(exception, Resolver404):
        message = str(exception)
        # Our access helpers' messages ("No such team", "Not found") and get_object_or_404's.
        if message and len(message) < 200:
            reason = f"{message.rstrip('.')}. {GENERIC_404}"
    return render(request, "404.html", _context(request, reason=reason), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Must not fail itself: the navigation is a bonus when the database still answers."""
    try:
        return render(request, "500.html", _context(request), status=500)
    except Exception:  # noqa: BLE001 - the page of last resort
        logger.exception("the 500 page could not be rendered with its navigation")
        try:
            return HttpResponseServerError(loader.get_template("500.html").render({}))
        except Exception:  # noqa: BLE001
            return HttpResponseServerError("<h1>Something went wrong</h1>", content_type="text/html")
