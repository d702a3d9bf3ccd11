"""Log-likelihoods of whole texts under a local causal language model, in batches.

What the stereotype probe needs: for each sentence, the sum over its tokens of log p(token | the tokens
before it), the first token conditioned on the model's start token (BOS, else EOS) so every token of the
sentence is scored. One forward pass per batch of sentences (right-padded; padding is masked out of
attention and of the sum), sentences sorted by length so batches carry little padding.

On CPU, llama-architecture models run through the engine's LlamaKernel prefill (fused GEMMs, float32
residual stream): about three times faster than transformers' forward here, and closer to float32. Other
models use transformers' forward. This module keeps its own cache (the generation runtime may keep only
a decoding kernel without the logits of every position), bounded to the most recent model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .types import BackendKind, ModelSpec, ModelUnavailable

DEFAULT_BATCH = 64
_lock = threading.RLock()
_cached: dict[tuple, Loaded] = {}


@dataclass
class Loaded:
    tokenizer: object
    model: object
    kernel: object | None  # LlamaKernel when it applies


@dataclass(frozen=True)
class LogLikelihood:
    total: float  # natural log, summed over the text's tokens
    tokens: int

    @property
    def mean(self) -> float:
        return self.total / self.tokens if self.tokens else 0.0


def load(spec: ModelSpec) -> Loaded:
    """Tokenizer, model (and kernel) for a local spec, loaded once per process; raises ModelUnavailable for a
    remote model (an HTTP API gives no token log-probabilities for a given text)."""
    if BackendKind(spec.backend) == BackendKind.OPENAI_COMPATIBLE:
        raise ModelUnavailable(
            f"{spec.name} is reached over an OpenAI-compatible API, which does not return the likelihood "
            "of a given text; the stereotype probe needs a local model"
        )
    key = spec.cache_key
    with _lock:
        if key in _cached:
            return _cached[key]
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from . import local

        local.check_device(spec)
        if BackendKind(spec.backend) == BackendKind.GGUF:
            from .gguf import converted_folder, gguf_path

            location = str(converted_folder(gguf_path(spec)))
        else:
            location = local.locate(spec)
        kwargs = local.build_load_kwargs(spec)
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
        except OSError as exc:
            raise ModelUnavailable(f"cannot load {spec.name} from {location}: {exc}") from exc
        model.eval()
        kernel = None
        if spec.device == "cpu":
            from .llama_kernel import LlamaKernel, unsupported_reason

            if unsupported_reason(model) is None:
                kernel = LlamaKernel(model, kwargs["dtype"])
        _cached.clear()  # one model at a time: probes run one model after another
        _cached[key] = Loaded(tokenizer, model, kernel)
        return _cached[key]


def start_token(tokenizer) -> int:
    for value in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if isinstance(value, int):
            return value
    raise ModelUnavailable("the tokenizer has neither a BOS nor an EOS token to condition the first token on")


def sequence_logliks(
    spec: ModelSpec,
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> list[LogLikelihood]:
    """One LogLikelihood per text, in order. `progress(n)` is called after each batch with the number
    of texts done so far."""
    loaded = load(spec)
    return loglikelihoods(
        loaded.tokenizer, loaded.model, texts, batch_size=batch_size, progress=progress, kernel=loaded.kernel
    )


def loglikelihoods(
    tokenizer,
    model,
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress=None,
    kernel=None,
) -> list[LogLikelihood]:
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    start = start_token(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
    limit = int(getattr(model.config, "max_position_embeddings", 0) or 0) or 4096
    encoded = [[start, *tokenizer(text, add_special_tokens=False)["input_ids"]][:limit] for text in texts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[LogLikelihood | None] = [None] * len(encoded)
    device = next(model.parameters()).device
    done = 0
    for at in range(0, len(order), batch_size):
        chunk = order[at : at + batch_size]
        width = max(len(encoded[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        for row, index in enumerate(chunk):
            ids[row, : len(encoded[index])] = torch.tensor(encoded[index])
        with torch.inference_mode():
            # Right padding under a causal mask: no real token attends to the padding after it, so no
            # attention mask is needed (and the faster causal attention path is taken).
            if kernel is not None:
                logits = kernel._logits(kernel._prefill(ids, 0, None, [])).logits
            else:
                logits = model(input_ids=ids.to(device)).logits
            targets = ids[:, 1:].to(device)
            totals = []
            for row, index in enumerate(chunk):
                n = len(encoded[index]) - 1
                # Position t predicts token t+1: log p = logit[target] - logsumexp(logits), in float32.
                row_logits = logits[row, :n].float()
                picked = row_logits.gather(-1, targets[row, :n].unsqueeze(-1)).squeeze(-1)
                totals.append(float((picked - torch.logsumexp(row_logits, dim=-1)).sum()))
        for row, index in enumerate(chunk):
            results[index] = LogLikelihood(total=totals[row], tokens=len(encoded[index]) - 1)
        done += len(chunk)
        if progress is not None:
            progress(done)
    return results  # type: ignore[return-value]
