"""The team a command names by slug, or a CommandError that lists the slugs there are."""

from __future__ import annotations

from django.core.management.base import CommandError

from accounts.models import Team


def team_by_slug(slug: str) -> Team:
    found = Team.objects.filter(slug=slug).first()
    if found is None:
        slugs = ", ".join(Team.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(f'No team with the slug "{slug}" (teams: {slugs}).')
    return found
