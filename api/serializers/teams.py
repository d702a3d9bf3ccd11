from __future__ import annotations

from rest_framework import serializers


class TeamSerializer(serializers.Serializer):
    """A team as its member sees it, with the member's role (from their Membership)."""

    code = serializers.UUIDField(source="team.code", read_only=True)
    name = serializers.CharField(source="team.name", read_only=True)
    slug = serializers.SlugField(source="team.slug", read_only=True)
    role = serializers.ChoiceField(
        choices=["viewer", "editor", "auditor", "admin"], read_only=True, help_text="Your role in the team."
    )
    can_edit_portfolio = serializers.BooleanField(read_only=True)
