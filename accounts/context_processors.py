from __future__ import annotations

from django.http import HttpRequest


def teams(request: HttpRequest) -> dict:
    """The signed-in user's teams for the switcher; evaluated lazily, one query when shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_teams": []}
    from .models import Team

    return {"user_teams": Team.objects.filter(memberships__user=user).order_by("name")}
