"""Logits processing shared by the engine's decoding loop and transformers' `generate()`.

One order everywhere: repetition penalty -> frequency/presence penalties -> temperature -> top-k ->
top-p, then argmax (greedy) or a draw from the softmax. Penalties act in greedy decoding too.

- repetition_penalty (transformers semantics): for every token already present in the prompt or the
  output, a positive logit is divided by the penalty and a negative one multiplied by it.
- frequency/presence penalties (OpenAI semantics), over generated tokens only:
  logits[t] -= frequency_penalty * count[t] + presence_penalty * (count[t] > 0).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from .params import InferenceParams


def penalize(
    scores: torch.Tensor,
    params: InferenceParams,
    *,
    seen: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """scores [rows, V] float; seen [rows, V] bool (prompt + output); counts [rows, V] (output only)."""
    if params.repetition_penalty != 1.0 and seen is not None:
        penalized = torch.where(
            scores < 0, scores * params.repetition_penalty, scores / params.repetition_penalty
        )
        scores = torch.where(seen, penalized, scores)
    if (params.frequency_penalty or params.presence_penalty) and counts is not None:
        scores = (
            scores
            - params.frequency_penalty * counts
            - params.presence_penalty * (counts > 0).to(scores.dtype)
        )
    return scores


def warp(scores: torch.Tensor, params: InferenceParams) -> torch.Tensor:
    """Temperature, top-k and top-p (transformers semantics); removed tokens get -inf."""
    if params.greedy:
        return scores
    scores = scores / params.temperature
    if 0 < params.top_k < scores.shape[-1]:
        kth = torch.topk(scores, params.top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False, dim=-1)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - params.top_p)
        remove[..., -1:] = False  # always keep the most likely token
        scores = scores.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return scores


def choose(scores: torch.Tensor, params: InferenceParams, generator: torch.Generator | None) -> torch.Tensor:
    """Next token per row [rows]: argmax when greedy, else one draw from softmax(scores)."""
    if params.greedy:
        return scores.argmax(dim=-1)
    probs = scores.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def needs_seen(params: InferenceParams) -> bool:
    return params.repetition_penalty != 1.0


def needs_counts(params: InferenceParams) -> bool:
    return bool(params.frequency_penalty or params.presence_penalty)


class AssayLogitsProcessor(LogitsProcessor):
    """The same processing for transformers' generate() on a left-padded batch.

    generate() is called with its own penalties and warpers switched off, so this is the only
    processing applied and both generation paths agree. `pad_lengths[row]` left-padding tokens are
    excluded from the repetition penalty (transformers' own processor would penalise the pad token).
    """

    def __init__(self, params: InferenceParams, prompt_width: int, pad_lengths: list[int]):
        self.params = params
        self.prompt_width = prompt_width
        self.pad_lengths = torch.tensor(pad_lengths, dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float()
        rows, vocab = scores.shape
        seen = counts = None
        if needs_seen(self.params):
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            real = positions[None, :] >= self.pad_lengths.to(input_ids.device)[:, None]
            # Padding goes to a spare column that is dropped afterwards.
            ids = torch.where(real, input_ids, vocab)
            seen = torch.zeros((rows, vocab + 1), dtype=torch.bool, device=scores.device)
            seen.scatter_(1, ids, True)
            seen = seen[:, :vocab]
        if needs_counts(self.params):
            generated = input_ids[:, self.prompt_width :]
            counts = torch.zeros_like(scores)
            counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return warp(penalize(scores, self.params, seen=seen, counts=counts), self.params)
