"""Response headers, error pages and htmx requests whose session ended."""

from __future__ import annotations

import uuid

from django.test import RequestFactory
from django.urls import reverse

from accounts.errors import server_error


def test_signed_in_pages_and_downloads_are_not_stored_by_caches(viewer_client, team):
    page = viewer_client.get(reverse("portfolio", args=[team.slug]))
    download = viewer_client.get(reverse("portfolio_export", args=[team.slug, "csv"]))
    assert page["Cache-Control"] == "private, no-store"
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"


def test_every_response_has_a_permissions_policy(client, db):
    response = client.get(reverse("login"))
    assert (
        "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
    )


def test_a_403_keeps_the_navigation_and_says_why(viewer_client, team):
    response = viewer_client.post(reverse("member_list", args=[team.slug]), {"who": "x", "role": "admin"})
    body = response.content.decode()
    assert response.status_code == 403
    assert "Your role in this team (viewer) cannot manage the team." in body
    assert reverse("portfolio", args=[team.slug]) in body  # the team's navigation


def test_a_404_inside_a_team_keeps_its_navigation(viewer_client, team):
    response = viewer_client.get(reverse("job_detail", args=[team.slug, uuid.uuid4()]))
    body = response.content.decode()
    assert response.status_code == 404 and "Not found" in body
    assert reverse("portfolio", args=[team.slug]) in body


def test_a_strangers_404_does_not_show_the_team(stranger_client, team):
    response = stranger_client.get(reverse("portfolio", args=[team.slug]))
    body = response.content.decode()
    assert response.status_code == 404
    assert team.name not in body and reverse("portfolio", args=[team.slug]) not in body


def test_an_unknown_address_gets_the_404_page_without_the_url_list(viewer_client):
    response = viewer_client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404 and "There is no page at this address" in body
    assert "admin/" not in body


def test_the_500_page_renders_even_without_a_user(db):
    request = RequestFactory().get("/")
    response = server_error(request)
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()


def test_an_htmx_request_with_an_expired_session_redirects_the_whole_page(client, team):
    response = client.get(
        reverse("portfolio", args=[team.slug]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/t/{team.slug}/portfolio/?sort=value",
    )
    assert response.status_code == 200 and response.content == b""
    assert response["HX-Redirect"] == f"/login/?next=%2Ft%2F{team.slug}%2Fportfolio%2F%3Fsort%3Dvalue"


def test_a_plain_request_with_an_expired_session_still_gets_the_redirect(client, team):
    response = client.get(reverse("portfolio", args=[team.slug]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
