"""The team a command names by slug: the helper lives in accounts, below every app that has commands."""

from __future__ import annotations

from accounts.management.teams import team_by_slug

__all__ = ["team_by_slug"]
