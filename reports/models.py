"""Reports generated on a worker and kept for a while: a portfolio or experiment report in one format."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Team


class Kind(models.TextChoices):
    PORTFOLIO = "portfolio", "Portfolio report"
    EXPERIMENT = "experiment", "Experiment report"


class Format(models.TextChoices):
    PDF = "pdf", "PDF"
    XLSX = "xlsx", "Excel workbook (XLSX)"
    CSV = "csv", "CSV"
    JSON = "json", "JSON"


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ReportQuerySet(models.QuerySet):
    def expired(self, now):
        return self.filter(expires__lte=now)


class Report(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="reports")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices)
    title = models.CharField(max_length=300)
    # {"jobs": [job codes]} (empty: every job) or {"experiment": experiment code}
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    stage = models.CharField(max_length=80, blank=True)  # what the worker is doing, in words
    message = models.TextField(blank=True)  # why it failed
    file_name = models.CharField(max_length=200, blank=True)  # relative to settings.ASSAY_REPORTS_DIR
    size = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField()

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The team's Reports page, newest first.
            models.Index(fields=["team", "-created"], name="report_team_recent"),
            # The retention sweep: reports past their time.
            models.Index(fields=["expires"], name="report_expires"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="report_progress_percent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def active(self) -> bool:
        return self.status in (State.QUEUED, State.RUNNING)

    @property
    def ready(self) -> bool:
        return self.status == State.DONE and bool(self.file_name)

    @property
    def download_name(self) -> str:
        return f"{self.team.slug}-{self.kind}-report-{self.created:%Y-%m-%d}.{self.format}"
