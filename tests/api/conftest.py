"""API fixtures: a client that sends a personal token, and the three personas' tokens."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api import tokens

# Rate counts live in the shared cache (Redis in CI): tokens are counted by their own code, so each test's
# fresh token starts at zero without clearing anything.


def token_client(user, days: int = 30) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue_token(user, 'tests', days).secret}")
    return client


@pytest.fixture
def api_as():
    """api_as(user) -> an API client authenticated with a fresh token of that user."""
    return token_client
