"""The exposure pre-screen, read only: its latest run and its predictions with what explains them."""

from __future__ import annotations

from rest_framework import serializers

from opportunities.models import Exposure, ExposurePrediction, TriageRun
from opportunities.triage import classifier


class TriageRunSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    model = serializers.CharField(source="model.name", read_only=True, allow_null=True, default=None)
    quality = serializers.DictField(
        read_only=True, help_text="What the run measured on the team's labels (empty before it is done)."
    )

    class Meta:
        model = TriageRun
        fields = [
            "status", "stage", "done", "total", "percent", "method", "model", "quality", "predicted", "message",
            "created", "finished",
        ]  # fmt: skip
        read_only_fields = fields


class NeighbourSerializer(serializers.Serializer):
    task = serializers.UUIDField(help_text="The labelled task's code.")
    label = serializers.ChoiceField(choices=Exposure.choices)
    similarity = serializers.FloatField()


class PredictionSerializer(serializers.ModelSerializer):
    task = serializers.UUIDField(source="task.code", read_only=True)
    statement = serializers.CharField(source="task.statement", read_only=True)
    method_name = serializers.SerializerMethodField()
    probabilities = serializers.DictField(child=serializers.FloatField(), read_only=True)
    neighbours = serializers.SerializerMethodField()

    class Meta:
        model = ExposurePrediction
        fields = [
            "task", "statement", "label", "confidence", "method", "method_name", "probabilities", "rationale",
            "neighbours",
        ]  # fmt: skip
        read_only_fields = fields

    def get_method_name(self, prediction: ExposurePrediction) -> str:
        if prediction.method == classifier.METHOD_CODE:
            return classifier.METHOD
        model = prediction.run.model
        return model.name if model is not None else "a model"

    def get_neighbours(self, prediction: ExposurePrediction) -> NeighbourSerializer(many=True):  # type: ignore[valid-type]
        """The most similar labelled tasks, most similar first (tasks deleted since are left out)."""
        codes = self.context.get("task_codes", {})
        return [
            {"task": codes[task_id], "label": label, "similarity": similarity}
            for task_id, label, similarity in prediction.neighbours[: self.context.get("neighbours", 5)]
            if task_id in codes
        ]


class PredictionFilters(serializers.Serializer):
    label = serializers.ChoiceField(
        choices=Exposure.choices, required=False, help_text="Only this predicted label."
    )
