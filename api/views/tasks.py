from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from opportunities.access import get_task_for_user
from opportunities.models import Task

from ..serializers.portfolio import TaskFilters, TaskSerializer
from .base import TeamScoped, by_updated


def _with_value(pk: int) -> Task:
    return Task.objects.select_related("job").with_value().get(pk=pk)


@extend_schema_view(get=extend_schema(parameters=[TaskFilters]))
class TaskList(TeamScoped, generics.ListCreateAPIView):
    """The team's tasks with their annual value and feasibility verdict, filtered by job, kind, mode,
    verdict, exposure or last change; editors and admins add tasks to a job."""

    serializer_class = TaskSerializer

    def get_queryset(self):
        if self.is_fake:
            return Task.objects.none()
        team = self.access(write=self.writing).team
        filters = self.filters(TaskFilters)
        tasks = Task.objects.for_team(team).select_related("job").with_value()
        if "job" in filters:
            tasks = tasks.filter(job__code=filters["job"])
        for name in ("kind", "mode", "verdict", "exposure_label"):
            if name in filters:
                tasks = tasks.filter(**{name: filters[name]})
        return by_updated(tasks, filters)

    def create(self, request, *args, **kwargs):
        self.access(write=True)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = _with_value(serializer.save().pk)


class TaskDetail(TeamScoped, generics.RetrieveUpdateDestroyAPIView):
    """A task; PATCH changes it (it may move to another job of the team), DELETE removes it."""

    serializer_class = TaskSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        _, task = get_task_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"], self.writing)
        return _with_value(task.pk)

    def perform_update(self, serializer):
        serializer.instance = _with_value(serializer.save().pk)
