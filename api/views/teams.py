from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from accounts.access import get_team_for_user
from accounts.models import Membership

from ..serializers.teams import TeamSerializer
from .base import ApiMixin


class TeamList(ApiMixin, generics.ListAPIView):
    """The teams you are a member of, with your role in each."""

    serializer_class = TeamSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(user=self.request.user).select_related("team").order_by("team__name")


class TeamDetail(ApiMixin, generics.GenericAPIView):
    serializer_class = TeamSerializer

    @extend_schema(responses=TeamSerializer)
    def get(self, request, team_slug: str):
        access = get_team_for_user(request, team_slug)
        return Response(TeamSerializer(access.membership).data)
