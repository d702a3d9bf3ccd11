from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


# What each role may change. Everyone in a team may read everything in it.
PORTFOLIO_WRITERS = frozenset({Role.EDITOR, Role.ADMIN})
AUDIT_WRITERS = frozenset({Role.AUDITOR, Role.ADMIN})
TEAM_ADMINS = frozenset({Role.ADMIN})


class Team(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One role per person per team; the access helpers look memberships up by (team, user).
            models.UniqueConstraint(fields=["team", "user"], name="unique_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_edit_portfolio(self) -> bool:
        return self.role in PORTFOLIO_WRITERS

    @property
    def can_audit(self) -> bool:
        return self.role in AUDIT_WRITERS

    @property
    def is_admin(self) -> bool:
        return self.role in TEAM_ADMINS
