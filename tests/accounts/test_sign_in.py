"""Sign-in limits, passwords, sessions and invitations."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Invitation, UserSession
from tests.factories import make_user

User = get_user_model()


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def fail(client, username, address="10.0.0.1", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=address
    )


def sign_in(client, username, password="pw", address="10.0.0.1", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


# -- the limit ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["victor ", " VICTOR", "ｖｉｃｔｏｒ", "Victor\t"])
def test_variants_of_a_username_count_against_the_same_account(client, viewer, variant):
    for _ in range(4):
        fail(client, "victor")
    fail(client, variant)
    assert sign_in(client, "victor").status_code == 429


def test_a_success_does_not_reset_the_counters_of_other_accounts_from_the_same_address(client, viewer, owner):
    for _ in range(5):
        fail(client, "olivia")
    assert sign_in(client, "victor").status_code == 302  # victor's own sign-in works...
    client.logout()
    assert sign_in(client, "olivia").status_code == 429  # ...and olivia stays limited


def test_one_person_failing_behind_a_proxy_does_not_lock_out_colleagues(client, viewer, owner):
    for _ in range(5):
        fail(client, "olivia", address="192.0.2.7")
    assert sign_in(client, "victor", address="192.0.2.7").status_code == 302


def test_an_address_trying_many_accounts_hits_the_per_address_ceiling(client, viewer, settings):
    settings.LOGIN_RATE_ADDRESS_LIMIT = 8
    for n in range(8):
        fail(client, f"guess{n}", address="198.51.100.3")
    assert sign_in(client, "victor", address="198.51.100.3").status_code == 429
    assert sign_in(client, "victor", address="198.51.100.4").status_code == 302


def test_the_proxy_header_is_ignored_unless_trusted(client, viewer, settings):
    for n in range(5):
        client.post(
            reverse("login"), {"username": "victor", "password": "x"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        )
    # Untrusted: the five failures came from one REMOTE_ADDR and victor's account.
    assert sign_in(client, "victor", address="127.0.0.1").status_code == 429


def test_a_trusted_proxy_header_gives_the_client_address(client, owner, settings):
    settings.LOGIN_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.LOGIN_RATE_ADDRESS_LIMIT = 3
    for n in range(3):
        client.post(
            reverse("login"),
            {"username": f"g{n}", "password": "x"},
            HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
            REMOTE_ADDR="10.0.0.2",
        )
    limited = {"username": "olivia", "password": "pw"}
    assert client.post(reverse("login"), limited, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert client.post(reverse("login"), limited, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 302


def test_the_admin_sign_in_is_limited_too(client, db):
    User.objects.create_superuser("root", password="right-horse-battery")
    url = reverse("admin:login")
    for _ in range(5):
        fail(client, "root", url=url)
    response = sign_in(client, "root", password="right-horse-battery", url=url)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # not signed in


# -- passwords ---------------------------------------------------------------------------------------------


def test_a_member_changes_their_password_and_the_validators_apply(client, viewer):
    client.force_login(viewer)
    url = reverse("password_change")
    weak = client.post(url, {"old_password": "pw", "new_password1": "password", "new_password2": "password"})
    assert "too common" in weak.content.decode()
    ok = client.post(
        url, {"old_password": "pw", "new_password1": "violet-tundra-93", "new_password2": "violet-tundra-93"}
    )
    assert ok.status_code == 302
    assert authenticate(username="victor", password="violet-tundra-93") is not None
    assert client.get(reverse("account")).status_code == 200  # still signed in here


def test_an_instance_administrator_resets_a_password_with_a_command(viewer):
    out = StringIO()
    call_command("reset_password", "victor", stdout=out)
    password = out.getvalue().rsplit(": ", 1)[1].strip()
    assert len(password) >= 16 and authenticate(username="victor", password=password) is not None
    with pytest.raises(CommandError, match="too short"):
        call_command("reset_password", "victor", "--from-stdin", stdin=StringIO("abc\n"))


def test_the_admin_password_form_uses_the_validators(admin_client, viewer):
    url = reverse("admin:auth_user_password_change", args=[viewer.pk])
    response = admin_client.post(url, {"password1": "12345678", "password2": "12345678"})
    assert "too common" in response.content.decode() or "entirely numeric" in response.content.decode()


def test_demo_accounts_get_a_strong_password_when_debug_is_off(db, settings):
    settings.DEBUG = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert authenticate(username="demo", password="demo") is None
    line = next(line for line in out.getvalue().splitlines() if "Created user 'demo'" in line)
    password = line.split("password ", 1)[1].strip(".'")
    assert authenticate(username="demo", password=password) is not None


# -- sessions ------------------------------------------------------------------------------------------------


def test_an_idle_session_is_signed_out(client, viewer, team, settings, monkeypatch):
    settings.SESSION_IDLE_TIMEOUT = 600
    assert sign_in(client, "victor").status_code == 302
    home = reverse("team_home", args=[team.slug])
    assert client.get(home).status_code == 200
    import accounts.sessions as sessions

    real = sessions.time.time
    monkeypatch.setattr(sessions.time, "time", lambda: real() + 601)
    response = client.get(home)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_sign_out_of_all_other_sessions(client, viewer, team, django_user_model):
    from django.test import Client

    laptop, phone = Client(), Client()
    sign_in(laptop, "victor")
    sign_in(phone, "victor")
    assert UserSession.objects.filter(user=viewer).count() == 2
    laptop.post(reverse("sign_out_everywhere"))
    home = reverse("team_home", args=[team.slug])
    assert laptop.get(home).status_code == 200
    assert phone.get(home).status_code == 302
    laptop.post(reverse("sign_out_everywhere"), {"scope": "all"})
    assert laptop.get(home).status_code == 302


# -- invitations ---------------------------------------------------------------------------------------------


def test_the_invitation_reply_does_not_reveal_whether_an_account_exists(owner_client, team, stranger):
    url = reverse("member_list", args=[team.slug])
    known = owner_client.post(url, {"who": "sam", "role": "viewer"}, follow=True).content.decode()
    unknown = owner_client.post(url, {"who": "nobody-here", "role": "viewer"}, follow=True).content.decode()
    assert "Invitation to sam as Viewer recorded" in known
    assert "Invitation to nobody-here as Viewer recorded" in unknown
    assert known.replace("sam", "X").count("If they have an account") == unknown.count(
        "If they have an account"
    )
    assert "No user" not in unknown
    assert {"sam", "nobody-here"} <= set(team.invitations.values_list("identifier", flat=True))


def test_an_invitation_by_email_reaches_that_account(owner_client, team, as_user):
    ines = make_user("ines")
    ines.email = "Ines@Example.org"
    ines.save()
    owner_client.post(reverse("member_list", args=[team.slug]), {"who": "ines@example.org", "role": "editor"})
    invitation = Invitation.objects.get(team=team)
    client = as_user(ines)
    client.post(reverse("invitation_respond", args=[invitation.code, "decline"]))
    assert not team.memberships.filter(user=ines).exists()
    invitation.refresh_from_db()
    assert invitation.status == "declined"


def test_nobody_else_can_accept_an_invitation(owner_client, team, stranger, as_user):
    owner_client.post(reverse("member_list", args=[team.slug]), {"who": "sam", "role": "admin"})
    invitation = Invitation.objects.get(team=team)
    other = make_user("mallory")
    response = as_user(other).post(reverse("invitation_respond", args=[invitation.code, "accept"]))
    assert response.status_code == 404
    assert not team.memberships.filter(user=other).exists()


def test_viewers_cannot_invite_or_cancel(viewer_client, team, owner):
    url = reverse("member_list", args=[team.slug])
    assert viewer_client.post(url, {"who": "sam", "role": "admin"}).status_code == 403
    assert not Invitation.objects.exists()
