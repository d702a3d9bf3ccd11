"""`Authorization: Bearer <token>` for the REST API; the request then acts as the token's owner."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import tokens


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None  # session authentication may still apply
        scheme, _, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        secret = secret.strip()
        if not secret or " " in secret:
            raise exceptions.AuthenticationFailed('Send the token as "Authorization: Bearer <token>".')
        try:
            token = tokens.check(secret)
        except tokens.InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes unauthenticated requests 401 (with this challenge) rather than 403.
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (Your account → API tokens).",
        }
