from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from llmcore import services
from llmcore.engine.types import GenerationRequest, ModelUnavailable
from llmcore.models import InferenceCall, ModelConfig
from tests.factories import make_model_config, make_team

from .registry_fakes import install_fake_engine


def prompts(*texts: str) -> list[GenerationRequest]:
    return [GenerationRequest.from_prompt(text, key=f"k{i}") for i, text in enumerate(texts)]


def test_run_inference_returns_results_and_logs_one_call_per_request(team, owner, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    model = make_model_config(team, name="Tiny")
    results = services.run_inference(
        model.pk,
        prompts("hello there", "two words"),
        team_id=team.pk,
        user_id=owner.pk,
        purpose="try",
        batch_size=8,
    )
    assert [r.text for r in results] == ["echo: hello there", "echo: two words"]
    [(spec, sent, batch_size)] = calls
    assert spec.name == "Tiny" and len(sent) == 2 and batch_size == 8
    logged = list(InferenceCall.objects.order_by("id"))
    assert [(c.team, c.user, c.model, c.outcome, c.purpose) for c in logged] == [
        (team, owner, model, "ok", "try"),
        (team, owner, model, "ok", "try"),
    ]
    assert (logged[0].tokens_in, logged[0].tokens_out, logged[0].cost) == (2, 5, Decimal("0.0015"))
    assert logged[0].latency_s == 0.25 and logged[0].model_name == "Tiny"


def test_one_failed_item_is_logged_as_an_error_with_its_message(team, monkeypatch):
    install_fake_engine(monkeypatch)
    model = make_model_config(team)
    results = services.run_inference(model.pk, prompts("fine", "FAIL please", "SLOW one"), team_id=team.pk)
    assert [r.ok for r in results] == [True, False, True]
    outcomes = list(InferenceCall.objects.order_by("id").values_list("outcome", "error"))
    assert outcomes == [("ok", ""), ("error", "prompt too long"), ("timeout", "")]


def test_a_missing_model_is_logged_for_every_request_and_raised(team, monkeypatch):
    def missing(spec, requests, batch_size=None):
        raise ModelUnavailable("No model files at /models/tiny: copy them there or fix the source.")

    install_fake_engine(monkeypatch, missing)
    model = make_model_config(team)
    with pytest.raises(ModelUnavailable):
        services.run_inference(model.pk, prompts("a", "b"), team_id=team.pk)
    assert list(InferenceCall.objects.values_list("outcome", flat=True)) == ["error", "error"]
    assert InferenceCall.objects.first().error.startswith("No model files at /models/tiny")


def test_a_model_is_never_called_inside_a_transaction(team, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    model = make_model_config(team)
    with pytest.raises(RuntimeError, match="inside a database transaction"), transaction.atomic():
        services.run_inference(model.pk, prompts("a"), team_id=team.pk)
    assert calls == []


def test_another_teams_model_cannot_be_run_for_this_team(team, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    theirs = make_model_config(make_team("Other", "other"))
    with pytest.raises(services.ModelNotAllowed, match="belongs to another team"):
        services.run_inference(theirs.pk, prompts("a"), team_id=team.pk)
    assert calls == []


def test_the_model_check_explains_a_role_restriction(team):
    hosted = make_model_config(team, name="Hosted", external=True, allowed_roles="admin")
    with pytest.raises(services.ModelNotAllowed) as caught:
        services.check_model_allowed(hosted, team, "editor")
    assert str(caught.value) == (
        "Hosted is an external model (data leaves the organisation) and only these roles may use it: admin."
    )
    services.check_model_allowed(hosted, team, "admin")
    services.check_model_allowed(hosted, team, None)  # system work on the team's behalf


def test_the_model_check_refuses_models_not_enabled_for_the_team(team):
    ModelConfig.objects.filter(team=None).update(available_to_all_teams=False)
    instance = ModelConfig.objects.get(name="SmolLM2-135M-Instruct")
    with pytest.raises(services.ModelNotAllowed, match="is not enabled for Acme Support"):
        services.check_model_allowed(instance, team, "admin")


def test_measuring_a_model_stores_its_latency_and_throughput(team, owner, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    model = make_model_config(team)
    measurement = services.measure_model(model.pk, team_id=team.pk, user_id=owner.pk)
    model.refresh_from_db()
    assert len(calls) == 2  # a one-token warm-up that loads the model, then the timed batch
    assert measurement.requests == len(services.MEASURE_PROMPTS)
    assert model.measured_latency_s == 0.25
    assert model.measured_tokens_per_s == pytest.approx(measurement.tokens_per_s)
    assert model.measured_tokens_per_s > 0 and model.measured_at is not None
    assert InferenceCall.objects.filter(purpose="measure").count() == 1 + len(services.MEASURE_PROMPTS)


def test_embedding_models_are_not_measured(team, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    model = make_model_config(team, modality="embedding")
    with pytest.raises(ValueError, match="only text generation models are measured"):
        services.measure_model(model.pk, team_id=team.pk)
    assert calls == []
