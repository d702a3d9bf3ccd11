"""Stored fairness, bias and red-team results. Each result keeps a versioned JSON document (`result`:
inputs and their hashes, library versions, parameters, figures with intervals) so an auditor can attach
it as evidence and read it later even after the rules change."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Team

RESULT_SCHEMA = "assay.fairness/1"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (Status.QUEUED, Status.RUNNING)


class ResultBase(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def passed(self) -> bool | None:
        return (self.result.get("verdict") or {}).get("passed") if self.status == Status.DONE else None


class FairnessAssessment(ResultBase):
    """fairlearn MetricFrame over a run's outputs (mapped to labels) and its cases' sensitive attributes."""

    run = models.ForeignKey("experiments.Run", models.SET_NULL, null=True, related_name="+")
    # The options of an assessment asked for while its run was still running: computed when it finishes.
    options = models.JSONField(default=dict, blank=True)

    class Meta(ResultBase.Meta):
        indexes = [models.Index(fields=["team", "-created"], name="fairassess_team_created")]


class GroupList(models.Model):
    """A team's own list of groups for the counterfactual probe (or its edit of a built-in list)."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    category = models.SlugField(max_length=40)
    groups = models.JSONField(default=list)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category"]
        constraints = [
            # The probe form reads one list per category and team.
            models.UniqueConstraint(fields=["team", "category"], name="grouplist_unique_category"),
        ]

    def __str__(self) -> str:
        return self.category


class CounterfactualProbe(ResultBase):
    """A prompt with a {group} slot run through the experiment engine for every group, repeats with fixed
    seeds; the result compares the groups' outputs."""

    template = models.TextField()
    groups = models.JSONField(default=dict)  # {category: [group, ...]}
    decision_labels = models.JSONField(default=list, blank=True)
    repeats = models.PositiveSmallIntegerField(default=3)
    seed = models.PositiveIntegerField(default=1234)
    temperature = models.FloatField(default=0.7)
    max_new_tokens = models.PositiveIntegerField(default=96)
    threshold = models.FloatField(default=0.1, help_text="Largest acceptable gap in refusal or label rate.")
    model = models.ForeignKey("llmcore.ModelConfig", models.SET_NULL, null=True, related_name="+")
    experiment = models.ForeignKey("experiments.Experiment", models.SET_NULL, null=True, related_name="+")

    class Meta(ResultBase.Meta):
        indexes = [models.Index(fields=["team", "-created"], name="cfprobe_team_created")]


class PairSuite(models.Model):
    """A team's uploaded stereotype pairs (the built-in CrowS-Pairs suite is a file, not a row)."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    pairs = models.JSONField(default=list)  # [{"more", "less", "category", "direction"}]
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StereotypeProbe(ResultBase):
    """Which sentence of each pair a local model finds more likely; a Celery job with progress."""

    suite = models.ForeignKey(PairSuite, models.PROTECT, null=True, blank=True, related_name="probes")
    model = models.ForeignKey("llmcore.ModelConfig", models.SET_NULL, null=True, related_name="+")
    model_name = models.CharField(max_length=120, blank=True)
    total = models.PositiveIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta(ResultBase.Meta):
        indexes = [models.Index(fields=["team", "-created"], name="stprobe_team_created")]

    @property
    def suite_name(self) -> str:
        return self.suite.name if self.suite_id else "CrowS-Pairs (built-in)"


class PairScore(models.Model):
    probe = models.ForeignKey(StereotypeProbe, models.CASCADE, related_name="scores")
    index = models.PositiveIntegerField()
    ll_more = models.FloatField()
    ll_less = models.FloatField()
    tokens_more = models.PositiveIntegerField()
    tokens_less = models.PositiveIntegerField()

    class Meta:
        ordering = ["probe_id", "index"]
        constraints = [
            # Resume skips scored pairs; a chunk scored twice keeps one row per pair.
            models.UniqueConstraint(fields=["probe", "index"], name="pairscore_unique_index"),
        ]


class RedTeamRun(ResultBase):
    """Built-in attack suites against a prompt version and model through the experiment engine."""

    prompt_version = models.ForeignKey(
        "experiments.PromptVersion", models.SET_NULL, null=True, related_name="+"
    )
    model = models.ForeignKey("llmcore.ModelConfig", models.SET_NULL, null=True, related_name="+")
    suites = models.JSONField(default=list)
    canary = models.CharField(max_length=40)
    experiment = models.ForeignKey("experiments.Experiment", models.SET_NULL, null=True, related_name="+")

    class Meta(ResultBase.Meta):
        indexes = [models.Index(fields=["team", "-created"], name="redteam_team_created")]


class RedTeamOverride(models.Model):
    """A person's verdict on one attack output, replacing the automatic detector's."""

    redteam = models.ForeignKey(RedTeamRun, models.CASCADE, related_name="overrides")
    generation = models.ForeignKey("experiments.Generation", models.CASCADE, related_name="+")
    success = models.BooleanField()
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One verdict per output; overruling again replaces it.
            models.UniqueConstraint(fields=["redteam", "generation"], name="redteamoverride_unique"),
        ]


class PiiAction(models.TextChoices):
    WARN = "warn", "Warn (send as is, record what was found)"
    REDACT = "redact", "Redact (replace with typed placeholders)"
    BLOCK = "block", "Block (do not send cases that hold PII)"


class PiiPolicy(models.Model):
    """What happens before a case with personal data is sent to an external (openai-compatible) model."""

    team = models.OneToOneField(Team, models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=PiiAction.choices, default=PiiAction.WARN)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    updated = models.DateTimeField(auto_now=True)


class PiiGuardEvent(models.Model):
    """What the PII guard found and did for one batch of a run sent to an external model."""

    run = models.ForeignKey("experiments.Run", models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=PiiAction.choices)
    requests = models.PositiveIntegerField(default=0)
    with_pii = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # {"email": 3, "phone": 1}
    blocked = models.PositiveIntegerField(default=0)
    redacted = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The PII page: the team's latest events; a run's events.
            models.Index(fields=["team", "-created"], name="piievent_team_created"),
        ]
