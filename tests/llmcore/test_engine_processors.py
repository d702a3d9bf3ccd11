"""Logits processing on plain tensors: the penalties do exactly what their definitions say."""

from __future__ import annotations

import pytest
import torch

from llmcore.engine.params import InferenceParams
from llmcore.engine.processors import AssayLogitsProcessor, choose, penalize, warp


def test_frequency_and_presence_penalties_follow_openai_semantics():
    scores = torch.tensor([[2.0, 1.0, -1.0, 0.5]])
    counts = torch.tensor([[3.0, 1.0, 0.0, 0.0]])
    params = InferenceParams(frequency_penalty=0.5, presence_penalty=0.25)
    penalized = penalize(scores, params, counts=counts)
    # logits[t] -= frequency * count[t] + presence * (count[t] > 0)
    assert penalized.tolist() == [[2.0 - 1.5 - 0.25, 1.0 - 0.5 - 0.25, -1.0, 0.5]]


def test_negative_penalties_encourage_repeats():
    scores = torch.tensor([[1.0, 1.0]])
    penalized = penalize(scores, InferenceParams(frequency_penalty=-1.0), counts=torch.tensor([[2.0, 0.0]]))
    assert penalized.tolist() == [[3.0, 1.0]]


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens():
    scores = torch.tensor([[2.0, -2.0, 2.0]])
    seen = torch.tensor([[True, True, False]])
    penalized = penalize(scores, InferenceParams(repetition_penalty=2.0), seen=seen)
    assert penalized.tolist() == [[1.0, -4.0, 2.0]]


def test_neutral_parameters_leave_scores_untouched():
    scores = torch.randn(2, 7)
    out = warp(penalize(scores, InferenceParams(), seen=None, counts=None), InferenceParams())
    assert torch.equal(out, scores)


def test_top_k_keeps_the_k_best_tokens():
    scores = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    out = warp(scores, InferenceParams(temperature=1.0, top_k=2))
    assert torch.isinf(out[0, [0, 3]]).all() and out[0, [1, 2]].tolist() == [4.0, 3.0]


def test_top_p_keeps_the_smallest_set_reaching_the_probability():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    out = warp(probs.log(), InferenceParams(temperature=1.0, top_p=0.7))
    assert torch.isfinite(out[0]).tolist() == [True, True, False, False]


def test_temperature_divides_the_scores():
    out = warp(torch.tensor([[1.0, 2.0]]), InferenceParams(temperature=0.5))
    assert out.tolist() == [[2.0, 4.0]]


def test_greedy_takes_the_argmax_and_sampling_follows_the_generator():
    scores = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    assert choose(scores, InferenceParams(), None).tolist() == [1, 0]
    sampled = InferenceParams(temperature=1.0)
    first = choose(scores, sampled, torch.Generator().manual_seed(1))
    assert torch.equal(first, choose(scores, sampled, torch.Generator().manual_seed(1)))


def test_the_generate_processor_counts_generated_tokens_and_ignores_left_padding():
    pad = 0
    # Row 0 is padded by two tokens; prompts end at column 4, then two generated tokens.
    input_ids = torch.tensor([[pad, pad, 5, 6, 7, 7], [1, 2, 3, 4, 2, 9]])
    params = InferenceParams(repetition_penalty=2.0, frequency_penalty=1.0)
    processor = AssayLogitsProcessor(params, prompt_width=4, pad_lengths=[2, 0])
    out = processor(input_ids, torch.ones(2, 10))
    # Row 0: seen {5, 6, 7} -> 0.5; token 7 generated twice -> -2; the pad token 0 is not penalised.
    assert out[0].tolist() == pytest.approx([1, 1, 1, 1, 1, 0.5, 0.5, 0.5 - 2, 1, 1])
    # Row 1: seen {1, 2, 3, 4, 9}; generated 2 and 9 once each.
    assert out[1].tolist() == pytest.approx([1, 0.5, 0.5 - 1, 0.5, 0.5, 1, 1, 1, 1, 0.5 - 1])
