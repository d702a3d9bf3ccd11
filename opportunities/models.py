from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Team, TeamHistory

from .feasibility import Thresholds
from .limits import DESCRIPTION_MAX_LENGTH, NOTES_MAX_LENGTH, STATEMENT_MAX_LENGTH
from .value import ValueBreakdown, ValueInputs, annual_value

MONEY = DecimalField(max_digits=20, decimal_places=2)


class JobQuerySet(models.QuerySet):
    def with_totals(self):
        """Each job with `task_count` and `value_total` (two subqueries, no per-row query)."""
        value_per_job = (
            Task.objects.filter(job=OuterRef("pk"))
            .with_value()
            .order_by()
            .values("job")
            .annotate(total=Sum("annual_value"))
            .values("total")
        )
        count_per_job = (
            Task.objects.filter(job=OuterRef("pk"))
            .order_by()
            .values("job")
            .annotate(n=Count("id"))
            .values("n")
        )
        return self.annotate(
            task_count=Coalesce(Subquery(count_per_job), Value(0)),
            value_total=Coalesce(
                Subquery(value_per_job, output_field=MONEY), Value(Decimal(0)), output_field=MONEY
            ),
        )


class Job(TeamHistory, models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="jobs")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    headcount = models.PositiveIntegerField(default=1, validators=[MaxValueValidator(1_000_000)])
    hourly_cost = models.DecimalField(
        "loaded hourly cost",
        max_digits=10,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(10_000))],
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            # Imports find or create jobs by title within a team.
            models.UniqueConstraint(fields=["team", "title"], name="unique_job_title_per_team"),
        ]

    objects = JobQuerySet.as_manager()

    def __str__(self) -> str:
        return self.title


class TaskKind(models.TextChoices):
    WRITE = "write", "Write"
    READ = "read", "Read"
    CHAT = "chat", "Chat"
    OTHER = "other", "Other"


class Mode(models.TextChoices):
    AUGMENT = "augment", "Augment"
    AUTOMATE = "automate", "Automate"


class Exposure(models.TextChoices):
    E0 = "E0", "E0 · no exposure"
    E1 = "E1", "E1 · direct (chat)"
    E2 = "E2", "E2 · through LLM-powered software"


class LabelSource(models.TextChoices):
    HUMAN = "human", "Human"
    PREDICTED = "predicted", "Predicted"


class Verdict(models.TextChoices):
    AUTOMATION_READY = "automation-ready", "Automation-ready"
    AUGMENTATION_READY = "augmentation-ready", "Augmentation-ready"
    NOT_YET = "not-yet", "Not yet"
    UNTESTED = "untested", "Untested"


class RubricAnswer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"


class TaskQuerySet(models.QuerySet):
    def for_team(self, team: Team) -> TaskQuerySet:
        return self.filter(job__team=team)

    def with_value(self) -> TaskQuerySet:
        """Annotates `annual_value` in SQL (same formula as value.annual_value) for sorting and sums."""
        output = DecimalField(max_digits=20, decimal_places=2)
        saved = ExpressionWrapper(
            F("job__headcount")
            * F("people_share")
            * F("hours_per_week")
            * Value(52)
            * F("job__hourly_cost")
            * F("time_saved"),
            output_field=output,
        )
        return self.annotate(
            annual_value=ExpressionWrapper(
                saved - F("model_cost_per_year") + F("revenue_upside"), output_field=output
            )
        )


