"""Your account → API tokens: create (the token is shown once), see when each was last used, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import tokens
from ..models import ApiToken


def _page(request: HttpRequest, issued=None, error: str = "", name: str = "", status: int = 200):
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "lifetimes": tokens.LIFETIMES,
            "issued": issued,
            "error": error,
            "name": name,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    name = request.POST.get("name", "")
    try:
        days = int(request.POST.get("days", ""))
    except ValueError:
        days = 0
    try:
        issued = tokens.issue_token(request.user, name, days)
    except tokens.TokenError as error:
        return _page(request, error=str(error), name=name, status=400)
    # Rendered, not redirected: the secret exists only in this response.
    return _page(request, issued=issued, status=201)


@login_required
@require_POST
def token_revoke(request: HttpRequest, code) -> HttpResponse:
    token = get_object_or_404(ApiToken, code=code, user=request.user)
    tokens.revoke(token)
    messages.success(request, f"Revoked the token “{token.name}” ({token.prefix}…): it no longer works.")
    return redirect("api_tokens")
