from django.contrib.auth import views as auth_views
from django.urls import path

from . import history_view, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("account/sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path(
        "account/invitations/<uuid:code>/<str:answer>/",
        views.invitation_respond,
        name="invitation_respond",
    ),
    path("teams/switch/", views.switch_team, name="switch_team"),
    path("teams/none/", views.no_team, name="no_team"),
    path("t/<slug:team_slug>/members/", views.member_list, name="member_list"),
    path("t/<slug:team_slug>/history/", history_view.team_history, name="team_history"),
    path("t/<slug:team_slug>/members/<int:membership_id>/", views.member_update, name="member_update"),
    path("t/<slug:team_slug>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "t/<slug:team_slug>/members/invitations/<uuid:code>/cancel/",
        views.invitation_cancel,
        name="invitation_cancel",
    ),
]
