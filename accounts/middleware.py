from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

# Everything is served from this origin: htmx ships as a static file, charts are inline SVG.
# 'unsafe-inline' styles are allowed for SVG presentation attributes; scripts are never inline.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# Powerful browser features Assay never uses.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
    )
)


class PrivateResponsesMiddleware:
    """Headers for every response: a Permissions-Policy; `Cache-Control: private, no-store` on anything
    served to a signed-in person (pages and downloads), so shared caches and the browser's disk keep no
    copy; and for htmx requests whose session has ended, HX-Redirect to the sign-in page instead of a
    login form swapped into a fragment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers["Cache-Control"] = "private, no-store"
        elif getattr(request, "htmx", False) and _is_sign_in_redirect(response):
            # Back to the page the fragment was on, not to the fragment's own URL.
            page = request.htmx.current_url_abs_path or "/"
            response = HttpResponse("")
            response["HX-Redirect"] = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': page})}"
        return response


def _is_sign_in_redirect(response: HttpResponse) -> bool:
    if response.status_code not in (301, 302):
        return False
    return urlsplit(response.get("Location", "")).path == resolve_url(settings.LOGIN_URL)
