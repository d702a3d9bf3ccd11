from __future__ import annotations

from rest_framework import serializers

from llmcore.models import ModelConfig


class ModelSerializer(serializers.ModelSerializer):
    instance_wide = serializers.BooleanField(source="is_instance_wide", read_only=True)

    class Meta:
        model = ModelConfig
        fields = [
            "code", "name", "backend", "dtype", "device", "context_window", "parameter_count", "licence",
            "modality", "open_weights", "external", "is_active", "instance_wide", "cost_per_1k_input",
            "cost_per_1k_output", "cost_per_hour", "measured_tokens_per_s",
        ]  # fmt: skip
        read_only_fields = fields
