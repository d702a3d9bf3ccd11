"""What every page's template needs, built in one place: the team, the viewer's access and the
navigation entry to highlight; and whether an htmx request wants only a fragment."""

from __future__ import annotations

from django.http import HttpRequest

from .access import TeamAccess


def page_context(access: TeamAccess, nav: str = "", **extra) -> dict:
    """`team`, `access` (role and permissions, for the navigation and the buttons) and `nav`."""
    return {"team": access.team, "access": access, "nav": nav, **extra}


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page; a history restore (back button after a cache miss)
    needs the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request
