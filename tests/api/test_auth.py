from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api import tokens
from api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_request_without_a_token_gets_401_in_the_error_shape(team):
    response = APIClient().get("/api/v1/teams/acme/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"] and error["fields"] == {}


def test_a_valid_token_acts_as_its_owner_with_their_teams_and_roles(api_as, editor):
    body = api_as(editor).get("/api/v1/teams/").json()
    assert [(t["slug"], t["role"], t["can_edit_portfolio"]) for t in body["results"]] == [
        ("acme", "editor", True)
    ]


def test_only_the_digest_and_a_short_prefix_are_stored(editor):
    issued = tokens.issue_token(editor, "CI", 30)
    stored = ApiToken.objects.get()
    assert issued.secret.startswith(stored.prefix) and len(stored.prefix) < len(issued.secret) // 3
    assert issued.secret not in str(ApiToken.objects.values_list())
    assert stored.digest == tokens.digest(issued.secret)


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_an_expired_or_revoked_token_gets_401_saying_so(editor, state):
    issued = tokens.issue_token(editor, "CI", 30)
    if state == "expired":
        ApiToken.objects.update(expires=timezone.now() - timedelta(minutes=1))
    else:
        tokens.revoke(issued.token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    response = client.get("/api/v1/teams/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert state in error["message"]


def test_an_unknown_or_malformed_token_gets_401(editor):
    client = APIClient()
    for header in ["Bearer assay_nothing_here", "Bearer not-ours", "Bearer two words"]:
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/teams/").status_code == 401, header


def test_using_a_token_records_when_it_was_last_used(editor):
    issued = tokens.issue_token(editor, "CI", 30)
    assert issued.token.last_used is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    client.get("/api/v1/teams/")
    first = ApiToken.objects.get().last_used
    assert first is not None
    # Within the resolution there is no second write; after it, the time moves on.
    client.get("/api/v1/teams/")
    assert ApiToken.objects.get().last_used == first
    ApiToken.objects.update(last_used=first - timedelta(minutes=5))
    client.get("/api/v1/teams/")
    assert ApiToken.objects.get().last_used > first - timedelta(minutes=5)


def test_the_session_works_too_for_the_docs_page(client, editor):
    client.force_login(editor)
    assert client.get("/api/v1/teams/acme/jobs/").status_code == 200
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and b"/api/v1/openapi.json" in script.content


def test_requests_over_the_rate_get_429_per_token(settings, api_as, editor, viewer):
    settings.ASSAY_API_RATE = "3/min"
    client = api_as(editor)
    statuses = [client.get("/api/v1/teams/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/teams/")
    assert limited.json()["error"]["code"] == "throttled" and "Retry-After" in limited
    # Another token has its own count.
    assert api_as(viewer).get("/api/v1/teams/").status_code == 200


def test_the_token_page_shows_a_new_token_once_and_revokes_it(client, editor):
    client.force_login(editor)
    created = client.post("/account/api-tokens/", {"name": "Sync script", "days": "30"})
    assert created.status_code == 201
    secret = created.context["issued"].secret
    assert secret.encode() in created.content
    page = client.get("/account/api-tokens/")
    assert secret.encode() not in page.content
    token = ApiToken.objects.get()
    assert token.prefix.encode() in page.content and b"never" in page.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/teams/").status_code == 200
    assert b"never" not in client.get("/account/api-tokens/").content  # last use shown
    assert client.post(f"/account/api-tokens/{token.code}/revoke/").status_code == 302
    assert api.get("/api/v1/teams/").status_code == 401


def test_the_token_page_refuses_a_bad_name_or_lifetime(client, editor):
    client.force_login(editor)
    assert client.post("/account/api-tokens/", {"name": " ", "days": "30"}).status_code == 400
    response = client.post("/account/api-tokens/", {"name": "x", "days": "1000"})
    assert response.status_code == 400 and b"lifetime" in response.content
    assert not ApiToken.objects.exists()


def test_nobody_revokes_another_persons_token(client, editor, stranger):
    token = tokens.issue_token(editor, "CI", 30).token
    client.force_login(stranger)
    assert client.post(f"/account/api-tokens/{token.code}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked is None


def test_session_writes_need_the_csrf_token_while_token_writes_do_not(editor, api_as):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor)
    refused = browser.post("/api/v1/teams/acme/jobs/", {"title": "Forged"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert (
        api_as(editor).post("/api/v1/teams/acme/jobs/", {"title": "Scripted"}, format="json").status_code
        == 201
    )


def test_changes_made_with_a_token_name_its_owner_in_the_change_log(api_as, editor, team):
    from auditlog.models import LogEntry

    api_as(editor).post("/api/v1/teams/acme/jobs/", {"title": "Logged"}, format="json")
    entry = LogEntry.objects.get(object_repr="Logged")
    assert entry.actor == editor


def test_anonymous_requests_are_counted_per_address_whatever_x_forwarded_for_says(settings, db):
    from django.core.cache import cache

    settings.ASSAY_API_RATE = "2/min"
    cache.delete("api-throttle:address:127.0.0.1")  # earlier anonymous requests of the suite
    client = APIClient()
    statuses = [
        client.get("/api/v1/openapi.json", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]
