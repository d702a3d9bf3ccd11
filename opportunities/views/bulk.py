"""Bulk actions on the tasks ticked in the portfolio: set their mode, add them to a use case, delete them.

Each task is saved on its own (not with a QuerySet update), so the change log records every one and the
value fields that depend on the mode are recomputed. Deleting asks for a confirmation first.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.pages import page_context

from ..access import get_portfolio_team
from ..forms import BulkTaskForm
from ..models import Mode

MAX_TASKS = 500


def _back(request: HttpRequest, team_slug: str):
    """To the portfolio page the person came from (same filters and page), never to another site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("portfolio", team_slug=team_slug)


def _count(n: int) -> str:
    return f"{n} task{'s' if n != 1 else ''}"


@login_required
@require_POST
def portfolio_bulk(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_portfolio_team(request, team_slug, write=True)
    form = BulkTaskForm(request.POST, team=access.team)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back(request, team_slug)
    tasks = list(form.cleaned_data["tasks"])[:MAX_TASKS]
    action = form.cleaned_data["action"]
    if action.startswith("mode:"):
        mode = action.split(":", 1)[1]
        changed = [task for task in tasks if task.mode != mode]
        for task in changed:
            task.mode = mode
            task.save()
        messages.success(request, f"Set the mode of {_count(len(changed))} to {Mode(mode).label.lower()}.")
    elif action == "usecase":
        use_case = form.cleaned_data["use_case"]
        use_case.tasks.add(*tasks)
        messages.success(request, f"Added {_count(len(tasks))} to the use case “{use_case.name}”.")
    elif action == "delete":
        if not form.cleaned_data["confirm"]:
            return render(
                request,
                "opportunities/bulk_delete_confirm.html",
                page_context(access, "portfolio", tasks=tasks, next=request.POST.get("next", "")),
            )
        for task in tasks:
            task.delete()
        messages.success(request, f"Deleted {_count(len(tasks))}.")
    return _back(request, team_slug)
