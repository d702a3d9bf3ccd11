from __future__ import annotations

import pytest

from llmcore import tasks
from llmcore.engine.types import GenerationRequest, ModelUnavailable, TransientBackendError
from llmcore.models import InferenceCall
from llmcore.services import ModelNotAllowed, request_to_dict
from tests.factories import make_model_config

from .registry_fakes import echo_generate, install_fake_engine


def payload(*texts: str) -> list[dict]:
    return [request_to_dict(GenerationRequest.from_prompt(t, key=f"k{i}")) for i, t in enumerate(texts)]


@pytest.fixture
def sent(monkeypatch):
    """Captures apply_async calls instead of publishing to the broker."""
    calls: list[dict] = []
    monkeypatch.setattr(tasks.generate_batch, "apply_async", lambda **kw: calls.append(kw))
    monkeypatch.setattr(tasks.measure_model, "apply_async", lambda **kw: calls.append(kw))
    return calls


def test_cpu_models_are_routed_to_the_cpu_queue_and_cuda_models_to_the_gpu_queue(team):
    assert tasks.queue_for(make_model_config(team, name="Local")) == "cpu"
    assert tasks.queue_for(make_model_config(team, name="Big", device="cuda", dtype="float16")) == "gpu"
    hosted = make_model_config(
        team, name="Hosted", backend="openai-compatible", source="https://x.example/v1", remote_model="m"
    )
    assert tasks.queue_for(hosted) == "cpu"


def test_enqueue_sends_the_batch_to_the_models_queue_after_commit(
    team, editor, sent, django_capture_on_commit_callbacks
):
    gpu_model = make_model_config(team, name="Big", device="cuda", load_in_8bit=True)
    with django_capture_on_commit_callbacks() as callbacks:
        result = tasks.enqueue_generation(
            gpu_model,
            [GenerationRequest.from_prompt("hi", key="a")],
            team=team,
            user=editor,
            purpose="experiment",
        )
        assert sent == []  # nothing is published before the transaction commits
    for callback in callbacks:
        callback()
    [call] = sent
    assert call["queue"] == "gpu" and call["task_id"] == result.id
    assert call["kwargs"]["model_config_id"] == gpu_model.pk
    assert call["kwargs"]["requests"][0]["messages"] == [{"role": "user", "content": "hi"}]
    assert (call["kwargs"]["team_id"], call["kwargs"]["user_id"]) == (team.pk, editor.pk)


def test_enqueue_refuses_an_external_model_the_users_role_may_not_use(
    team, viewer, sent, django_capture_on_commit_callbacks
):
    hosted = make_model_config(team, name="Hosted", external=True, allowed_roles="admin,editor")
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ModelNotAllowed, match="only these roles"),
    ):
        tasks.enqueue_generation(hosted, [GenerationRequest.from_prompt("secret")], team=team, user=viewer)
    assert sent == []


def test_enqueue_refuses_someone_outside_the_team(team, stranger, sent):
    with pytest.raises(ModelNotAllowed, match="is not a member"):
        tasks.enqueue_generation(
            make_model_config(team), [GenerationRequest.from_prompt("x")], team=team, user=stranger
        )


def test_generate_batch_runs_in_process_and_returns_plain_dicts(team, owner, monkeypatch):
    install_fake_engine(monkeypatch)
    model = make_model_config(team)
    results = tasks.generate_batch(model.pk, payload("hello", "FAIL"), team.pk, owner.pk, "experiment")
    assert results[0] == {
        "key": "k0",
        "text": "echo: hello",
        "finish_reason": "stop",
        "tokens_in": 1,
        "tokens_out": 5,
        "latency_s": 0.25,
        "cost": 0.0015,
        "error": "",
    }
    assert results[1]["finish_reason"] == "error" and results[1]["error"] == "prompt too long"
    assert list(InferenceCall.objects.order_by("id").values_list("outcome", "user", "purpose")) == [
        ("ok", owner.pk, "experiment"),
        ("error", owner.pk, "experiment"),
    ]


def test_a_transient_backend_error_is_retried_until_it_succeeds(team, monkeypatch):
    attempts = []

    def flaky(spec, requests, batch_size=None):
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientBackendError("HTTP 429 Too Many Requests")
        return echo_generate(spec, requests)

    install_fake_engine(monkeypatch, flaky)
    model = make_model_config(team)
    result = tasks.generate_batch.apply(
        kwargs={"model_config_id": model.pk, "requests": payload("hi"), "team_id": team.pk}
    )
    assert result.successful() and result.result[0]["text"] == "echo: hi"
    assert len(attempts) == 3
    # every attempt is a call: two logged failures, then the success
    assert list(InferenceCall.objects.order_by("id").values_list("outcome", flat=True)) == [
        "error",
        "error",
        "ok",
    ]


def test_transient_errors_give_up_after_the_retry_cap(team, monkeypatch):
    def always_busy(spec, requests, batch_size=None):
        raise TransientBackendError("HTTP 503")

    install_fake_engine(monkeypatch, always_busy)
    model = make_model_config(team)
    result = tasks.generate_batch.apply(
        kwargs={"model_config_id": model.pk, "requests": payload("hi"), "team_id": team.pk}
    )
    assert result.failed() and isinstance(result.result, TransientBackendError)
    assert InferenceCall.objects.count() == tasks.generate_batch.max_retries + 1


def test_a_permanent_failure_comes_back_as_error_results_without_retrying(team, monkeypatch):
    attempts = []

    def missing(spec, requests, batch_size=None):
        attempts.append(1)
        raise ModelUnavailable("No GGUF file at /models/x.gguf")

    install_fake_engine(monkeypatch, missing)
    model = make_model_config(team)
    results = tasks.generate_batch(model.pk, payload("a", "b"), team.pk)
    assert [r["error"] for r in results] == ["No GGUF file at /models/x.gguf"] * 2
    assert len(attempts) == 1


def test_a_batch_for_a_deleted_model_returns_errors(team, monkeypatch):
    calls = install_fake_engine(monkeypatch)
    model = make_model_config(team)
    model_id = model.pk
    model.delete()
    results = tasks.generate_batch(model_id, payload("a"), team.pk)
    assert results[0]["error"] == "The model was deleted before this batch ran." and calls == []


def test_generate_batch_acks_late_with_time_limits_and_retries_only_transient_errors():
    task = tasks.generate_batch
    assert task.acks_late is True
    assert task.autoretry_for == (TransientBackendError,)
    assert task.soft_time_limit < task.time_limit
    assert task.max_retries == 5 and task.retry_backoff


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


def test_generate_batch_runs_the_real_engine_on_a_tiny_local_model(team, tiny_model_dir, engine_runtime):
    model = make_model_config(team, name="Tiny llama", source=str(tiny_model_dir), dtype="float32")
    params = {"max_new_tokens": 4}
    requests = [
        {"key": f"k{i}", "messages": [{"role": "user", "content": text}], "params": params}
        for i, text in enumerate(["hello there", "the quick brown fox"])
    ]
    results = tasks.generate_batch(model.pk, requests, team.pk, None, "experiment")
    assert [r["key"] for r in results] == ["k0", "k1"]
    assert all(r["finish_reason"] in ("stop", "length") and r["tokens_in"] > 0 for r in results)
    logged = list(InferenceCall.objects.order_by("id"))
    assert [c.outcome for c in logged] == ["ok", "ok"]
    assert all(c.cost > 0 and c.latency_s > 0 for c in logged)  # local model: hardware-hour rate
