"""Reports: list and request (reports.services.request_report, with the page's form rules), status,
and the file once a worker has made it. Viewers read and download; editors and admins request."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from reports import files, services
from reports.access import get_report_for_user
from reports.forms import ReportRequestForm
from reports.models import Report, State
from reports.rendering import CONTENT_TYPES

from ..errors import Conflict
from ..serializers.common import ErrorSerializer
from ..serializers.reports import NewReportSerializer, ReportSerializer
from .base import TeamScoped


class ReportList(TeamScoped, generics.ListAPIView):
    """The team's reports still kept, newest first; editors and admins request new ones."""

    serializer_class = ReportSerializer

    def get_queryset(self):
        if self.is_fake:
            return Report.objects.none()
        team = self.access().team
        return (
            Report.objects.filter(team=team, expires__gt=timezone.now())
            .select_related("created_by")
            .order_by("-created", "-id")
        )

    @extend_schema(
        request=NewReportSerializer,
        responses={202: ReportSerializer},
        description="Queues a portfolio report (`jobs`: job codes, none for every job) or an experiment "
        "report (`experiment`: a started experiment's code) in one format; a worker makes it. Poll the "
        "report until `ready`, then download it.",
    )
    def post(self, request, team_slug: str):
        access = self.access(write=True)
        body = NewReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        form = ReportRequestForm(
            {
                "kind": data["kind"],
                "format": data["format"],
                "jobs": [str(code) for code in data["jobs"]],
                "experiment": str(data["experiment"]) if data["experiment"] else "",
            },
            team=access.team,
        )
        if not form.is_valid():
            errors = {field: list(messages) for field, messages in form.errors.items()}
            if "__all__" in errors:
                errors["non_field_errors"] = errors.pop("__all__")
            raise ValidationError(errors)
        report = services.request_report(
            access.team,
            request.user,
            form.cleaned_data["kind"],
            form.cleaned_data["format"],
            form.parameters(),
            form.title(),
        )
        report = Report.objects.select_related("created_by").get(pk=report.pk)
        return Response(
            ReportSerializer(report, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ReportDetail(TeamScoped, generics.RetrieveAPIView):
    """A report: its status, progress, size, when it expires and, once ready, its download link."""

    serializer_class = ReportSerializer

    def get_object(self):
        _, report = get_report_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        return report


NOT_READY = OpenApiResponse(
    ErrorSerializer, description="Not ready yet (`not_ready`: queued or being made) or `failed` (the reason)."
)


class ReportDownload(TeamScoped, generics.GenericAPIView):
    serializer_class = ReportSerializer

    def perform_content_negotiation(self, request, force=False):
        # The file is not rendered; errors are JSON whatever the client accepts.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            **{
                (200, content_type.split(";")[0]): OpenApiTypes.BINARY
                for content_type in CONTENT_TYPES.values()
            },
            409: NOT_READY,
        },
    )
    def get(self, request, team_slug: str, code):
        """The report's file, in its format. 409 while it is queued or being made, or if it failed; 404
        once it has expired."""
        _, report = get_report_for_user(request, team_slug, code)
        if report.status in (State.QUEUED, State.RUNNING):
            raise Conflict(
                f"The report is not ready yet ({report.get_status_display().lower()}, {report.progress}%): "
                "poll it until `ready` is true.",
                "not_ready",
            )
        if report.status == State.FAILED:
            raise Conflict(f"The report failed: {report.message}", "failed")
        path = files.path_of(report) if report.ready else None
        if path is None:
            raise NotFound("This report's file is no longer kept; request the report again.")
        return files.download_response(report, path)
