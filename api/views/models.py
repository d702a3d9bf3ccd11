from __future__ import annotations

from rest_framework import generics

from llmcore.access import get_model_for_user
from llmcore.models import ModelConfig

from ..serializers.models import ModelSerializer
from .base import TeamScoped


class ModelList(TeamScoped, generics.ListAPIView):
    """The models the team can use: its own and the instance-wide ones enabled for it (read only)."""

    serializer_class = ModelSerializer

    def get_queryset(self):
        if self.is_fake:
            return ModelConfig.objects.none()
        return ModelConfig.objects.for_team(self.access().team).order_by("name", "id")


class ModelDetail(TeamScoped, generics.RetrieveAPIView):
    serializer_class = ModelSerializer

    def get_object(self):
        return get_model_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])[1]
