"""The engine's entry points: generate(), get_backend(), unload_all().

Each process keeps loaded models in an LRU cache bounded by MODEL_MEMORY_BUDGET_MB: a model is loaded
once and reused by every later call; loading a model that does not fit unloads the least recently used
ones first. Remote (openai-compatible) backends hold no model and are not cached.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from . import conf
from .params import InferenceParams
from .types import (
    Backend,
    BackendKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
    Progress,
    ProgressReporter,
)

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_loaded: OrderedDict[tuple, object] = OrderedDict()  # cache key -> local.LoadedModel, oldest first


def generate(
    spec: ModelSpec,
    requests: Sequence[GenerationRequest],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> list[GenerationResult]:
    """One result per request, in order. Requests are grouped by parameters and generated in batches
    (batch_size: sequences decoded at once; None lets the backend choose). Cost is filled in from the
    spec's rates: tokens x price per 1k, plus wall time x hourly rate shared by the items finished in
    the same interval in proportion to their tokens.

    With a progress, finished results are reported as the call goes (every ASSAY_PROGRESS_INTERVAL_S),
    each once and priced, and its cancelled() is asked about once a second: when it says stop, the
    requests not finished come back with finish_reason=cancelled (and are not reported)."""
    requests = list(requests)
    backend = get_backend(spec)
    results: list[GenerationResult | None] = [None] * len(requests)
    groups: dict[InferenceParams, list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(request.params, []).append(index)
    for indices in groups.values():
        priced = _PricedProgress(spec, progress)
        interval = conf.progress_interval_s()
        reporter = ProgressReporter(
            priced if progress is not None else None, interval_s=interval, poll_s=min(1.0, interval)
        )
        group_results = backend.generate(
            [requests[i] for i in indices], batch_size=batch_size, reporter=reporter
        )
        reporter.flush()
        priced.finish(group_results)
        for index, result in zip(indices, group_results, strict=True):
            results[index] = result
    return results  # type: ignore[return-value]


class _PricedProgress:
    """Prices results as they are reported (the time since the previous report is shared by the
    results it brought), then passes them on."""

    def __init__(self, spec: ModelSpec, progress: Progress | None):
        self.spec = spec
        self.progress = progress
        self.mark = time.perf_counter()
        self.reported: set[int] = set()

    def report(self, results: list[GenerationResult]) -> None:
        self._price(results)
        self.reported.update(id(result) for result in results)
        if self.progress is not None:
            self.progress.report(results)

    def cancelled(self) -> bool:
        return self.progress is not None and self.progress.cancelled()

    def finish(self, results: list[GenerationResult]) -> None:
        """The results not reported yet (finished last, or failed before generating)."""
        rest = [
            result
            for result in results
            if id(result) not in self.reported and result.finish_reason != FinishReason.CANCELLED
        ]
        if rest:
            self.report(rest)

    def _price(self, results: list[GenerationResult]) -> None:
        now = time.perf_counter()
        elapsed, self.mark = now - self.mark, now
        for result, cost in zip(results, item_costs(self.spec, results, elapsed), strict=True):
            result.cost = cost


def item_costs(spec: ModelSpec, results: list[GenerationResult], elapsed_s: float) -> list[float]:
    """Per item: tokens x price per 1k tokens, plus its token share of elapsed time x hourly rate."""
    weights = [max(r.tokens_in, 0) + max(r.tokens_out, 0) for r in results]
    total_weight = sum(weights)
    time_cost = elapsed_s * spec.cost_per_hour / 3600
    costs = []
    for result, weight in zip(results, weights, strict=True):
        share = weight / total_weight if total_weight else 1 / len(results)
        token_cost = (
            result.tokens_in / 1000 * spec.cost_per_1k_input
            + result.tokens_out / 1000 * spec.cost_per_1k_output
        )
        costs.append(token_cost + time_cost * share)
    return costs


def get_backend(spec: ModelSpec) -> Backend:
    """A backend for this spec; local models are loaded once per process and kept (LRU by memory)."""
    kind = BackendKind(spec.backend)
    if kind == BackendKind.OPENAI_COMPATIBLE:
        from .openai_compat import OpenAICompatibleBackend

        return OpenAICompatibleBackend(spec)
    from .local import TransformersBackend

    return TransformersBackend(spec, _load(spec))


@dataclass(frozen=True)
class ExecutionProfile:
    """How this worker actually runs a model: the precision of its matmuls ("bfloat16", "float32", …;
    "remote" for an HTTP backend) and the decoding path ("kernel": the engine's own loop; "generate":
    transformers' generate(); "http"). Outputs are only interchangeable between equal profiles."""

    precision: str
    decoding: str


def execution_profile(spec: ModelSpec) -> ExecutionProfile:
    """Loads the model if this process has not yet (it is about to generate with it anyway)."""
    if BackendKind(spec.backend) == BackendKind.OPENAI_COMPATIBLE:
        return ExecutionProfile("remote", "http")
    loaded = _load(spec)
    precision = str(loaded.dtype).removeprefix("torch.")
    return ExecutionProfile(precision, "kernel" if loaded.kernel is not None else "generate")


def _load(spec: ModelSpec):
    from . import local

    key = spec.cache_key
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        local.check_device(spec)
        if BackendKind(spec.backend) == BackendKind.GGUF:
            from .gguf import converted_folder, gguf_path

            location = str(converted_folder(gguf_path(spec)))
        else:
            location = local.locate(spec)
        _make_room(local.estimate_bytes(spec, location))
        loaded = local.load_pretrained(location, spec)
        _loaded[key] = loaded
        _make_room(0, keep=key)
        logger.info("loaded %s (%.0f MB) from %s", spec.name, loaded.nbytes / 2**20, location)
        return loaded


def _make_room(incoming: int, keep: tuple | None = None) -> None:
    budget = conf.memory_budget_bytes()
    while _loaded:
        used = sum(loaded.nbytes for loaded in _loaded.values())
        if used + incoming <= budget:
            return
        oldest = next(iter(_loaded))
        if oldest == keep:
            if len(_loaded) == 1:
                logger.warning("%s alone exceeds the model memory budget (%d MB)", keep, budget // 2**20)
                return
            _loaded.move_to_end(oldest)
            continue
        _loaded.pop(oldest)
        logger.info("unloaded %s to stay within the model memory budget", oldest)
        gc.collect()


def loaded_keys() -> list[tuple]:
    """Cache keys of the models loaded in this process, least recently used first."""
    with _lock:
        return list(_loaded)


def unload_all() -> None:
    with _lock:
        _loaded.clear()
    gc.collect()
