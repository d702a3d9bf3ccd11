from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Avg, Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Team

from .rendering import Example, PromptContent, Technique


class PromptTemplate(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="prompt_templates")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    # The dataset whose test cases must provide every variable of the template's versions.
    dataset = models.ForeignKey(
        "Dataset", models.SET_NULL, null=True, blank=True, related_name="prompt_templates"
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The team's prompt list, by name.
            models.Index(fields=["team", "name"], name="prompttemplate_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class PromptVersion(models.Model):
    """One immutable content of a template: editing a template creates a new version."""

    TECHNIQUES = [(t.value, t.value.replace("-", " ").capitalize()) for t in Technique]

    template = models.ForeignKey(PromptTemplate, models.CASCADE, related_name="versions")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    system_prompt = models.TextField(blank=True)
    instruction = models.TextField()
    technique = models.CharField(max_length=20, choices=TECHNIQUES, default=Technique.ZERO_SHOT)
    examples = models.JSONField(default=list, blank=True)
    output_format = models.TextField(blank=True)
    change_note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template_id", "-number"]
        constraints = [
            # Identical content is the same version: a save without changes creates nothing.
            models.UniqueConstraint(fields=["template", "content_hash"], name="promptversion_unique_content"),
            # Version numbers shown to people ("v3") are unique within a template.
            models.UniqueConstraint(fields=["template", "number"], name="promptversion_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.number}"

    @property
    def label(self) -> str:
        """Reads self.template: one query if not loaded."""
        return f"{self.template.name} v{self.number}"

    def content(self) -> PromptContent:
        return PromptContent(
            instruction=self.instruction,
            system_prompt=self.system_prompt,
            technique=self.technique,
            examples=tuple(Example(input=e["input"], output=e["output"]) for e in self.examples),
            output_format=self.output_format,
        )


class Dataset(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="datasets")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The team's dataset list, by name.
            models.Index(fields=["team", "name"], name="dataset_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class TestCase(models.Model):
    """A case's stable identity; its content lives in versions so old runs keep what they ran on."""

    __test__ = False  # not a pytest class

    dataset = models.ForeignKey(Dataset, models.CASCADE, related_name="cases")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)
    # Removed cases leave new snapshots but stay in the snapshots (and runs) that used them.
    removed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset_id", "key"]
        constraints = [
            # Imports match rows to cases by key.
            models.UniqueConstraint(fields=["dataset", "key"], name="testcase_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class TestCaseVersion(models.Model):
    __test__ = False

    case = models.ForeignKey(TestCase, models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    inputs = models.JSONField(default=dict)
    expected_output = models.TextField(blank=True)
    expected_label = models.CharField(max_length=200, blank=True)
    sensitive_attributes = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    is_current = models.BooleanField(default=True)
    change_note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="testcaseversion_unique_number"),
            # Exactly one current version per case; the dataset page lists current versions.
            models.UniqueConstraint(
                fields=["case"], condition=Q(is_current=True), name="testcaseversion_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} v{self.number}"

    def content(self) -> dict:
        return {
            "inputs": self.inputs,
            "expected_output": self.expected_output,
            "expected_label": self.expected_label,
            "sensitive_attributes": self.sensitive_attributes,
            "tags": self.tags,
        }


class DatasetSnapshot(models.Model):
    """The exact case versions an experiment ran on; taken when an experiment starts."""

    dataset = models.ForeignKey(Dataset, models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField()
    case_versions = models.ManyToManyField(TestCaseVersion, through="SnapshotEntry", related_name="snapshots")
    case_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["dataset_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="datasetsnapshot_unique_number"),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.number}"


class SnapshotEntry(models.Model):
    snapshot = models.ForeignKey(DatasetSnapshot, models.CASCADE, related_name="entries")
    case_version = models.ForeignKey(TestCaseVersion, models.RESTRICT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "case_version"], name="snapshotentry_unique"),
        ]


# Experiments ---------------------------------------------------------------------------------------


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)
ACTIVE = (Status.QUEUED, Status.RUNNING)


def _per_experiment(queryset, value):
    """A subquery of one aggregate per experiment (a join would multiply runs by generations)."""
    return Coalesce(Subquery(queryset.order_by().values("experiment_key").annotate(n=value).values("n")), 0)


class ExperimentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE)

    def with_progress(self):
        """Each experiment with `done` outputs of `total` (cases × repeats over its runs), in the same
        query; `Experiment.percent` reads them."""
        return self.annotate(
            total=_per_experiment(
                Run.objects.filter(experiment=OuterRef("pk")).annotate(experiment_key=F("experiment")),
                Sum("total"),
            ),
            done=_per_experiment(
                Generation.objects.filter(run__experiment=OuterRef("pk")).annotate(
                    experiment_key=F("run__experiment")
                ),
                Count("id"),
            ),
        )


class Experiment(models.Model):
    """The grid prompt versions × models × parameter sets × test cases × repeats."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="experiments")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    dataset = models.ForeignKey(Dataset, models.RESTRICT, related_name="experiments")
    # Taken when the experiment starts: the exact case versions every run uses.
    snapshot = models.ForeignKey(
        DatasetSnapshot, models.RESTRICT, null=True, blank=True, related_name="experiments"
    )
    prompt_versions = models.ManyToManyField(PromptVersion, related_name="experiments")
    model_configs = models.ManyToManyField("llmcore.ModelConfig", related_name="+")
    # [{"label": "greedy", "params": {...InferenceParams.to_dict()}}]
    param_sets = models.JSONField(default=list)
    # [Scorer.config(), ...] from llmcore.scoring
    scorers = models.JSONField(default=list, blank=True)
    repeats = models.PositiveSmallIntegerField(default=1)
    # Copy an identical earlier generation (same prompt version, model, parameters, case version and
    # repeat) instead of generating it again.
    reuse_cached = models.BooleanField(default=True)
    # A try-out from the builder (experiments/trials.py): its first prompt version × model × parameter
    # set on the first ASSAY_TRIAL_CASES cases; not listed among the team's experiments.
    trial = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    # Inference calls are logged (and budgeted) against whoever started the experiment.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The team's experiment list, newest first.
            models.Index(fields=["team", "-created"], name="experiment_team_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(repeats__gte=1, repeats__lte=10), name="experiment_repeats_1_10"
            ),
        ]

    objects = ExperimentQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    @property
    def percent(self) -> int:
        """Needs `with_progress()`."""
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class RunQuerySet(models.QuerySet):
    def with_progress(self):
        """Each run with its output counts, tokens, cost and mean latency: one query for any number of runs;
        `Run.percent` reads them."""
        return self.annotate(
            generated=Count("generations"),
            errors=Count("generations", filter=~Q(generations__error="")),
            scored=Count("generations", filter=Q(generations__scored__isnull=False, generations__error="")),
            passed_count=Count("generations", filter=Q(generations__passed=True)),
            reused=Count("generations", filter=Q(generations__reused_from__isnull=False)),
            tokens_out=Sum("generations__tokens_out"),
            cost=Sum("generations__cost"),
            mean_latency=Avg("generations__latency_s"),
        )


class Run(models.Model):
    """One cell of the grid: a prompt version × a model × a parameter set over the dataset snapshot."""

    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="runs")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    prompt_version = models.ForeignKey(PromptVersion, models.RESTRICT, related_name="runs")
    # The model may be deleted from the registry later; the run keeps its name and identity.
    model = models.ForeignKey("llmcore.ModelConfig", models.SET_NULL, null=True, related_name="+")
    model_name = models.CharField(max_length=120)
    # sha256 of the model's backend, source, revision, dtype, device and 8-bit flag, and (once a worker
    # has run the model) the precision and decoding path it actually used: keys.model_identity.
    model_identity = models.CharField(max_length=64)
    # How the worker ran the model ("bfloat16" / "float32" / "remote"; "kernel" / "generate" / "http");
    # blank until its first batch. "mixed" when workers of different kinds ran its batches.
    precision = models.CharField(max_length=16, blank=True)
    decoding = models.CharField(max_length=16, blank=True)
    params = models.JSONField(default=dict)
    params_label = models.CharField(max_length=60, blank=True)
    params_hash = models.CharField(max_length=64)
    queue = models.CharField(max_length=20, default="cpu")
    total = models.PositiveIntegerField(default=0, help_text="Cases × repeats.")
    # What a user waits for one call, from a sample of cases run one at a time after the run finished
    # (experiments/latency.py): {"cases", "first_token_p50_s", "first_token_p95_s", "p50_s", "p95_s", ...}.
    single_latency = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["experiment_id", "id"]
        constraints = [
            # One run per cell of the grid.
            models.UniqueConstraint(
                fields=["experiment", "prompt_version", "model", "params_hash"], name="run_unique_cell"
            ),
        ]

    objects = RunQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prompt_version_id} × {self.model_name} × {self.params_label}"

    @property
    def percent(self) -> int:
        """Needs `with_progress()`."""
        return round(100 * self.generated / self.total) if self.total else 100

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def label(self) -> str:
        """ "Prompt v2 × model × parameters"; reads prompt_version.template (select_related it)."""
        return f"{self.prompt_version.label} × {self.model_name} × {self.params_label}"

    @property
    def params_summary(self) -> str:
        from llmcore.engine.params import InferenceParams

        from .params_text import describe_params

        return describe_params(InferenceParams.from_dict(self.params))

    @property
    def single_request(self) -> dict | None:
        """The measured single-request latency figures, or None while not (yet) measured."""
        figures = self.single_latency or {}
        return figures if figures.get("p95_s") is not None else None

    @property
    def single_request_measuring(self) -> bool:
        return (self.single_latency or {}).get("status") == "measuring"

    @property
    def batch_size(self) -> int:
        """Outputs generated together at most: what each output's in-batch latency was measured among."""
        return min(self.total, settings.ASSAY_EXPERIMENT_BATCH_ITEMS) or settings.ASSAY_EXPERIMENT_BATCH_ITEMS


class RunBatch(models.Model):
    """A slice of a run's (case version, repeat) items generated by one worker task in one engine call."""

    run = models.ForeignKey(Run, models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    items = models.JSONField(default=list)  # [[case_version_id, repeat], ...]
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    claimed = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="runbatch_unique_number"),
        ]
        indexes = [
            # Finalising a run: are any of its batches still queued or running?
            models.Index(fields=["run", "status"], name="runbatch_run_status"),
        ]

    def __str__(self) -> str:
        return f"batch {self.number} of run {self.run_id}"


class GenerationQuerySet(models.QuerySet):
    def result_rows(self, with_text: bool = False) -> list:
        """The facts results.py needs, one query, no model instances (output texts only if asked)."""
        from .results import Row

        fields = [
            "run_id", "case_version__case_id", "repeat", "passed", "weighted_score", "latency_s",
            "tokens_in", "tokens_out", "cost", "error",
        ]  # fmt: skip
        if with_text:
            fields.append("text")
        return [Row(*values) for values in self.values_list(*fields)]


class Generation(models.Model):
    """One output of one case version and repeat in a run; an error is kept apart from the score."""

    run = models.ForeignKey(Run, models.CASCADE, related_name="generations")
    case_version = models.ForeignKey(TestCaseVersion, models.RESTRICT, related_name="generations")
    repeat = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_s = models.FloatField(default=0.0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    finish_reason = models.CharField(max_length=10, blank=True)
    error = models.TextField(blank=True)
    # sha256 of (prompt version hash, model identity, parameters, case version, repeat): equal keys
    # mean an identical request, so an earlier output can be copied instead of generated again.
    cache_key = models.CharField(max_length=64)
    reused_from = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+")
    weighted_score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    scored = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["run_id", "case_version_id", "repeat"]
        constraints = [
            # Idempotent writes: a batch generated twice (worker killed, message redelivered) cannot
            # store a second output for the same case and repeat.
            models.UniqueConstraint(fields=["run", "case_version", "repeat"], name="generation_unique_item"),
        ]
        indexes = [
            # Cache lookups: WHERE cache_key IN (...) AND error = ''.
            models.Index(fields=["cache_key"], name="generation_cache_key"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} case {self.case_version_id} repeat {self.repeat}"

    @property
    def ok(self) -> bool:
        return not self.error


class Score(models.Model):
    """One scorer's verdict on one generation, with the scorer's version so old scores stay readable."""

    generation = models.ForeignKey(Generation, models.CASCADE, related_name="scores")
    position = models.PositiveSmallIntegerField(help_text="Index of the scorer in the experiment's list.")
    scorer = models.CharField(max_length=60)
    scorer_version = models.CharField(max_length=20)
    value = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    status = models.CharField(max_length=10, default="scored")  # scored | unparsed | error
    rationale = models.TextField(blank=True)
    weight = models.FloatField(default=1.0)
    threshold = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["generation_id", "position"]
        constraints = [
            # Scoring the same batch twice (retries) keeps one score per scorer.
            models.UniqueConstraint(fields=["generation", "position"], name="score_unique_scorer"),
        ]

    def __str__(self) -> str:
        return f"{self.scorer} on {self.generation_id}: {self.value}"


# Human review ------------------------------------------------------------------------------------


class ReviewVerdict(models.TextChoices):
    ACCEPT = "accept", "Accept"
    MINOR_EDIT = "minor_edit", "Minor edit"
    REJECT = "reject", "Reject"


class ReviewAssignment(models.Model):
    """An output a person is asked to review; two assignments of one output measure agreement."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    generation = models.ForeignKey(Generation, models.CASCADE, related_name="review_assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["generation_id", "reviewer_id"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "reviewer"], name="reviewassignment_unique"),
        ]
        indexes = [
            # A reviewer's queue: WHERE reviewer = ? (then the experiment's generations).
            models.Index(fields=["reviewer", "generation"], name="reviewassignment_queue"),
        ]


class HumanReview(models.Model):
    """A person's verdict on one output: accept as is, accept after a minor edit, or reject."""

    generation = models.ForeignKey(Generation, models.CASCADE, related_name="reviews")
    # Reviews are evidence: they outlive the reviewer's account.
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    verdict = models.CharField(max_length=12, choices=ReviewVerdict.choices)
    comment = models.TextField(blank=True)
    # For a minor edit: the output as the reviewer corrected it (blank when they did not change it).
    edited_text = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["generation_id", "created"]
        constraints = [
            # One verdict per person per output; reviewing again replaces it.
            models.UniqueConstraint(fields=["generation", "reviewer"], name="humanreview_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on {self.generation_id}"
