from __future__ import annotations

import pytest

from llmcore import tasks
from tests.factories import make_model_config

from .registry_fakes import install_fake_engine


@pytest.fixture
def sent(monkeypatch):
    """Captures apply_async calls instead of publishing to the broker."""
    calls: list[dict] = []
    monkeypatch.setattr(tasks.measure_model, "apply_async", lambda **kw: calls.append(kw))
    return calls


def test_cpu_models_are_routed_to_the_cpu_queue_and_cuda_models_to_the_gpu_queue(team):
    assert tasks.queue_for(make_model_config(team, name="Local")) == "cpu"
    assert tasks.queue_for(make_model_config(team, name="Big", device="cuda", dtype="float16")) == "gpu"
    hosted = make_model_config(
        team, name="Hosted", backend="openai-compatible", source="https://x.example/v1", remote_model="m"
    )
    assert tasks.queue_for(hosted) == "cpu"


def test_measure_model_runs_on_the_models_queue(team, owner, sent, django_capture_on_commit_callbacks):
    model = make_model_config(team, device="cuda")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_measurement(model, team=team, user=owner)
    assert sent[0]["queue"] == "gpu"
    assert sent[0]["kwargs"] == {"model_config_id": model.pk, "team_id": team.pk, "user_id": owner.pk}


def test_the_measure_task_stores_figures_in_process(team, monkeypatch):
    install_fake_engine(monkeypatch)
    model = make_model_config(team)
    figures = tasks.measure_model(model.pk, team.pk)
    model.refresh_from_db()
    assert figures["latency_s"] == model.measured_latency_s == 0.25
