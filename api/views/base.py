"""What every API view shares: the team from the URL through accounts.access (404 strangers, 403
read-only members), query filters validated like a body, the change log's actor, private responses."""

from __future__ import annotations

import contextlib

from auditlog.context import auditlog_value
from rest_framework.permissions import SAFE_METHODS

from accounts.access import PORTFOLIO, READ, TeamAccess, get_team_for_user


class ApiMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # The history middleware ran before the token was read: name the token's owner as the actor.
        with contextlib.suppress(LookupError):
            auditlog_value.get()["actor"] = request.user

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


class TeamScoped(ApiMixin):
    """A view under /teams/<team_slug>/. `write_need` is the accounts.access need for changes."""

    write_need = PORTFOLIO

    @property
    def is_fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    @property
    def writing(self) -> bool:
        return self.request.method not in SAFE_METHODS

    def access(self, write: bool = False) -> TeamAccess:
        return get_team_for_user(self.request, self.kwargs["team_slug"], self.write_need if write else READ)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not self.is_fake and "team_slug" in self.kwargs:
            context["team"] = self.access().team
        return context

    def filters(self, serializer_class) -> dict:
        """The query string checked by `serializer_class`: 400 with the field named when it is wrong."""
        checked = serializer_class(data=self.request.query_params)
        checked.is_valid(raise_exception=True)
        return checked.validated_data


def by_updated(queryset, filters: dict):
    """For sync: changes after `updated_after`, oldest first, so a client can resume from the last one."""
    if filters.get("updated_after") is not None:
        return queryset.filter(updated__gt=filters["updated_after"]).order_by("updated", "id")
    return queryset
