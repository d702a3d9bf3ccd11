"""Prompt templates and their immutable versions; datasets and their versioned test cases."""

from __future__ import annotations

from rest_framework import serializers

from experiments.models import Dataset, PromptTemplate, PromptVersion, TestCaseVersion
from experiments.rendering import Technique


class ExampleSerializer(serializers.Serializer):
    input = serializers.JSONField(help_text="Literal text for the user turn, or an object of variables.")
    output = serializers.CharField(allow_blank=True, max_length=20_000)


class PromptContentSerializer(serializers.Serializer):
    """What a version holds; the same content gives the same version (its content hash)."""

    instruction = serializers.CharField(max_length=50_000)
    system_prompt = serializers.CharField(allow_blank=True, required=False, default="", max_length=50_000)
    technique = serializers.ChoiceField(choices=PromptVersion.TECHNIQUES, default=Technique.ZERO_SHOT)
    examples = ExampleSerializer(many=True, required=False, default=list)
    output_format = serializers.CharField(allow_blank=True, required=False, default="", max_length=10_000)


class PromptVersionSerializer(serializers.ModelSerializer):
    examples = ExampleSerializer(many=True, read_only=True)

    class Meta:
        model = PromptVersion
        fields = [
            "code", "number", "content_hash", "system_prompt", "instruction", "technique", "examples",
            "output_format", "change_note", "created",
        ]  # fmt: skip
        read_only_fields = fields


class NewVersionSerializer(PromptContentSerializer):
    change_note = serializers.CharField(allow_blank=True, required=False, default="", max_length=300)


class PromptSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(
        slug_field="code", queryset=Dataset.objects.none(), allow_null=True, required=False,
        help_text="The code of the dataset whose variables the prompt must use (optional).",
    )  # fmt: skip
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = PromptTemplate
        fields = ["code", "name", "description", "dataset", "latest_version", "created"]
        read_only_fields = ["code", "created"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        team = self.context.get("team")
        if team is not None:
            self.fields["dataset"].queryset = Dataset.objects.filter(team=team)


class NewPromptSerializer(PromptSerializer):
    content = PromptContentSerializer(write_only=True, help_text="The first version.")

    class Meta(PromptSerializer.Meta):
        fields = [*PromptSerializer.Meta.fields, "content"]


class PromptDetailSerializer(PromptSerializer):
    versions = PromptVersionSerializer(source="versions_list", many=True, read_only=True)

    class Meta(PromptSerializer.Meta):
        fields = [*PromptSerializer.Meta.fields, "versions"]


class DatasetSerializer(serializers.ModelSerializer):
    case_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["code", "name", "description", "case_count", "created"]
        read_only_fields = ["code", "created"]


class CaseSerializer(serializers.ModelSerializer):
    """A test case as its current version."""

    code = serializers.UUIDField(source="case.code", read_only=True)
    key = serializers.CharField(source="case.key", read_only=True)
    version = serializers.IntegerField(source="number", read_only=True)
    input = serializers.JSONField(source="inputs", read_only=True)
    sensitive = serializers.JSONField(source="sensitive_attributes", read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = TestCaseVersion
        fields = ["code", "key", "version", "input", "expected_output", "expected_label", "sensitive", "tags"]
        read_only_fields = fields


class CaseImportSerializer(serializers.Serializer):
    cases = serializers.ListField(
        child=serializers.DictField(child=serializers.JSONField()),
        min_length=1,
        max_length=10_000,
        help_text="Test cases, each like a line of the JSONL import (key, input, expected_output, "
        "expected_label, sensitive, tags). Known keys get a new version when their content changed.",
    )


class CaseImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
