from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from accounts.pages import page_context

from . import invitations, ratelimit, sessions
from .access import ADMIN, get_team_for_user
from .forms import InviteForm
from .models import Invitation, InvitationStatus, Membership, Role, Team
from .signals import role_changed

User = get_user_model()


def _limited_login_page(request: HttpRequest) -> HttpResponse:
    # An unbound form: never authenticate while limited, so the answer is the same whether the password
    # was right or wrong.
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {"form": form, "rate_limited": True, "next": request.POST.get("next", "")}
    return render(request, "accounts/login.html", context)


def _limited_admin_login_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/admin_login_limited.html", admin.site.each_context(request))


@method_decorator(ratelimit.limit_sign_in(_limited_login_page), name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


# The admin's own sign-in form, under the same limits.
admin_login = ratelimit.limit_sign_in(_limited_admin_login_page)(admin.site.login)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their last team, or their first, or explain that they have none."""
    teams = Team.objects.filter(memberships__user=request.user)
    slug = request.session.get("team")
    team = teams.filter(slug=slug).first() if slug else None
    team = team or teams.order_by("name").first()
    if team is None:
        messages.info(request, "You are not a member of any team yet. Ask a team admin to add you.")
        return redirect("no_team")
    return redirect("team_home", team_slug=team.slug)


@login_required
def switch_team(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("team", "")
    access = get_team_for_user(request, slug)
    request.session["team"] = access.team.slug
    return redirect("team_home", team_slug=access.team.slug)


@login_required
def no_team(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/no_team.html")


@login_required
def member_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_team_for_user(request, team_slug)
    form = InviteForm()
    if request.method == "POST":
        access = get_team_for_user(request, team_slug, ADMIN)
        form = InviteForm(request.POST)
        if form.is_valid():
            who, role = form.cleaned_data["who"], form.cleaned_data["role"]
            member = access.team.memberships.filter(user__username=who).select_related("user").first()
            if member is not None:
                # The list below shows members already: saying so reveals nothing new.
                form.add_error("who", f"{member.user.username} is already a member of this team.")
            else:
                invitations.invite(access.team, who, role, request.user)
                messages.success(
                    request,
                    f"Invitation to {who} as {Role(role).label} recorded. If they have an account, they "
                    "see it on their Account page and become a member when they accept.",
                )
                return redirect("member_list", team_slug=team_slug)
    memberships = access.team.memberships.select_related("user").order_by("user__username")
    pending = access.team.invitations.filter(status=InvitationStatus.PENDING).order_by("identifier")
    return render(
        request,
        "accounts/members.html",
        page_context(
            access, "members", memberships=memberships, form=form, roles=Role.choices, pending=pending
        ),
    )


@login_required
@require_POST
def invitation_cancel(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access = get_team_for_user(request, team_slug, ADMIN)
    invitation = get_object_or_404(Invitation, team=access.team, code=code, status=InvitationStatus.PENDING)
    invitations.cancel(invitation)
    messages.success(request, f"Cancelled the invitation to {invitation.identifier}.")
    return redirect("member_list", team_slug=team_slug)


# -- the signed-in person's own account ---------------------------------------------------------------


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/account.html",
        {
            "invitations": invitations.pending_for(request.user),
            "sessions": sessions.active_sessions(request.user),
            "current_session": request.session.session_key,
            "idle_timeout_minutes": settings.SESSION_IDLE_TIMEOUT // 60,
        },
    )


@login_required
@require_POST
def invitation_respond(request: HttpRequest, code, answer: str) -> HttpResponse:
    if answer not in ("accept", "decline"):
        raise Http404("No such answer")
    invitation = get_object_or_404(
        Invitation.objects.select_related("team"),
        code=code,
        invited=request.user,
        status=InvitationStatus.PENDING,
    )
    if answer == "accept":
        invitations.accept(invitation)
        messages.success(request, f"You are now a member of {invitation.team.name}.")
        return redirect("team_home", team_slug=invitation.team.slug)
    invitations.decline(invitation)
    messages.info(request, f"You declined the invitation to {invitation.team.name}.")
    return redirect("account")


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """Ends every other session of this person; with `all`, this one too."""
    everywhere = request.POST.get("scope") == "all"
    ended = sessions.sign_out_everywhere(
        request.user, keep=None if everywhere else request.session.session_key
    )
    if everywhere:
        logout(request)
        return redirect("login")
    messages.success(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("account")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's form (old password, new password twice, the password validators)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session, ends the others (their hash changed)
        sessions.sign_out_everywhere(self.request.user, keep=None)
        sessions.remember(self.request)
        messages.success(self.request, "Password changed. Your other sessions are signed out.")
        return response


@login_required
@require_POST
def member_update(request: HttpRequest, team_slug: str, membership_id: int) -> HttpResponse:
    access = get_team_for_user(request, team_slug, ADMIN)
    membership = get_object_or_404(Membership, team=access.team, id=membership_id)
    role = request.POST.get("role", "")
    if role not in Role.values:
        messages.error(request, f"Unknown role {role!r}: choose one of {', '.join(Role.values)}.")
    elif _would_leave_no_admin(membership, role):
        messages.error(request, "A team needs at least one admin: make someone else admin first.")
    else:
        old_role, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        role_changed.send(
            sender=Membership,
            team=access.team,
            user=membership.user,
            old_role=old_role,
            new_role=role,
            by=request.user,
        )
        messages.success(request, f"{membership.user.username} is now {Role(role).label}.")
    return redirect("member_list", team_slug=team_slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, team_slug: str, membership_id: int) -> HttpResponse:
    access = get_team_for_user(request, team_slug, ADMIN)
    membership = get_object_or_404(Membership, team=access.team, id=membership_id)
    if _would_leave_no_admin(membership, None):
        messages.error(request, "A team needs at least one admin: make someone else admin first.")
    else:
        membership.delete()
        role_changed.send(
            sender=Membership,
            team=access.team,
            user=membership.user,
            old_role=membership.role,
            new_role="",
            by=request.user,
        )
        messages.success(request, f"Removed {membership.user.username} from {access.team.name}.")
    return redirect("member_list", team_slug=team_slug)


def _would_leave_no_admin(membership: Membership, new_role: str | None) -> bool:
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return False
    return (
        not Membership.objects.filter(team=membership.team, role=Role.ADMIN)
        .exclude(id=membership.id)
        .exists()
    )
