"""Reports: their status and download link, and the body of a request (checked again by
reports.forms.ReportRequestForm, the rules the page uses)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from reports.forms import MAX_JOBS
from reports.models import Format, Kind, Report


class ReportSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    ready = serializers.BooleanField(read_only=True, help_text="The file can be downloaded.")
    size = serializers.IntegerField(
        read_only=True, help_text="The file's size in bytes (0 until it is ready)."
    )
    progress = serializers.IntegerField(read_only=True, help_text="Percent done.")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "code", "kind", "format", "title", "parameters", "status", "progress", "stage", "message", "ready",
            "size", "download_url", "created_by", "created", "finished", "expires",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, report: Report) -> str | None:
        """The file's API address once it is ready; null before."""
        if not report.ready:
            return None
        path = reverse("api:report_download", args=[self.context["team"].slug, report.code])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class NewReportSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    format = serializers.ChoiceField(choices=Format.choices)
    jobs = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        help_text=f"Portfolio report: the job codes it covers (at most {MAX_JOBS}); none or empty: every job.",
    )
    experiment = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Experiment report: the code of a started experiment of the team.",
    )