class Task(TeamHistory, models.Model):
    job = models.ForeignKey(Job, models.CASCADE, related_name="tasks")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    statement = models.TextField(max_length=STATEMENT_MAX_LENGTH)
    kind = models.CharField(max_length=10, choices=TaskKind.choices, default=TaskKind.OTHER)
    hours_per_week = models.DecimalField(
        "hours per week per person",
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(80))],
    )
    people_share = models.DecimalField(
        "share of people doing it",
        max_digits=4,
        decimal_places=3,
        default=Decimal("1.000"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUGMENT)
    time_saved = models.DecimalField(
        "expected time saved",
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.300"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    exposure_label = models.CharField(max_length=2, choices=Exposure.choices, blank=True)
    label_source = models.CharField(max_length=10, choices=LabelSource.choices, blank=True)
    notes = models.TextField(blank=True, max_length=NOTES_MAX_LENGTH)
    # How many times a year the task is done (cases a model would handle); blank while unknown.
    cases_per_year = models.PositiveIntegerField(
        "cases per year",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000_000)],
        help_text="How many times a year the task is done; with the deciding run's measured cost per "
        "1,000 cases it gives the model's running cost per year.",
    )
    # The deciding run's measured cost per 1,000 cases (set with the verdict); None when not measured.
    model_cost_per_1k_cases = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    # Yearly cost of running the model for this task: model_cost_per_1k_cases × cases_per_year / 1,000,
    # recomputed with the verdict (verdicts.model_cost_per_year); 0 while either is unknown.
    model_cost_per_year = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    revenue_upside = models.DecimalField(
        "revenue upside per year",
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    # Feasibility: set from experiment evidence (see the feasibility rules); untested until then.
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.UNTESTED)
    feasibility = models.FloatField(null=True, blank=True)  # 0..1, the evidence's headline score
    # Which figure `feasibility` is (the one that decided the verdict: feasibility.BASIS_*).
    feasibility_basis = models.CharField(max_length=80, blank=True)
    # Warnings that come with the verdict (reviews that disagree with the scorer), shown wherever it is.
    verdict_warnings = models.JSONField(default=list, blank=True)
    verdict_rules_version = models.CharField(max_length=20, blank=True)
    # Why: the verdict function's reasons for the deciding run, and that run (its outputs are one click away).
    verdict_reasons = models.JSONField(default=list, blank=True)
    verdict_run = models.ForeignKey(
        "experiments.Run", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verdict_updated = models.DateTimeField(null=True, blank=True)
    # The PM's answer to feasibility.RUBRIC_QUESTION; blank while unanswered.
    rubric_answer = models.CharField(max_length=3, choices=RubricAnswer.choices, blank=True)
    # The experiments whose runs are evidence for this task (same team; enforced by the forms).
    experiments = models.ManyToManyField("experiments.Experiment", blank=True, related_name="tasks")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["job__title", "id"]
        indexes = [
            # Portfolio filters by job then sorts; the matrix and totals group by verdict.
            models.Index(fields=["job", "kind"], name="task_job_kind"),
            models.Index(fields=["verdict"], name="task_verdict"),
        ]

    def history_team_id(self) -> int | None:
        if type(self).job.is_cached(self):
            return self.job.team_id
        return Job.objects.filter(pk=self.job_id).values_list("team_id", flat=True).first()

    def __str__(self) -> str:
        return self.statement[:80]

    def value_inputs(self) -> ValueInputs:
        """Reads self.job: one query if not loaded."""
        return ValueInputs(
            headcount=self.job.headcount,
            people_share=self.people_share,
            hours_per_week=self.hours_per_week,
            hourly_cost=self.job.hourly_cost,
            time_saved=self.time_saved,
            model_cost_per_year=self.model_cost_per_year,
            revenue_upside=self.revenue_upside,
            model_cost_per_1k_cases=self.model_cost_per_1k_cases,
            cases_per_year=self.cases_per_year,
        )

    def value_breakdown(self) -> ValueBreakdown:
        return annual_value(self.value_inputs())


class Stage(models.TextChoices):
    SCOPE = "scope", "Scope"
    BUILD = "build", "Build"
    INTERNAL_EVALUATION = "internal-evaluation", "Internal evaluation"
    DEPLOY = "deploy", "Deploy"
    MONITOR = "monitor", "Monitor"


STAGE_ORDER = [stage.value for stage in Stage]


class RiskTier(models.TextChoices):
    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"
    PROHIBITED = "prohibited", "Prohibited"


class UseCase(TeamHistory, models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="use_cases")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUGMENT)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.SCOPE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="owned_use_cases"
    )
    risk_tier = models.CharField(max_length=12, choices=RiskTier.choices, default=RiskTier.MINIMAL)
    tasks = models.ManyToManyField(Task, related_name="use_cases", blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def next_stage(self) -> str | None:
        index = STAGE_ORDER.index(self.stage)
        return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None

    def previous_stage(self) -> str | None:
        index = STAGE_ORDER.index(self.stage)
        return STAGE_ORDER[index - 1] if index > 0 else None


class StageChange(models.Model):
    use_case = models.ForeignKey(UseCase, models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True)
    changed_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]


