from __future__ import annotations

import pytest

from accounts import ratelimit
from tests.factories import make_team, make_user

pytestmark = pytest.mark.browser


def test_a_member_signs_in_and_lands_on_their_team_home(sign_in, live_server):
    team = make_team("Acme Support", "acme")
    make_user("olivia", team=team, role="admin")

    page = sign_in("olivia")

    assert page.url == f"{live_server.url}/t/acme/"
    assert page.locator("h1").first.inner_text() == "Acme Support"


def test_a_wrong_password_keeps_the_person_on_the_sign_in_page(sign_in, live_server):
    make_user("olivia", team=make_team("Acme Support", "acme"), role="admin")

    try:
        page = sign_in("olivia", "not-the-password")
        assert page.url.startswith(f"{live_server.url}/login/")
        assert "Please enter a correct username and password" in page.locator("form").inner_text()
    finally:
        ratelimit.clear("olivia", "127.0.0.1")  # the failure counter outlives the test
