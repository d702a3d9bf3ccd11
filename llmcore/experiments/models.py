from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Team

from .rendering import Example, PromptContent, Technique


class PromptTemplate(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="prompt_templates")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
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
    description = models.TextField(blank=True)
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
    case_version = models.ForeignKey(TestCaseVersion, models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "case_version"], name="snapshotentry_unique"),
        ]
