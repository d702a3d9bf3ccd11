"""The team's feasibility thresholds: everyone reads them, admins edit them (saving re-judges every task)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import ADMIN, READ, get_team_for_user
from accounts.pages import page_context

from .. import verdicts
from ..feasibility import RUBRIC_QUESTION, Thresholds
from ..forms import ThresholdsForm
from ..models import FeasibilityPolicy
from ..signals import thresholds_changed


@login_required
@require_http_methods(["GET", "POST"])
def thresholds(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_team_for_user(request, team_slug, ADMIN if request.method == "POST" else READ)
    policy = FeasibilityPolicy.objects.filter(team=access.team).first() or FeasibilityPolicy(team=access.team)
    form = ThresholdsForm(request.POST or None, instance=policy)
    if not access.is_admin:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        changes = {
            name: [_plain(form.initial.get(name)), _plain(form.cleaned_data.get(name))]
            for name in form.changed_data
        }
        with transaction.atomic():
            form.save()
            changed = verdicts.recompute_team(access.team.pk)
            thresholds_changed.send(
                sender=FeasibilityPolicy, team=access.team, user=request.user, changes=changes
            )
        messages.success(
            request, f"Saved the thresholds; {changed} task verdict{'s' if changed != 1 else ''} changed."
        )
        return redirect("feasibility_thresholds", team_slug=team_slug)
    context = page_context(
        access, "thresholds", form=form, defaults=Thresholds(), rubric_question=RUBRIC_QUESTION, policy=policy
    )
    return render(request, "opportunities/thresholds.html", context, status=400 if form.errors else 200)


def _plain(value):
    """A JSON-friendly copy of a form value (decimals as text)."""
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)
