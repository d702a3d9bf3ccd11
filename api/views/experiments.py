"""Experiments: list, status with progress, results page by page, start and cancel (through
experiments.services.grid, as the pages do)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from experiments import gridfile
from experiments.access import get_experiment_for_user
from experiments.models import Experiment, Generation
from experiments.services import grid, gridfiles
from experiments.views.experiments import progress_context
from llmcore.services import BudgetExceeded, ModelNotAllowed

from ..errors import Conflict
from ..serializers.experiments import (
    CancelResultSerializer,
    ExperimentDetailSerializer,
    ExperimentFilters,
    ExperimentSerializer,
    GenerationSerializer,
    NewExperimentSerializer,
    ResultFilters,
)
from .base import TeamScoped


def _detail(experiment: Experiment) -> dict:
    """The experiment with its progress and runs: three queries whatever the number of runs."""
    annotated = Experiment.objects.with_progress().select_related("dataset").get(pk=experiment.pk)
    context = progress_context(annotated)
    annotated.progress = context
    annotated.runs_list = context["runs"]
    return ExperimentDetailSerializer(annotated).data


@extend_schema_view(get=extend_schema(parameters=[ExperimentFilters]))
class ExperimentList(TeamScoped, generics.ListAPIView):
    """The team's experiments, newest first, with how many outputs are done; editors and admins create
    one from a grid."""

    serializer_class = ExperimentSerializer

    def get_queryset(self):
        if self.is_fake:
            return Experiment.objects.none()
        team = self.access().team
        filters = self.filters(ExperimentFilters)
        experiments = Experiment.objects.filter(team=team, trial=False).select_related("dataset")
        if "status" in filters:
            experiments = experiments.filter(status=filters["status"])
        return experiments.with_progress().order_by("-created", "-id")

    @extend_schema(
        request=NewExperimentSerializer,
        responses={201: ExperimentDetailSerializer},
        description="Creates an experiment from a grid (the grid file format of experiments as code); with "
        "`start` it is started too (409 if it cannot start: the draft is kept, its code in the message).",
    )
    def post(self, request, team_slug: str):
        access = self.access(write=True)
        body = NewExperimentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raw = body.validated_data["grid"]
        try:
            spec = gridfile.parse_text(raw) if isinstance(raw, str) else gridfile.parse_data(raw)
            applied = gridfiles.apply_grid(access.team, request.user, access.role, spec)
        except gridfile.GridFileError as error:
            raise ValidationError({"grid": error.errors}) from None
        experiment = applied.experiment
        if body.validated_data["start"]:
            _start(experiment, request.user, access.role, kept=True)
        return Response(_detail(experiment), status=status.HTTP_201_CREATED)


def _start(experiment: Experiment, user, role: str, kept: bool = False) -> None:
    """grid.start_experiment, its refusals as 409 with the reason."""
    suffix = f" The draft experiment {experiment.code} was saved." if kept else ""
    try:
        grid.start_experiment(experiment, user, role)
    except BudgetExceeded as error:
        raise Conflict(f"{error}{suffix}", "budget_exceeded") from None
    except ModelNotAllowed as error:
        raise Conflict(f"{error}{suffix}", "model_not_allowed") from None
    except grid.ExperimentError as error:
        raise Conflict(f"{error}{suffix}", "cannot_start") from None


class ExperimentDetail(TeamScoped, generics.GenericAPIView):
    serializer_class = ExperimentDetailSerializer

    def get(self, request, team_slug: str, code):
        """Status with progress: outputs generated and scored, per run and in all."""
        _, experiment = get_experiment_for_user(request, team_slug, code)
        return Response(_detail(experiment))


class ExperimentStart(TeamScoped, generics.GenericAPIView):
    serializer_class = ExperimentDetailSerializer

    @extend_schema(request=None, responses={202: ExperimentDetailSerializer})
    def post(self, request, team_slug: str, code):
        """Starts a draft: one queued run per grid cell. 409 when it cannot start (already started, no
        cases, budget spent, model not allowed, task queue down), with the reason."""
        access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
        _start(experiment, request.user, access.role)
        return Response(_detail(experiment), status=status.HTTP_202_ACCEPTED)


class ExperimentCancel(TeamScoped, generics.GenericAPIView):
    serializer_class = CancelResultSerializer

    @extend_schema(request=None, responses={200: CancelResultSerializer})
    def post(self, request, team_slug: str, code):
        """Cancels the runs still queued or running; batches already generating keep their outputs."""
        _, experiment = get_experiment_for_user(request, team_slug, code, write=True)
        count = grid.cancel_experiment(experiment, request.user)
        return Response({"cancelled_runs": count, "experiment": _detail(experiment)})


@extend_schema_view(get=extend_schema(parameters=[ResultFilters]))
class ExperimentResults(TeamScoped, generics.ListAPIView):
    """Every output with its scores, by run, case and repeat, page by page."""

    serializer_class = GenerationSerializer

    def get_queryset(self):
        if self.is_fake:
            return Generation.objects.none()
        _, experiment = get_experiment_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        filters = self.filters(ResultFilters)
        generations = Generation.objects.filter(run__experiment=experiment)
        if "run" in filters:
            generations = generations.filter(run__code=filters["run"])
        return (
            generations.select_related("run", "case_version__case")
            .prefetch_related("scores")
            .order_by("run_id", "case_version__case__key", "repeat", "id")
        )