class FeasibilityPolicy(TeamHistory, models.Model):
    """A team's thresholds for the feasibility verdict (opportunities.feasibility.Thresholds); a team
    without a row uses the defaults."""

    team = models.OneToOneField(Team, models.CASCADE, related_name="feasibility_policy")
    min_cases = models.PositiveIntegerField(
        "minimum cases for automation", default=30, validators=[MinValueValidator(1)]
    )
    automation_pass_lower = models.FloatField(
        "automation: pass-rate lower bound",
        default=0.90,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    automation_acceptance = models.FloatField(
        "automation: human acceptance", default=0.90, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    augmentation_lower = models.FloatField(
        "augmentation: accept-or-minor-edit lower bound",
        default=0.60,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    max_cost_per_1k_cases = models.DecimalField(
        "cost limit per 1,000 cases",
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    max_p95_latency_s = models.FloatField(
        "p95 latency limit of a single request (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(86_400)],
    )
    min_reviewers_automation = models.PositiveIntegerField(
        "automation: minimum different reviewers", default=2, validators=[MinValueValidator(1)]
    )
    min_reviewers_augmentation = models.PositiveIntegerField(
        "augmentation: minimum different reviewers", default=1, validators=[MinValueValidator(1)]
    )
    min_scorer_kappa = models.FloatField(
        "warn below this reviewer-scorer agreement (κ)",
        null=True,
        blank=True,
        default=0.4,
        validators=[MinValueValidator(-1), MaxValueValidator(1)],
    )
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Feasibility thresholds of {self.team}"

    def thresholds(self) -> Thresholds:
        return Thresholds(
            min_cases=self.min_cases,
            automation_pass_lower=self.automation_pass_lower,
            automation_acceptance=self.automation_acceptance,
            augmentation_lower=self.augmentation_lower,
            max_cost_per_1k_cases=None
            if self.max_cost_per_1k_cases is None
            else float(self.max_cost_per_1k_cases),
            max_p95_latency_s=self.max_p95_latency_s,
            min_reviewers_automation=self.min_reviewers_automation,
            min_reviewers_augmentation=self.min_reviewers_augmentation,
            min_scorer_kappa=self.min_scorer_kappa,
        )


class TriageRun(models.Model):
    """One run of the exposure pre-screen for a team (opportunities/triage/service.py): its progress,
    the quality it measured on the team's labels, and how many tasks it predicted."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, models.CASCADE, related_name="triage_runs")
    status = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=80, blank=True)  # what it is doing now, in words
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=200, blank=True)
    quality = models.JSONField(default=dict, blank=True)  # evaluation.Quality.to_dict()
    predicted = models.PositiveIntegerField(default=0)
    embedded = models.PositiveIntegerField(default=0)  # texts not in the embedding cache
    message = models.TextField(blank=True)
    # The registered model that labels tasks by the rubric while the team has too few labels for the
    # classifier (triage/rubric.py); empty: the classifier only.
    model = models.ForeignKey(
        "llmcore.ModelConfig", models.SET_NULL, null=True, blank=True, related_name="triage_runs"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "-created"], name="triage_team_recent")]

    @property
    def active(self) -> bool:
        return self.status in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


class ExposurePrediction(models.Model):
    """The pre-screen's latest prediction for a task without a human label, with what explains it: the
    most similar labelled tasks (ids, labels, similarity) and the label probabilities."""

    task = models.OneToOneField(Task, models.CASCADE, related_name="exposure_prediction")
    run = models.ForeignKey(TriageRun, models.CASCADE, related_name="predictions")
    label = models.CharField(max_length=2, choices=Exposure.choices)
    confidence = models.FloatField()
    method = models.CharField(max_length=20)
    probabilities = models.JSONField(default=dict)  # {"E0": p, "E1": p, "E2": p}
    neighbours = models.JSONField(default=list)  # [[task_id, label, similarity], ...] most similar first
    rationale = models.TextField(blank=True)  # the model's reason, when a model labelled it by the rubric

    class Meta:
        indexes = [models.Index(fields=["run", "confidence"], name="prediction_run_confidence")]


class BreakdownRun(models.Model):
    """One request to a model for a job's tasks (opportunities/breakdown/service.py): where it is, what
    the model said (kept whole, for when nothing in it parses), and how long it took."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        LOADING = "loading", "Loading the model"
        GENERATING = "generating", "Generating"
        PARSING = "parsing", "Reading the proposals"
        DONE = "done", "Done"

    team = models.ForeignKey(Team, models.CASCADE, related_name="breakdown_runs")
    job = models.ForeignKey(Job, models.CASCADE, related_name="breakdown_runs")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model = models.ForeignKey("llmcore.ModelConfig", models.SET_NULL, null=True, related_name="+")
    model_name = models.CharField(max_length=120)  # kept if the model is deleted
    status = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED)
    message = models.TextField(blank=True)
    prompt = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=12, blank=True)
    tokens_out = models.PositiveIntegerField(default=0)
    estimated_s = models.FloatField(null=True, blank=True)  # from the model's measured speed, if known
    elapsed_s = models.FloatField(null=True, blank=True)  # the model call, measured
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The job's breakdown page shows its latest run.
            models.Index(fields=["job", "-created"], name="breakdown_job_recent"),
        ]

    STAGE_ORDER = [stage.value for stage in Stage]

    @property
    def active(self) -> bool:
        return self.status in (self.State.QUEUED, self.State.RUNNING)

    @property
    def done(self) -> int:
        """Stages passed, out of `total` (the model answers in one call, so stages are the progress)."""
        return self.STAGE_ORDER.index(self.stage) if self.stage in self.STAGE_ORDER else 0

    @property
    def total(self) -> int:
        return len(self.STAGE_ORDER) - 1

    @property
    def percent(self) -> int:
        return 100 if self.status == self.State.DONE else round(100 * self.done / self.total)


class TaskProposal(models.Model):
    """A task a model proposed for a job; it becomes a Task only when a person accepts it."""

    class Decision(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACCEPTED = "accepted", "Accepted"
        DISCARDED = "discarded", "Discarded"

    run = models.ForeignKey(BreakdownRun, models.CASCADE, related_name="proposals")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    position = models.PositiveIntegerField()
    statement = models.TextField(max_length=STATEMENT_MAX_LENGTH)
    kind = models.CharField(max_length=10, choices=TaskKind.choices, default=TaskKind.OTHER)
    kind_guessed = models.BooleanField(default=False)  # from the first verb, not from the model
    # None: the model gave no hours (the form then starts from the task default).
    hours_per_week = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(80))],
    )
    status = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PROPOSED)
    task = models.ForeignKey(Task, models.SET_NULL, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    decided = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            # One proposal per line of a run's answer; the run's proposals are listed in this order.
            models.UniqueConstraint(fields=["run", "position"], name="unique_proposal_position"),
        ]

    def __str__(self) -> str:
        return self.statement[:80]
