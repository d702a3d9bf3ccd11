from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Role, Team, TeamHistory
from llmcore.engine.types import BackendKind, ModelSpec

from . import endpoints
from .usage import cost_lines, format_parameters


class Backend(models.TextChoices):
    TRANSFORMERS = BackendKind.TRANSFORMERS.value, "transformers (local folder or cached hub id)"
    GGUF = BackendKind.GGUF.value, "GGUF file (through transformers)"
    OPENAI_COMPATIBLE = BackendKind.OPENAI_COMPATIBLE.value, "OpenAI-compatible HTTP API"


class Dtype(models.TextChoices):
    AUTO = "auto", "auto"
    FLOAT32 = "float32", "float32"
    BFLOAT16 = "bfloat16", "bfloat16"
    FLOAT16 = "float16", "float16"


class Device(models.TextChoices):
    CPU = "cpu", "CPU"
    CUDA = "cuda", "CUDA GPU"


class Modality(models.TextChoices):
    TEXT = "text", "Text generation"
    EMBEDDING = "embedding", "Embedding"
    VISION = "vision", "Image and text"


# The worker queues inference runs on; a GPU worker consumes only "gpu" (see the README).
CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")


def looks_like_a_secret(value: str) -> bool:
    """True for strings shaped like an API key rather than an environment variable name."""
    value = value.strip()
    return value.startswith(("sk-", "sk_", "hf_", "Bearer ")) or (
        len(value) >= 20 and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    )


def validate_env_var_name(value: str) -> None:
    if looks_like_a_secret(value):
        raise ValidationError(
            "This looks like an API key itself. Keep the key in an environment variable on the workers "
            f"and pick that variable here (its name starts with {endpoints.KEY_PREFIX})."
        )
    if not ENV_VAR_NAME.match(value) or not endpoints.is_allowed_key_name(value):
        raise ValidationError(
            f"{value!r} is not an API key variable this instance allows: only environment variables "
            f"named {endpoints.KEY_PREFIX}… (capital letters, digits and underscores) can be sent to a "
            "model server."
        )


def parse_roles(value: str) -> list[str]:
    return [role for role in Role.values if role in {part.strip() for part in value.split(",")}]


def validate_roles(value: str) -> None:
    unknown = sorted({part.strip() for part in value.split(",") if part.strip()} - set(Role.values))
    if unknown:
        raise ValidationError(
            f"Unknown role {', '.join(unknown)}: choose among {', '.join(Role.values)} (comma-separated)."
        )


class ModelConfigQuerySet(models.QuerySet):
    def instance_wide(self) -> ModelConfigQuerySet:
        return self.filter(team__isnull=True)

    def for_team(self, team: Team) -> ModelConfigQuerySet:
        """The team's own models and the instance-wide ones enabled for it (active or not)."""
        enabled = TeamModel.objects.filter(team=team, model=OuterRef("pk"))
        instance_enabled = Q(team__isnull=True) & (Q(available_to_all_teams=True) | Exists(enabled))
        return self.filter(Q(team=team) | instance_enabled)

    def available_models(self, team: Team, role: str) -> ModelConfigQuerySet:
        """Active models a member with this role may run: external models honour their role list."""
        role_listed = Q(allowed_roles__regex=rf"(^|,){re.escape(role)}(,|$)")
        return (
            self.for_team(team)
            .filter(is_active=True)
            .filter(Q(external=False) | Q(allowed_roles="") | role_listed)
        )


