"""Inference parameters in the words people use, for pages and reports."""

from __future__ import annotations

from llmcore.engine.params import InferenceParams


def describe_params(p: InferenceParams) -> str:
    """Every parameter: "temperature 0 (greedy), max new tokens 8, top-p 1, top-k off, …"."""
    parts = [
        f"temperature {p.temperature:g}" + (" (greedy)" if p.temperature == 0 else ""),
        f"max new tokens {p.max_new_tokens}",
        f"top-p {p.top_p:g}",
        f"top-k {p.top_k}" if p.top_k else "top-k off",
        f"repetition penalty {p.repetition_penalty:g}",
        f"frequency penalty {p.frequency_penalty:g}",
        f"presence penalty {p.presence_penalty:g}",
        f"seed {p.seed}" if p.seed is not None else "no seed",
        f"timeout {p.timeout_s:g} s",
        ("stops at " + ", ".join(repr(s) for s in p.stop)) if p.stop else "no stop sequences",
    ]
    return ", ".join(parts)
