"""The team's History page: who created, changed or deleted what, filterable by object and person."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import history
from .access import get_team_for_user
from .pages import page_context

PER_PAGE = 50


@login_required
def team_history(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_team_for_user(request, team_slug)
    entries = history.for_team(access.team.pk)
    key = request.GET.get("object", "").strip()
    actor = request.GET.get("person", "").strip()
    if key:
        entries = history.filter_object(entries, key)
    if actor:
        entries = entries.filter(actor__username=actor)
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    people = list(
        access.team.memberships.select_related("user")
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )
    filters = {name: value for name, value in (("object", key), ("person", actor)) if value}
    return render(
        request,
        "accounts/history.html",
        page_context(
            access,
            "history",
            page=page,
            rows=history.rows(page.object_list),
            people=people,
            object_key=key,
            person=actor,
            query=urlencode(filters),
            filtered=bool(filters),
            object_name=page.object_list[0].object_repr if key and page.object_list else "",
        ),
    )
