"""Warming a model in the worker before the first experiment asks for it."""

from __future__ import annotations

from llmcore import tasks
from llmcore.engine import runtime
from tests.experiments.factories import make_model


def test_warm_up_loads_and_runs_the_model_in_this_process(team, tiny_model_dir, engine_runtime):
    config = make_model(team, "Tiny llama", source=str(tiny_model_dir), dtype="float32", context_window=256)
    assert config.to_spec().cache_key not in runtime.loaded_keys()
    result = tasks.warm_up(config.pk)
    assert result["status"] == "warm" and result["first_batch_s"] > 0
    assert config.to_spec().cache_key in runtime.loaded_keys()  # the next experiment finds it loaded


def test_warm_up_without_the_model_is_a_no_op(db):
    assert tasks.warm_up(999_999) == {"status": "skipped", "reason": "no such model"}
