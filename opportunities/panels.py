"""Sections other apps add to this app's pages without this app importing them.

An app above (audits) registers a function that returns a Panel — a template of its own and that
template's context — and the page includes every registered panel in order. The dependency stays
one-way: opportunities only knows this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest

from accounts.access import TeamAccess

from .models import UseCase


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict = field(default_factory=dict)


HomePanel = Callable[[HttpRequest, TeamAccess], Panel | None]
UseCasePanel = Callable[[HttpRequest, TeamAccess, UseCase], Panel | None]

_HOME: list[HomePanel] = []
_USE_CASE: list[UseCasePanel] = []


def register_home_panel(fn: HomePanel) -> None:
    """fn(request, access) -> Panel or None, shown on the team's home page ("what is due")."""
    if fn not in _HOME:
        _HOME.append(fn)


def register_usecase_panel(fn: UseCasePanel) -> None:
    """fn(request, access, use_case) -> Panel or None, shown on the use case page."""
    if fn not in _USE_CASE:
        _USE_CASE.append(fn)


def home_panels(request: HttpRequest, access: TeamAccess) -> list[Panel]:
    return [panel for fn in _HOME if (panel := fn(request, access)) is not None]


def usecase_panels(request: HttpRequest, access: TeamAccess, use_case: UseCase) -> list[Panel]:
    return [panel for fn in _USE_CASE if (panel := fn(request, access, use_case)) is not None]
