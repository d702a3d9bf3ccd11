"""Team invitations: a team admin invites by username or email; the person accepts before becoming a
member. The admin's answer is the same whether or not the account exists."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Invitation, InvitationStatus, Membership, Team
from .ratelimit import normalise_username
from .signals import role_changed


def find_account(who: str):
    """The one account this username or email names, or None (several with that email: None)."""
    User = get_user_model()
    user = User.objects.filter(username=who).first()
    if user is None:
        matches = list(User.objects.filter(username__iexact=who)[:2])
        if len(matches) == 1 and normalise_username(matches[0].username) == normalise_username(who):
            user = matches[0]
    if user is None and "@" in who:
        matches = list(User.objects.filter(email__iexact=who)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


def invite(team: Team, who: str, role: str, invited_by) -> Invitation:
    """Records (or updates) the pending invitation for `who`; nothing tells whether the account exists."""
    identifier = normalise_username(who)
    user = find_account(who)
    with transaction.atomic():
        pending = Invitation.objects.select_for_update().filter(
            team=team, identifier=identifier, status=InvitationStatus.PENDING
        )
        invitation = pending.first()
        if invitation is not None:
            invitation.role = role
            invitation.invited = user
            invitation.invited_by = invited_by
            invitation.save(update_fields=["role", "invited", "invited_by"])
            return invitation
        try:
            with transaction.atomic():
                return Invitation.objects.create(
                    team=team, identifier=identifier, invited=user, role=role, invited_by=invited_by
                )
        except IntegrityError:  # invited at the same moment by another admin
            return Invitation.objects.get(team=team, identifier=identifier, status=InvitationStatus.PENDING)


def pending_for(user):
    return Invitation.objects.filter(invited=user, status=InvitationStatus.PENDING).select_related("team")


def accept(invitation: Invitation) -> Membership:
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            team=invitation.team, user=invitation.invited, defaults={"role": invitation.role}
        )
        _respond(invitation, InvitationStatus.ACCEPTED)
        if created:
            role_changed.send(
                sender=Membership,
                team=invitation.team,
                user=invitation.invited,
                old_role="",
                new_role=invitation.role,
                by=invitation.invited_by,
            )
    return membership


def decline(invitation: Invitation) -> None:
    _respond(invitation, InvitationStatus.DECLINED)


def cancel(invitation: Invitation) -> None:
    _respond(invitation, InvitationStatus.CANCELLED)


def _respond(invitation: Invitation, status: str) -> None:
    invitation.status = status
    invitation.responded = timezone.now()
    invitation.save(update_fields=["status", "responded"])
