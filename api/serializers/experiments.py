from __future__ import annotations

from rest_framework import serializers

from experiments.models import Experiment, Generation, Run, Status


class ExperimentSerializer(serializers.ModelSerializer):
    dataset = serializers.UUIDField(source="dataset.code", read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    total = serializers.IntegerField(
        read_only=True, help_text="Outputs to generate (cases × repeats × runs)."
    )
    done = serializers.IntegerField(read_only=True, help_text="Outputs generated so far.")
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Experiment
        fields = [
            "code", "name", "description", "status", "message", "dataset", "dataset_name", "repeats",
            "total", "done", "percent", "created", "started", "finished",
        ]  # fmt: skip
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    prompt = serializers.CharField(source="prompt_version.template.name", read_only=True)
    prompt_version = serializers.IntegerField(source="prompt_version.number", read_only=True)
    model = serializers.CharField(source="model_name", read_only=True)
    params = serializers.CharField(source="params_label", read_only=True)
    generated = serializers.IntegerField(read_only=True)
    errors = serializers.IntegerField(read_only=True)
    scored = serializers.IntegerField(read_only=True)
    passed = serializers.IntegerField(source="passed_count", read_only=True)
    cost = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True, allow_null=True)
    mean_latency_s = serializers.FloatField(source="mean_latency", read_only=True, allow_null=True)

    class Meta:
        model = Run
        fields = [
            "code", "prompt", "prompt_version", "model", "params", "status", "message", "total", "generated",
            "errors", "scored", "passed", "cost", "mean_latency_s", "started", "finished",
        ]  # fmt: skip
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    generated = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    to_score = serializers.IntegerField()
    scored = serializers.IntegerField()
    scoring = serializers.BooleanField(help_text="Outputs are still being scored.")
    active = serializers.BooleanField(source="polling", help_text="Worth polling again.")


class ExperimentDetailSerializer(ExperimentSerializer):
    progress = ProgressSerializer(read_only=True)
    runs = RunSerializer(source="runs_list", many=True, read_only=True)

    class Meta(ExperimentSerializer.Meta):
        fields = [*ExperimentSerializer.Meta.fields, "progress", "runs"]
        read_only_fields = fields


class ExperimentFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)


class CancelResultSerializer(serializers.Serializer):
    cancelled_runs = serializers.IntegerField()
    experiment = ExperimentDetailSerializer()


class ScoreSerializer(serializers.Serializer):
    scorer = serializers.CharField()
    scorer_version = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    passed = serializers.BooleanField(allow_null=True)
    status = serializers.CharField()
    rationale = serializers.CharField()


class GenerationSerializer(serializers.ModelSerializer):
    run = serializers.UUIDField(source="run.code", read_only=True)
    case = serializers.CharField(source="case_version.case.key", read_only=True)
    case_version = serializers.IntegerField(source="case_version.number", read_only=True)
    output = serializers.CharField(source="text", read_only=True)
    scores = ScoreSerializer(many=True, read_only=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=6, read_only=True)

    class Meta:
        model = Generation
        fields = [
            "run", "case", "case_version", "repeat", "output", "error", "finish_reason", "tokens_in",
            "tokens_out", "latency_s", "cost", "weighted_score", "passed", "scores",
        ]  # fmt: skip
        read_only_fields = fields


class ResultFilters(serializers.Serializer):
    run = serializers.UUIDField(required=False, help_text="Only the outputs of this run (its code).")


class NewExperimentSerializer(serializers.Serializer):
    grid = serializers.JSONField(
        help_text="A grid, as in a grid file of `manage.py experiment run` (name, dataset with cases, prompts, "
        "models, params, scorers, repeats, reuse_cached): an object, or the YAML text of a file. The dataset "
        "and prompt versions are created or reused by content; each call makes a new experiment."
    )
    start = serializers.BooleanField(
        default=False, help_text="Start it at once (otherwise it stays a draft)."
    )