class ModelConfig(TeamHistory, models.Model):
    team = models.ForeignKey(
        Team,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="model_configs",
        help_text="Empty for an instance-wide model managed by site administrators.",
    )
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TRANSFORMERS)
    source = models.CharField(
        max_length=500,
        help_text="Local folder, GGUF file, pkg:<package>/<path>, a hub id already in the worker's cache, "
        "or the base URL of an OpenAI-compatible server.",
    )
    revision = models.CharField(max_length=100, blank=True, help_text="Hub revision or commit, if any.")
    dtype = models.CharField(max_length=10, choices=Dtype.choices, default=Dtype.AUTO)
    device = models.CharField(max_length=10, choices=Device.choices, default=Device.CPU)
    load_in_8bit = models.BooleanField("load in 8-bit", default=False, help_text="CUDA only.")
    context_window = models.PositiveIntegerField(
        default=2048, validators=[MinValueValidator(16), MaxValueValidator(10_000_000)]
    )
    parameter_count = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Number of parameters, e.g. 135000000 for 135M."
    )
    licence = models.CharField(max_length=100, blank=True)
    modality = models.CharField(max_length=20, choices=Modality.choices, default=Modality.TEXT)
    open_weights = models.BooleanField(
        default=True, help_text="Weights are published (open); untick for a hosted proprietary model."
    )
    external = models.BooleanField(
        default=False,
        help_text="Data sent to this model leaves the organisation (e.g. a hosted API).",
    )
    allowed_roles = models.CharField(
        max_length=60,
        blank=True,
        validators=[validate_roles],
        help_text="External models only: roles that may use it, comma-separated; empty means every role.",
    )
    available_to_all_teams = models.BooleanField(
        default=False,
        help_text="Instance-wide models only: every team may use it, including teams created later. "
        "Untick to enable it team by team.",
    )
    remote_model = models.CharField(
        max_length=200, blank=True, help_text="OpenAI-compatible only: the model name the server expects."
    )
    api_key_env = models.CharField(
        "API key environment variable",
        max_length=100,
        blank=True,
        validators=[validate_env_var_name],
        help_text="The NAME of the environment variable holding the API key on the workers, never the key.",
    )
    request_timeout_s = models.FloatField(
        "request timeout (s)", default=60.0, validators=[MinValueValidator(1), MaxValueValidator(3600)]
    )
    max_retries = models.PositiveSmallIntegerField(default=3, validators=[MaxValueValidator(10)])
    max_concurrency = models.PositiveSmallIntegerField(
        "requests in flight",
        default=64,
        validators=[MinValueValidator(1), MaxValueValidator(512)],
        help_text="OpenAI-compatible only: requests sent at once. A batching server (vLLM, llama.cpp) "
        "needs many to stay busy; a hosted API's rate limit may want fewer.",
    )
    cost_per_1k_input = models.DecimalField(
        "cost per 1k input tokens",
        max_digits=12,
        decimal_places=6,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    cost_per_1k_output = models.DecimalField(
        "cost per 1k output tokens",
        max_digits=12,
        decimal_places=6,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    cost_per_hour = models.DecimalField(
        "cost per hardware-hour",
        max_digits=10,
        decimal_places=4,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Local models: what an hour of the worker's machine costs.",
    )
    # Written by the "measure" job (services.measure_model), never by the edit form.
    measured_latency_s = models.FloatField("measured latency (s)", null=True, blank=True, editable=False)
    measured_tokens_per_s = models.FloatField("measured tokens/s", null=True, blank=True, editable=False)
    measured_at = models.DateTimeField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True, max_length=10_000)
    is_active = models.BooleanField("active", default=True, help_text="Inactive models cannot be picked.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ModelConfigQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # Pickers and imports name models; names are unique within a team...
            models.UniqueConstraint(fields=["team", "name"], name="unique_model_name_per_team"),
            # ...and among instance-wide models (NULL teams never collide in the constraint above).
            models.UniqueConstraint(
                fields=["name"], condition=Q(team__isnull=True), name="unique_instance_model_name"
            ),
            # bitsandbytes 8-bit loading exists only on CUDA; clean() explains it to people.
            models.CheckConstraint(
                condition=Q(load_in_8bit=False) | Q(device=Device.CUDA), name="model_8bit_needs_cuda"
            ),
            # "Every team may use it" only means something for instance-wide models.
            models.CheckConstraint(
                condition=Q(team__isnull=True) | Q(available_to_all_teams=False),
                name="model_all_teams_only_instance_wide",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.load_in_8bit and self.device != Device.CUDA:
            errors["load_in_8bit"] = (
                "8-bit loading needs a CUDA GPU: set the device to CUDA GPU, or untick 8-bit loading "
                "to run on CPU."
            )
        if self.backend == Backend.OPENAI_COMPATIBLE:
            if not self.source.startswith(("http://", "https://")):
                errors["source"] = (
                    "For an OpenAI-compatible model the source is the server's base URL, "
                    "e.g. https://api.example.com/v1."
                )
            else:
                refused = endpoints.refusal(self.source)
                if refused:
                    errors["source"] = refused
            if not self.remote_model:
                errors["remote_model"] = "Name the model the server should run (e.g. gpt-4o-mini)."
            if self.device == Device.CUDA:
                errors["device"] = (
                    "An OpenAI-compatible model runs on its own server; set the device to CPU so calls "
                    "go through the CPU queue and do not hold a GPU worker."
                )
        else:
            if self.api_key_env:
                errors["api_key_env"] = "Only OpenAI-compatible models use an API key; leave this empty."
        if self.allowed_roles and not self.external:
            errors["allowed_roles"] = (
                "Only external models can be restricted to roles: tick 'external' or clear the roles."
            )
        if self.team_id is not None and self.available_to_all_teams:
            errors["available_to_all_teams"] = "Only instance-wide models can be offered to every team."
        if errors:
            raise ValidationError(errors)

    @property
    def is_instance_wide(self) -> bool:
        return self.team_id is None

    @property
    def allowed_role_list(self) -> list[str]:
        return parse_roles(self.allowed_roles)

    @property
    def queue(self) -> str:
        return GPU_QUEUE if self.device == Device.CUDA else CPU_QUEUE

    @property
    def parameter_label(self) -> str:
        return format_parameters(self.parameter_count)

    @property
    def cost_lines(self) -> list[str]:
        return cost_lines(self.cost_per_1k_input, self.cost_per_1k_output, self.cost_per_hour)

    @property
    def picker_label(self) -> str:
        """Plain text for a <select> option; external models say so wherever they can be picked."""
        label = self.name
        if self.team_id is None:
            label += " (instance)"
        if self.external:
            label += " — external: data leaves the organisation"
        return label

    @property
    def is_local(self) -> bool:
        return self.backend != Backend.OPENAI_COMPATIBLE

    def allows_role(self, role: str) -> bool:
        return not self.external or not self.allowed_roles or role in self.allowed_role_list

    def to_spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            backend=BackendKind(self.backend),
            source=self.source,
            revision=self.revision,
            dtype=self.dtype,
            device=self.device,
            load_in_8bit=self.load_in_8bit,
            context_window=self.context_window,
            parameter_count=self.parameter_count,
            remote_model=self.remote_model,
            api_key_env=self.api_key_env,
            request_timeout_s=self.request_timeout_s,
            max_retries=self.max_retries,
            max_concurrency=self.max_concurrency,
            cost_per_1k_input=float(self.cost_per_1k_input),
            cost_per_1k_output=float(self.cost_per_1k_output),
            cost_per_hour=float(self.cost_per_hour),
            licence=self.licence,
            modality=self.modality,
        )


class TeamModel(TeamHistory, models.Model):
    """An instance-wide model an administrator enabled for one team."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="model_links")
    model = models.ForeignKey(
        ModelConfig, models.CASCADE, related_name="team_links", limit_choices_to={"team__isnull": True}
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # for_team() checks (team, model) with an EXISTS; one row per pair.
            models.UniqueConstraint(fields=["team", "model"], name="unique_team_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model} for {self.team}"

    def clean(self) -> None:
        if self.model_id and self.model.team_id is not None:
            raise ValidationError(
                {"model": "This model already belongs to a team; only instance-wide models are enabled."}
            )


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    TIMEOUT = "timeout", "Timed out"
    REFUSED = "refused", "Refused (budget or access)"


class InferenceCallQuerySet(models.QuerySet):
    def between(self, start, end) -> InferenceCallQuerySet:
        return self.filter(created__gte=start, created__lt=end)

    def totals(self) -> dict:
        """One aggregate query: calls, tokens in/out and cost (0 when empty)."""
        row = self.aggregate(
            calls=Count("id"),
            tokens_in=Sum("tokens_in", default=0),
            tokens_out=Sum("tokens_out", default=0),
            cost=Sum("cost", default=Decimal(0)),
        )
        row["tokens"] = row["tokens_in"] + row["tokens_out"]
        return row

    def daily_summary(self):
        """One row per (day, model): calls, failures, tokens, cost, mean latency. One query."""
        return (
            self.annotate(day=TruncDate("created"))
            .values("day", "model_id", "model_name")
            .annotate(
                calls=Count("id"),
                failures=Count("id", filter=~Q(outcome=Outcome.OK)),
                tokens_in=Sum("tokens_in"),
                tokens_out=Sum("tokens_out"),
                cost=Sum("cost"),
                latency_s=models.Avg("latency_s", filter=Q(outcome=Outcome.OK)),
            )
            .order_by("day", "model_name")
        )

    def per_model(self):
        """One row per model over the whole queryset. One query."""
        return (
            self.values("model_id", "model_name")
            .annotate(
                calls=Count("id"),
                failures=Count("id", filter=~Q(outcome=Outcome.OK)),
                tokens_in=Sum("tokens_in"),
                tokens_out=Sum("tokens_out"),
                cost=Sum("cost"),
                latency_s=models.Avg("latency_s", filter=Q(outcome=Outcome.OK)),
            )
            .order_by("-cost", "model_name")
        )


class InferenceCall(models.Model):
    """One request sent to a model (or refused before it was): who, team, model, tokens, cost, outcome."""

    team = models.ForeignKey(
        Team,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="inference_calls",
        help_text="Empty for instance maintenance (e.g. an administrator measuring a model).",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="inference_calls",
        help_text="Empty for system work (scheduled jobs, scorers).",
    )
    # The log outlives the model: spend already counted must stay counted after a model is deleted.
    model = models.ForeignKey(
        ModelConfig, models.SET_NULL, null=True, blank=True, related_name="inference_calls"
    )
    model_name = models.CharField(max_length=120)
    purpose = models.CharField(max_length=40, blank=True, help_text="e.g. experiment, judge, measure.")
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    # Local calls cost fractions of a cent (batch time x hourly rate / batch size): keep 10 decimals.
    cost = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal(0))
    latency_s = models.FloatField(default=0.0)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = InferenceCallQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            # Monthly budget sums and the team usage page: WHERE team = ? AND created in a month.
            models.Index(fields=["team", "created"], name="call_team_created"),
            # The model detail page: WHERE model = ? AND team = ? AND created >= ?.
            models.Index(fields=["model", "created"], name="call_model_created"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} · {self.outcome} · {self.created:%Y-%m-%d %H:%M}"

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out


class TeamBudget(TeamHistory, models.Model):
    """A team's monthly allowance; empty limits mean no limit."""

    team = models.OneToOneField(Team, models.CASCADE, related_name="budget")
    monthly_token_limit = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Input plus output tokens per calendar month (UTC)."
    )
    monthly_cost_limit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Spend per calendar month (UTC), in the same currency as the model rates.",
    )
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Budget of {self.team}"


class ThroughputSample(models.Model):
    """How fast one engine call ran: written by every call through llmcore.services.run_inference, so
    estimates come from measured speed at the batch sizes actually used (llmcore/throughput.py)."""

    model = models.ForeignKey(ModelConfig, models.CASCADE, related_name="throughput_samples")
    worker = models.CharField(max_length=200, blank=True)  # host name of the process that ran it
    batch_size = models.PositiveIntegerField()  # requests in the call
    tokens_out = models.PositiveBigIntegerField()
    seconds = models.FloatField()
    # The call loaded the model first (the first call of a worker): its time includes the load.
    cold = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["model", "-created"], name="throughput_model_recent")]

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens_out / self.seconds if self.seconds > 0 else None


class TextEmbedding(models.Model):
    """A sentence embedding kept by text, so a text is embedded once per embedding model (triage embeds
    every task of a team each time it runs; only new or edited statements cost anything)."""

    model = models.CharField(max_length=100)  # which embedding model (its folder name)
    text_hash = models.CharField(max_length=64)  # sha256 of the text
    vector = models.BinaryField()  # float32, little-endian
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "text_hash"], name="unique_embedding_per_text")
        ]
