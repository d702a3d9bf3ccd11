from __future__ import annotations

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import ValidationError

from opportunities.access import get_job_for_user
from opportunities.models import Job

from ..serializers.common import UpdatedAfterFilter
from ..serializers.portfolio import JobSerializer
from .base import TeamScoped, by_updated


def _save(serializer, **extra) -> Job:
    """Saves the job; a title another request took meanwhile is a field error, not a server error."""
    try:
        with transaction.atomic():
            job = serializer.save(**extra)
    except IntegrityError:
        raise ValidationError({"title": ["A job with this title already exists in this team."]}) from None
    return Job.objects.with_totals().get(pk=job.pk)


@extend_schema_view(get=extend_schema(parameters=[UpdatedAfterFilter]))
class JobList(TeamScoped, generics.ListCreateAPIView):
    """The team's jobs with their task count and annual value; editors and admins add jobs."""

    serializer_class = JobSerializer

    def get_queryset(self):
        if self.is_fake:
            return Job.objects.none()
        team = self.access(write=self.writing).team
        return by_updated(Job.objects.filter(team=team).with_totals(), self.filters(UpdatedAfterFilter))

    def create(self, request, *args, **kwargs):
        self.access(write=True)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = _save(serializer, team=self.access().team)


class JobDetail(TeamScoped, generics.RetrieveUpdateDestroyAPIView):
    """A job; PATCH changes it, DELETE removes it with its tasks (editors and admins)."""

    serializer_class = JobSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        _, job = get_job_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"], self.writing)
        return Job.objects.with_totals().get(pk=job.pk)

    def perform_update(self, serializer):
        serializer.instance = _save(serializer)
