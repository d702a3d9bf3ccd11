"""Rate limits per token (per person for session requests, per address otherwise), counted in the
cache the app configures (Redis when REDIS_URL is set)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.ratelimit import client_address

from .models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read at each request (not at import) so the setting can change without a restart of the class.
        return settings.ASSAY_API_RATE

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.code}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            # As the sign-in limits read it: X-Forwarded-For only from a configured trusted proxy.
            ident = f"address:{client_address(request)}"
        return f"api-throttle:{ident}"
