"""The engine says how it runs a model: the precision it resolved and its decoding path."""

from __future__ import annotations

import pytest

from llmcore.engine import runtime
from llmcore.engine.types import ModelSpec


def spec(folder, **fields) -> ModelSpec:
    return ModelSpec(name="Tiny", backend="transformers", source=str(folder), **fields)


def test_a_float32_llama_runs_in_float32_on_the_engines_own_loop(tiny_model_dir, engine_runtime):
    assert runtime.execution_profile(spec(tiny_model_dir, dtype="float32")) == runtime.ExecutionProfile(
        "float32", "kernel"
    )


def test_an_architecture_the_kernel_does_not_cover_decodes_with_generate(tiny_gpt2_dir, engine_runtime):
    profile = runtime.execution_profile(spec(tiny_gpt2_dir, dtype="float32"))
    assert profile == runtime.ExecutionProfile("float32", "generate")


@pytest.mark.parametrize("native_bf16, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_resolves_to_what_this_cpu_computes_natively(
    tiny_model_dir, engine_runtime, monkeypatch, native_bf16, expected
):
    from llmcore.engine import local

    monkeypatch.setattr(local, "_cpu_has_fast_bf16", lambda: native_bf16)
    assert runtime.execution_profile(spec(tiny_model_dir, dtype="auto")).precision == expected


def test_hosted_models_are_remote():
    hosted = ModelSpec(name="Hosted", backend="openai-compatible", source="http://127.0.0.1:9/v1")
    assert runtime.execution_profile(hosted) == runtime.ExecutionProfile("remote", "http")
