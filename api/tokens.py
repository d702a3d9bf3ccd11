"""Issuing, checking and revoking personal API tokens (the model is api.models.ApiToken).

A token reads `assay_<12 characters>_<secret>`; the first part is its visible prefix. Only its sha256 is
stored, so a lost token cannot be shown again: revoke it and create another.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import ApiToken

PREFIX = "assay_"
# Lifetimes offered when a token is created, in days.
LIFETIMES = (7, 30, 90, 365)
MAX_ACTIVE_PER_USER = 20
# last_used is written at most this often per token (every request would be a write).
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenError(Exception):
    """A token cannot be issued (the message says why)."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole token, shown once


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(user, name: str, days: int) -> IssuedToken:
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("Give the token a name, e.g. the script or machine that will use it.")
    if days not in LIFETIMES:
        raise TokenError(f"Choose a lifetime of {', '.join(map(str, LIFETIMES))} days.")
    visible = secrets.token_hex(6)
    secret = f"{PREFIX}{visible}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if active_tokens(user).count() >= MAX_ACTIVE_PER_USER:
            raise TokenError(
                f"You have {MAX_ACTIVE_PER_USER} active tokens; revoke one you no longer use first."
            )
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=f"{PREFIX}{visible}",
            digest=digest(secret),
            expires=timezone.now() + timedelta(days=days),
        )
    return IssuedToken(token=token, secret=secret)


def active_tokens(user):
    return ApiToken.objects.filter(user=user, revoked__isnull=True, expires__gt=timezone.now())


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())


class InvalidToken(Exception):
    """The message tells the client what is wrong with the token it sent."""


def check(secret: str) -> ApiToken:
    """The live token for this secret (its user loaded), with last_used brought up to date."""
    if not secret.startswith(PREFIX):
        raise InvalidToken("This is not an Assay API token (they start with “assay_”).")
    token = ApiToken.objects.select_related("user").filter(digest=digest(secret)).first()
    if token is None:
        raise InvalidToken("Unknown API token: it may have been mistyped or deleted.")
    now = timezone.now()
    if token.revoked is not None:
        raise InvalidToken(f"This API token was revoked on {token.revoked:%Y-%m-%d}.")
    if token.is_expired(now):
        raise InvalidToken(f"This API token expired on {token.expires:%Y-%m-%d}; create a new one.")
    if not token.user.is_active:
        raise InvalidToken("The account this token belongs to is disabled.")
    if token.last_used is None or now - token.last_used >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token
