from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TeamHistory:
    """Mixed into a tracked model: the team its change log entries are filed under."""

    def history_team_id(self) -> int | None:
        return self.team_id

    def get_additional_data(self) -> dict:
        return {"team": self.history_team_id()}


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


# What each role may change. Everyone in a team may read everything in it.
PORTFOLIO_WRITERS = frozenset({Role.EDITOR, Role.ADMIN})
AUDIT_WRITERS = frozenset({Role.AUDITOR, Role.ADMIN})
TEAM_ADMINS = frozenset({Role.ADMIN})
# Who may prepare an audit (answer it, attach evidence, keep the risk register); signing stays with
# AUDIT_WRITERS.
AUDIT_PREPARERS = frozenset({Role.EDITOR, Role.AUDITOR, Role.ADMIN})


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


class Membership(TeamHistory, models.Model):
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


class UserSession(models.Model):
    """A signed-in session, so a person can see where they are signed in and sign out of all of them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.user} since {self.created:%Y-%m-%d %H:%M}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


class Invitation(models.Model):
    """A team admin's invitation; the person becomes a member only when they accept it.

    `invited` is resolved from the username or email the admin typed and may be empty (no such account):
    the admin is told the same thing either way."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, models.CASCADE, related_name="invitations")
    invited = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    identifier = models.CharField("username or email", max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    created = models.DateTimeField(auto_now_add=True)
    responded = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "identifier"],
                condition=models.Q(status="pending"),
                name="one_pending_invitation_per_identifier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.identifier} to {self.team} ({self.status})"
