"""Signed-in sessions: recorded at sign-in so a person can sign out of all of them, and ended after
SESSION_IDLE_TIMEOUT seconds without a request."""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from .models import UserSession
from .ratelimit import client_address

LAST_SEEN_KEY = "assay_last_seen"
# The last-seen time is written at most this often, so most requests do not write the session.
LAST_SEEN_RESOLUTION_S = 60


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def remember(request: HttpRequest, user=None) -> None:
    """Records the request's (new) session for `user` (default: request.user)."""
    session = getattr(request, "session", None)
    user = user or getattr(request, "user", None)
    if session is None or user is None or not user.is_authenticated:
        return
    if session.session_key is None:
        session.save()
    session[LAST_SEEN_KEY] = int(time.time())
    UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "address": client_address(request)[:64],
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
        },
    )


@receiver(user_logged_in, dispatch_uid="accounts.sessions.remember")
def _on_login(sender, request, user, **kwargs) -> None:
    if request is not None:
        remember(request, user)


def sign_out_everywhere(user, *, keep: str | None = None) -> int:
    """Ends every recorded session of `user` except `keep`; returns how many."""
    store = _store()
    rows = UserSession.objects.filter(user=user)
    if keep:
        rows = rows.exclude(session_key=keep)
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    rows.delete()
    return len(keys)


def active_sessions(user):
    return UserSession.objects.filter(user=user)


def is_idle(request: HttpRequest, now: float) -> bool:
    timeout = settings.SESSION_IDLE_TIMEOUT
    last_seen = request.session.get(LAST_SEEN_KEY)
    return bool(timeout) and last_seen is not None and now - last_seen > timeout


class IdleTimeoutMiddleware:
    """Signs out a session that made no request for SESSION_IDLE_TIMEOUT seconds (0: never)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            if is_idle(request, now):
                UserSession.objects.filter(session_key=request.session.session_key).delete()
                logout(request)
            elif now - request.session.get(LAST_SEEN_KEY, 0) >= LAST_SEEN_RESOLUTION_S:
                request.session[LAST_SEEN_KEY] = int(now)
        return self.get_response(request)


@receiver(user_logged_out, dispatch_uid="accounts.sessions.forget")
def _on_logout(sender, request, user, **kwargs) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def end_session(row: UserSession) -> None:
    _store()(session_key=row.session_key).delete()
    row.delete()
