"""Fixtures for experiments: a tiny random llama (the engine helper's builder) registered as a team model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    from tests.llmcore.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("experiments-tiny-llama"))


@pytest.fixture
def tiny_model(team, tiny_llama_dir):
    """A transformers ModelConfig on the tiny model: real engine, real tokens, milliseconds per batch."""
    from tests.experiments.factories import make_model

    return make_model(team, "Tiny llama", source=str(tiny_llama_dir), dtype="float32", context_window=256)
