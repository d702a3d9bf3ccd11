import pytest
from django.urls import reverse

from tests.factories import make_user


def test_stranger_gets_404_on_team_home(stranger_client, team):
    assert stranger_client.get(reverse("team_home", args=[team.slug])).status_code == 404


def test_member_sees_team_home(viewer_client, team):
    response = viewer_client.get(reverse("team_home", args=[team.slug]))
    assert response.status_code == 200
    assert "Acme Support" in response.content.decode()


def test_anonymous_is_sent_to_sign_in(client, team):
    response = client.get(reverse("team_home", args=[team.slug]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewer_cannot_add_members(viewer_client, team):
    response = viewer_client.post(reverse("member_list", args=[team.slug]), {"who": "x", "role": "viewer"})
    assert response.status_code == 403


def test_stranger_cannot_see_members(stranger_client, team):
    assert stranger_client.get(reverse("member_list", args=[team.slug])).status_code == 404


def test_admin_invites_a_member_with_a_role_who_joins_on_accepting(owner_client, team, stranger, as_user):
    response = owner_client.post(reverse("member_list", args=[team.slug]), {"who": "sam", "role": "editor"})
    assert response.status_code == 302
    assert not team.memberships.filter(user=stranger).exists()  # not before they accept
    invitation = team.invitations.get()
    client = as_user(stranger)
    assert "Acme Support" in client.get(reverse("account")).content.decode()
    client.post(reverse("invitation_respond", args=[invitation.code, "accept"]))
    assert team.memberships.get(user=stranger).role == "editor"


def test_admin_cannot_demote_the_last_admin(owner_client, team, owner):
    membership = team.memberships.get(user=owner)
    owner_client.post(reverse("member_update", args=[team.slug, membership.id]), {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_home_redirects_to_the_users_team(viewer_client, team):
    response = viewer_client.get(reverse("home"))
    assert response["Location"] == reverse("team_home", args=[team.slug])


@pytest.mark.parametrize("attempts", [6])
def test_sign_in_is_rate_limited_after_repeated_failures(client, viewer, attempts):
    for _ in range(attempts - 1):
        client.post(reverse("login"), {"username": "victor", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "victor", "password": "pw"})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()


def test_pages_send_a_content_security_policy(viewer_client, team):
    response = viewer_client.get(reverse("team_home", args=[team.slug]))
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_rate_limited_sign_in_answers_the_same_for_right_and_wrong_passwords(client, viewer):
    for _ in range(5):
        client.post(reverse("login"), {"username": "victor", "password": "wrong"})
    right = client.post(reverse("login"), {"username": "victor", "password": "pw"})
    wrong = client.post(reverse("login"), {"username": "victor", "password": "nope"})
    assert right.status_code == wrong.status_code == 429
    assert "Please enter a correct" not in wrong.content.decode()
    assert right.content.decode().replace(right.wsgi_request.META.get("CSRF_COOKIE", ""), "").count(
        "errorlist"
    ) == wrong.content.decode().count("errorlist")


def test_stranger_gets_404_when_switching_to_a_team_they_are_not_in(stranger_client, team):
    response = stranger_client.get(reverse("switch_team") + f"?team={team.slug}")
    assert response.status_code == 404


def test_member_switching_team_lands_on_its_home(viewer_client, team):
    response = viewer_client.get(reverse("switch_team") + f"?team={team.slug}")
    assert response.status_code == 302
    assert response["Location"] == reverse("team_home", args=[team.slug])
    assert viewer_client.session["team"] == team.slug


def test_viewer_cannot_remove_a_member(viewer_client, team, owner):
    membership = team.memberships.get(user=owner)
    response = viewer_client.post(reverse("member_remove", args=[team.slug, membership.id]))
    assert response.status_code == 403
    assert team.memberships.filter(user=owner).exists()


def test_stranger_gets_404_when_removing_a_member(stranger_client, team, owner):
    membership = team.memberships.get(user=owner)
    response = stranger_client.post(reverse("member_remove", args=[team.slug, membership.id]))
    assert response.status_code == 404
    assert team.memberships.filter(user=owner).exists()


def test_admin_cannot_remove_the_last_admin(owner_client, team, owner):
    membership = team.memberships.get(user=owner)
    response = owner_client.post(reverse("member_remove", args=[team.slug, membership.id]), follow=True)
    assert team.memberships.filter(user=owner, role="admin").exists()
    assert "at least one admin" in response.content.decode()


def test_admin_removes_a_member(owner_client, team, viewer):
    membership = team.memberships.get(user=viewer)
    response = owner_client.post(reverse("member_remove", args=[team.slug, membership.id]))
    assert response.status_code == 302
    assert not team.memberships.filter(user=viewer).exists()


def test_viewer_cannot_change_a_role(viewer_client, team, viewer):
    membership = team.memberships.get(user=viewer)
    response = viewer_client.post(
        reverse("member_update", args=[team.slug, membership.id]), {"role": "admin"}
    )
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == "viewer"


def test_stranger_gets_404_when_changing_a_role(stranger_client, team, owner):
    membership = team.memberships.get(user=owner)
    response = stranger_client.post(
        reverse("member_update", args=[team.slug, membership.id]), {"role": "viewer"}
    )
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_a_user_without_teams_sees_the_no_team_page(client, db):
    client.force_login(make_user("nadia"))
    assert client.get(reverse("home"))["Location"] == reverse("no_team")
    assert client.get(reverse("no_team")).status_code == 200
