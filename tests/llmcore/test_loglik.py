"""Sequence log-likelihoods: batched, padded and sorted, they must equal an unbatched sum of log-probs."""

from __future__ import annotations

import math

import pytest

from llmcore.engine import loglik
from llmcore.engine.types import ModelSpec, ModelUnavailable

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world!",
    "Customers ask about refunds, invoices, delivery dates and passwords.",
    "A",
    "Numbers 0 1 2 3",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tests.llmcore.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("loglik-tiny"))


def _spec(folder, dtype="float32") -> ModelSpec:
    return ModelSpec(name="tiny", backend="transformers", source=str(folder), dtype=dtype, device="cpu")


def _reference(tokenizer, model, text: str) -> float:
    """One text at a time, no padding: sum of log p(token | previous) with transformers' forward."""
    import torch

    ids = [loglik.start_token(tokenizer), *tokenizer(text, add_special_tokens=False)["input_ids"]]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[t, ids[t + 1]]) for t in range(len(ids) - 1))


def test_batched_loglikelihoods_equal_one_at_a_time(tiny_dir):
    loaded = loglik.load(_spec(tiny_dir))
    assert loaded.kernel is not None  # a llama on CPU goes through the engine's kernel
    got = loglik.sequence_logliks(_spec(tiny_dir), TEXTS, batch_size=2)
    for text, value in zip(TEXTS, got, strict=True):
        assert value.total == pytest.approx(_reference(loaded.tokenizer, loaded.model, text), abs=1e-3)
        assert value.tokens == len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert value.total < 0


def test_the_transformers_path_gives_the_same_numbers(tiny_dir):
    loaded = loglik.load(_spec(tiny_dir))
    with_kernel = loglik.loglikelihoods(loaded.tokenizer, loaded.model, TEXTS, kernel=loaded.kernel)
    without = loglik.loglikelihoods(loaded.tokenizer, loaded.model, TEXTS, batch_size=3)
    for a, b in zip(with_kernel, without, strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-3)


def test_order_and_batch_size_do_not_change_results(tiny_dir):
    one = loglik.sequence_logliks(_spec(tiny_dir), TEXTS, batch_size=1)
    many = loglik.sequence_logliks(_spec(tiny_dir), list(reversed(TEXTS)), batch_size=64)
    for a, b in zip(one, reversed(many), strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-3)
        assert math.isfinite(a.mean)


def test_progress_is_reported_per_batch(tiny_dir):
    seen = []
    loglik.sequence_logliks(_spec(tiny_dir), TEXTS, batch_size=2, progress=seen.append)
    assert seen == [2, 4, 5]


def test_a_remote_model_is_refused_with_a_reason():
    spec = ModelSpec(name="hosted", backend="openai-compatible", source="http://example.invalid/v1")
    with pytest.raises(ModelUnavailable, match="local model"):
        loglik.load(spec)


def test_batch_size_must_be_positive(tiny_dir):
    loaded = loglik.load(_spec(tiny_dir))
    with pytest.raises(ValueError, match="batch_size"):
        loglik.loglikelihoods(loaded.tokenizer, loaded.model, TEXTS, batch_size=0)
