from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import ratelimit
from .access import ADMIN, get_team_for_user
from .forms import AddMemberForm
from .models import Membership, Role, Team

User = get_user_model()


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        address = _client_address(request)
        if ratelimit.is_limited(username, address):
            # An unbound form: never authenticate while limited, so the answer is the same whether
            # the password was right or wrong.
            form = AuthenticationForm(request, initial={"username": username})
            response = self.render_to_response(self.get_context_data(form=form, rate_limited=True))
            response.status_code = 429
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            ratelimit.clear(username, address)
        else:
            ratelimit.record_failure(username, address)
        return response


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
    form = AddMemberForm()
    if request.method == "POST":
        access = get_team_for_user(request, team_slug, ADMIN)
        form = AddMemberForm(request.POST)
        if form.is_valid():
            user = User.objects.filter(username=form.cleaned_data["username"]).first()
            if user is None:
                form.add_error("username", "No user with this username. They must have an account first.")
            elif Membership.objects.filter(team=access.team, user=user).exists():
                form.add_error("username", f"{user.username} is already a member of this team.")
            else:
                Membership.objects.create(team=access.team, user=user, role=form.cleaned_data["role"])
                messages.success(
                    request, f"Added {user.username} as {Role(form.cleaned_data['role']).label}."
                )
                return redirect("member_list", team_slug=team_slug)
    memberships = access.team.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "accounts/members.html",
        {
            "team": access.team,
            "access": access,
            "memberships": memberships,
            "form": form,
            "roles": Role.choices,
            "nav": "members",
        },
    )


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
        membership.role = role
        membership.save(update_fields=["role"])
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
