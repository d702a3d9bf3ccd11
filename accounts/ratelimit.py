"""Sign-in rate limiting: failed sign-ins counted in the cache (Redis in production, shared by every web
process), on every sign-in form (the app's and the admin's).

Three counters, all over LOGIN_RATE_WINDOW seconds:
- per account (the username as Django would match it: NFKC, trimmed, case-folded): LOGIN_RATE_LIMIT;
- per (address, account): LOGIN_RATE_LIMIT, so one person mistyping does not lock out colleagues behind
  the same proxy;
- per address across all accounts: LOGIN_RATE_ADDRESS_LIMIT (higher), against one address trying many.
A successful sign-in clears only that account's counters, never the address-wide one.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().casefold()


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the trusted proxy put in LOGIN_TRUSTED_PROXY_HEADER (off by default).

    A header like X-Forwarded-For may hold a list: the last entry is the one the trusted proxy added."""
    header = settings.LOGIN_TRUSTED_PROXY_HEADER
    if header:
        meta_key = "HTTP_" + header.upper().replace("-", "_")
        forwarded = request.META.get(meta_key, "")
        values = [value.strip() for value in forwarded.split(",") if value.strip()]
        if values:
            return values[-1][:64]
    return request.META.get("REMOTE_ADDR", "unknown")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _account_keys(username: str, address: str) -> list[str]:
    user = _digest(normalise_username(username))
    return [f"login-fail:user:{user}", f"login-fail:addr-user:{_digest(address)}:{user}"]


def _address_key(address: str) -> str:
    return f"login-fail:addr:{_digest(address)}"


def is_limited(username: str, address: str) -> bool:
    account_keys = _account_keys(username, address)
    counts = cache.get_many([*account_keys, _address_key(address)])
    if any(counts.get(key, 0) >= settings.LOGIN_RATE_LIMIT for key in account_keys):
        return True
    return counts.get(_address_key(address), 0) >= settings.LOGIN_RATE_ADDRESS_LIMIT


def record_failure(username: str, address: str) -> None:
    for key in [*_account_keys(username, address), _address_key(address)]:
        if cache.add(key, 1, settings.LOGIN_RATE_WINDOW):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_RATE_WINDOW)


def clear(username: str, address: str) -> None:
    """After a successful sign-in: this account's counters only."""
    cache.delete_many(_account_keys(username, address))


def limit_sign_in(limited_response: Callable[[HttpRequest], HttpResponse]):
    """Wraps a sign-in view: while limited, a POST is never authenticated (the answer is the same for a
    right and a wrong password) and gets `limited_response(request)` with status 429."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method != "POST":
                return view(request, *args, **kwargs)
            username = request.POST.get("username", "")
            address = client_address(request)
            if is_limited(username, address):
                response = limited_response(request)
                response.status_code = 429
                return response
            response = view(request, *args, **kwargs)
            if request.user.is_authenticated:
                clear(username, address)
            else:
                record_failure(username, address)
            return response

        return wrapper

    return decorator
