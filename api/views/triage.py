"""The exposure pre-screen, read only: the team's latest run and its predictions (running it and
labelling stay on the page)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from opportunities.models import ExposurePrediction, LabelSource, Task
from opportunities.triage import service

from ..serializers.triage import PredictionFilters, PredictionSerializer, TriageRunSerializer
from .base import TeamScoped


class TriageLatest(TeamScoped, generics.GenericAPIView):
    serializer_class = TriageRunSerializer

    def get(self, request, team_slug: str):
        """The team's latest pre-screen run: status, stage, progress and the quality it measured on the
        team's labels. 404 when the team has never run it."""
        run = service.latest(self.access().team)
        if run is None:
            raise NotFound("This team has not run the exposure pre-screen yet.")
        if run.model_id:
            run = type(run).objects.select_related("model").get(pk=run.pk)
        return Response(TriageRunSerializer(run).data)


@extend_schema_view(get=extend_schema(parameters=[PredictionFilters]))
class PredictionList(TeamScoped, generics.ListAPIView):
    """The predicted labels of tasks without a human label, least confident first, each with the
    labelled tasks it resembles most."""

    serializer_class = PredictionSerializer

    def get_queryset(self):
        if self.is_fake:
            return ExposurePrediction.objects.none()
        team = self.access().team
        filters = self.filters(PredictionFilters)
        predictions = ExposurePrediction.objects.filter(
            task__job__team=team, task__label_source=LabelSource.PREDICTED
        )
        if "label" in filters:
            predictions = predictions.filter(label=filters["label"])
        return predictions.select_related("task", "run__model").order_by("confidence", "id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        # The neighbours' codes for the whole page in one query.
        ids = {n[0] for p in page for n in p.neighbours[: service.EXPLANATION_NEIGHBOURS]}
        codes = dict(Task.objects.for_team(self.access().team).filter(id__in=ids).values_list("id", "code"))
        context = {
            **self.get_serializer_context(),
            "task_codes": codes,
            "neighbours": service.EXPLANATION_NEIGHBOURS,
        }
        return self.get_paginated_response(PredictionSerializer(page, many=True, context=context).data)
