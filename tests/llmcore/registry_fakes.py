"""A stand-in for llmcore.engine.runtime.generate, for registry, usage and task tests.

Real-engine coverage lives with the engine's own tests; here we need fast, predictable results.
"""

from __future__ import annotations

from llmcore.engine import runtime
from llmcore.engine.types import FinishReason, GenerationResult


def echo_generate(spec, requests, batch_size=None):
    """'echo: <prompt>'; a prompt containing FAIL errors alone, one containing SLOW times out."""
    results = []
    for request in requests:
        prompt = request.messages[-1].content
        tokens_in = len(prompt.split())
        if "FAIL" in prompt:
            results.append(
                GenerationResult(
                    request.key, "", FinishReason.ERROR, tokens_in, 0, 0.01, 0.0, "prompt too long"
                )
            )
        elif "SLOW" in prompt:
            results.append(GenerationResult(request.key, "par", FinishReason.TIMEOUT, tokens_in, 1, 2.0, 0.0))
        else:
            results.append(
                GenerationResult(
                    request.key, f"echo: {prompt}", FinishReason.STOP, tokens_in, 5, 0.25, 0.0015
                )
            )
    return results


def install_fake_engine(monkeypatch, generate=echo_generate) -> list:
    """Replaces runtime.generate; returns a list that records each call's (spec, requests, batch_size)."""
    calls: list = []

    def recording(spec, requests, batch_size=None, progress=None):
        calls.append((spec, list(requests), batch_size))
        return generate(spec, requests, batch_size=batch_size)

    monkeypatch.setattr(runtime, "generate", recording)
    # The stand-in runs every model the same way; a test may patch this again to play another worker.
    monkeypatch.setattr(
        runtime, "execution_profile", lambda spec: runtime.ExecutionProfile("float32", "fake")
    )
    return calls
