"""Measured speed from every engine call: samples, the model's speed, estimates with a range."""

from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.estimates import CellInput, describe_duration, estimate_grid
from llmcore import services, throughput
from llmcore.engine import runtime
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import GenerationRequest
from llmcore.models import ThroughputSample
from tests.experiments.factories import make_model
from tests.llmcore.registry_fakes import install_fake_engine


def test_summary_is_the_median_of_warm_calls_with_their_range_and_the_load_time():
    samples = [  # newest first: (batch size, tokens out, seconds, cold)
        (256, 1000, 10.0, False),  # 100 tokens/s
        (256, 1000, 5.0, False),  # 200
        (256, 1000, 4.0, False),  # 250
        (256, 1000, 25.0, True),  # loaded the model: 5 s predicted at 200 tokens/s, so 20 s to load
    ]
    summary = throughput.summarise(samples)
    assert summary.tokens_per_s == pytest.approx(200)
    assert (summary.slowest, summary.fastest, summary.samples) == (pytest.approx(100), pytest.approx(250), 3)
    assert summary.load_s == pytest.approx(20)
    assert throughput.summarise([(1, 10, 2.0, True)]) is None  # only a cold call: not a speed


def test_every_engine_call_is_a_sample_and_updates_the_models_speed(team, monkeypatch):
    install_fake_engine(monkeypatch)
    model = make_model(team, "Measured")
    requests = [
        GenerationRequest.from_prompt(f"ticket {i}", InferenceParams(max_new_tokens=5)) for i in range(4)
    ]
    services.run_inference(model.pk, requests, team_id=team.pk, purpose="experiment")
    # The stand-in engine loads nothing: play a worker that has the model loaded since its first call.
    monkeypatch.setattr(runtime, "loaded_keys", lambda: [model.to_spec().cache_key])
    services.run_inference(model.pk, requests, team_id=team.pk, purpose="experiment")
    samples = list(ThroughputSample.objects.filter(model=model).order_by("id"))
    assert [(s.batch_size, s.tokens_out) for s in samples] == [(4, 20), (4, 20)]
    assert samples[0].cold and not samples[1].cold  # the first call of this process loaded it
    model.refresh_from_db()
    assert model.measured_tokens_per_s == pytest.approx(samples[1].tokens_per_s)
    assert model.measured_at is not None


def cell(**kwargs) -> CellInput:
    values = {
        "label": "v1 × model × greedy", "model_name": "model", "local": True, "tokens_per_s": None,
        "cost_per_1k_input": 0, "cost_per_1k_output": 0, "cost_per_hour": 0, "max_new_tokens": 50,
        "prompt_chars": 400,
    }  # fmt: skip
    values.update(kwargs)
    return CellInput(**values)


def test_estimates_come_with_a_range_from_the_measured_calls_and_the_load_time():
    measured = cell(
        tokens_per_s=100, slowest_tokens_per_s=50, fastest_tokens_per_s=200, measured_calls=12, load_s=30
    )
    estimate = estimate_grid([measured], cases=100, repeats=1)  # 5,000 tokens
    assert estimate.seconds == pytest.approx(80)  # 50 s at the median + 30 s load
    assert (estimate.seconds_low, estimate.seconds_high) == (pytest.approx(25), pytest.approx(130))
    assert describe_duration(estimate) == "about 1 min (25 s–2 min)"
    assert "median of 12 measured calls" in estimate.cells[0].formula
    assert "+ 30 s to load the model" in estimate.cells[0].formula

    guessed = estimate_grid([cell()], cases=100, repeats=1)
    assert "guess" in describe_duration(guessed)
    assert "not measured yet" in guessed.cells[0].formula


def test_the_model_page_shows_its_measured_calls(team, owner, client, django_assert_max_num_queries):
    model = make_model(team, "Measured")
    for seconds, cold in ((20.0, True), (2.0, False), (4.0, False)):
        ThroughputSample.objects.create(
            model=model, batch_size=64, tokens_out=400, seconds=seconds, cold=cold
        )
    client.force_login(owner)
    with django_assert_max_num_queries(16):
        page = client.get(reverse("model_detail", args=[team.slug, model.code])).text
    assert "Measured speed" in page and "median of 2 recent calls" in page
    assert "loaded the model" in page
