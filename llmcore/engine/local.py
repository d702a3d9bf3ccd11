"""The `transformers` backend: a local safetensors folder or a hub id already in the local cache.

Loading never downloads (local_files_only=True). On CPU, llama-architecture models decode through the
engine's own batched loop (llama_kernel + decoding: shared-prefix prefill, slot cache, continuous
refill); every other model, and every CUDA model, goes through transformers' generate() on a
left-padded batch with the same logits processing (processors.AssayLogitsProcessor), a deadline
StoppingCriteria and a stop-sequence StoppingCriteria.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from . import conf
from .decoding import Item, Outcome, TextTracker, generate_batched
from .defaults import resolve_source
from .llama_kernel import LlamaKernel, unsupported_reason
from .params import InferenceParams
from .processors import AssayLogitsProcessor
from .types import (
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
    ModelUnavailable,
    ProgressReporter,
)

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Sequences decoded at once by default: the engine's loop on CPU, generate() elsewhere.
DEFAULT_ROWS_CPU = 128
DEFAULT_BATCH_GENERATE = 32
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class InvalidModelSpec(ValueError):
    """The model's settings cannot work on this worker (e.g. 8-bit loading on a CPU)."""


def resolve_dtype(spec: ModelSpec) -> torch.dtype:
    """'auto': bfloat16 on CPUs with native bf16 matmuls (AVX-512 BF16/AMX) and on GPUs that support it,
    float16 on other GPUs, float32 otherwise."""
    if spec.dtype in DTYPES:
        return DTYPES[spec.dtype]
    if spec.dtype != "auto":
        raise InvalidModelSpec(f"dtype must be one of auto, {', '.join(DTYPES)}; got {spec.dtype!r}")
    if spec.device == "cuda":
        return (
            torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float16
        )
    return torch.bfloat16 if _cpu_has_fast_bf16() else torch.float32


def _cpu_has_fast_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_device(spec: ModelSpec) -> None:
    if spec.device not in ("cpu", "cuda"):
        raise InvalidModelSpec(f"device must be cpu or cuda, got {spec.device!r}")
    if spec.load_in_8bit and spec.device != "cuda":
        raise InvalidModelSpec(
            f"{spec.name}: 8-bit loading needs a CUDA GPU (bitsandbytes); this model is set to run on "
            f"{spec.device}. Switch 8-bit loading off or set the device to cuda."
        )
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable(
            f"{spec.name} is set to run on cuda but this worker sees no CUDA GPU "
            "(torch.cuda.is_available() is False). Run it on a GPU worker (queue gpu) or set the device to cpu."
        )


def build_load_kwargs(spec: ModelSpec) -> dict:
    """Keyword arguments for from_pretrained; pure, so the GPU path is testable without a GPU."""
    kwargs: dict = {"local_files_only": True, "dtype": resolve_dtype(spec)}
    if spec.revision:
        kwargs["revision"] = spec.revision
    if spec.device == "cuda":
        kwargs["device_map"] = "cuda"
        if spec.load_in_8bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
            kwargs["dtype"] = torch.float16
    elif spec.load_in_8bit:
        raise InvalidModelSpec(f"{spec.name}: 8-bit loading needs a CUDA GPU (bitsandbytes)")
    return kwargs


def locate(spec: ModelSpec) -> str:
    """A local folder (str path) or a hub id to load from the local cache only."""
    source = spec.source.strip()
    if source.startswith("pkg:"):
        return str(resolve_source(source))
    path = Path(source).expanduser()
    if path.exists():
        return str(path)
    if source.startswith(("/", ".", "~")) or not _HUB_ID.match(source):
        raise ModelUnavailable(f"model files not found: {source} does not exist on this worker")
    return source


@dataclass
class LoadedModel:
    tokenizer: object
    model: object | None  # transformers model; None when the kernel alone is kept
    kernel: LlamaKernel | None
    dtype: torch.dtype
    device: str
    max_positions: int
    eos_ids: set[int]
    nbytes: int
    config: object


def load_pretrained(location: str, spec: ModelSpec, *, fast: bool | None = None) -> LoadedModel:
    """Loads tokenizer and model; `fast` None picks the engine's own loop whenever it applies."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_device(spec)
    kwargs = build_load_kwargs(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **_only(kwargs, "local_files_only", "revision"))
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as exc:
        raise ModelUnavailable(_missing_message(location, exc)) from exc
    model.eval()
    if spec.device == "cpu":
        model.to("cpu")
    reason = unsupported_reason(model) if spec.device == "cpu" else "runs on cuda"
    use_kernel = reason is None if fast is None else fast
    if use_kernel and reason is not None:
        raise InvalidModelSpec(f"the engine's decoding loop cannot run {spec.name}: {reason}")
    eos_ids = _eos_ids(model, tokenizer)
    max_positions = int(getattr(model.config, "max_position_embeddings", 0) or 0) or spec.context_window
    if use_kernel:
        kernel = LlamaKernel(model, kwargs["dtype"])
        return LoadedModel(
            tokenizer,
            None,
            kernel,
            kwargs["dtype"],
            "cpu",
            max_positions,
            eos_ids,
            kernel.nbytes(),
            model.config,
        )
    if reason and spec.device == "cpu":
        logger.info("%s decodes with transformers' generate(): %s", spec.name, reason)
    nbytes = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    return LoadedModel(
        tokenizer, model, None, kwargs["dtype"], spec.device, max_positions, eos_ids, nbytes, model.config
    )


def _only(kwargs: dict, *names: str) -> dict:
    return {name: kwargs[name] for name in names if name in kwargs}


def _missing_message(location: str, exc: Exception) -> str:
    if Path(location).exists():
        return f"cannot load the model from {location}: {exc}"
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover
        HF_HUB_CACHE = "the Hugging Face cache"
    return (
        f"{location} is not in this worker's local Hugging Face cache ({HF_HUB_CACHE}) and workers never "
        f"download models at run time. Download it once on this machine (`hf download {location}`) or "
        "point the model's source at a local folder."
    )


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    return ids


def estimate_bytes(spec: ModelSpec, location: str | None = None) -> int:
    """Memory the model will take once loaded, before loading it (for the LRU budget)."""
    bytes_per_param = torch.empty(0, dtype=resolve_dtype(spec)).element_size() if spec.dtype != "auto" else 2
    if spec.parameter_count:
        return spec.parameter_count * bytes_per_param
    if location and Path(location).is_dir():
        on_disk = sum(p.stat().st_size for p in Path(location).glob("*.safetensors"))
        return on_disk * bytes_per_param // 4 if on_disk else 0
    return 0


class TransformersBackend:
    """One spec over one loaded model (the loaded model is shared through the runtime's LRU cache)."""

    def __init__(self, spec: ModelSpec, loaded: LoadedModel):
        self.spec = spec
        self.loaded = loaded

    def memory_bytes(self) -> int:
        return self.loaded.nbytes

    @property
    def context_limit(self) -> int:
        return min(self.spec.context_window or self.loaded.max_positions, self.loaded.max_positions)

    def render(self, request: GenerationRequest) -> list[int]:
        tokenizer = self.loaded.tokenizer
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])
        # A base model without a chat template: the contents, one paragraph each.
        return list(tokenizer("\n\n".join(m["content"] for m in messages))["input_ids"])

    def generate(
        self,
        requests: list[GenerationRequest],
        *,
        batch_size: int | None = None,
        reporter: ProgressReporter | None = None,
    ) -> list[GenerationResult]:
        reporter = reporter or ProgressReporter(None)
        results: list[GenerationResult | None] = [None] * len(requests)
        groups: dict[InferenceParams, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.params, []).append(index)
        for params, indices in groups.items():
            prepared: list[tuple[int, Item]] = []
            for index in indices:
                request = requests[index]
                try:
                    ids = self.render(request)
                except Exception as exc:  # a template that rejects these messages fails this item alone
                    results[index] = _error(request, f"the chat template rejected the messages: {exc}")
                    continue
                limit = self.context_limit
                if len(ids) >= limit:
                    results[index] = _error(
                        request,
                        f"the prompt is {len(ids)} tokens but {self.spec.name}'s context window is {limit} "
                        "tokens (the prompt and at least one new token must fit); shorten the prompt or "
                        "pick a model with a longer context",
                        tokens_in=len(ids),
                    )
                    continue
                prepared.append((index, Item(ids, min(params.max_new_tokens, limit - len(ids)))))
            if not prepared:
                continue

            def result_of(position: int, outcome: Outcome, prepared=prepared) -> GenerationResult:
                index, item = prepared[position]
                results[index] = GenerationResult(
                    key=requests[index].key,
                    text=outcome.text,
                    finish_reason=outcome.finish_reason,
                    tokens_in=len(item.prompt_ids),
                    tokens_out=len(outcome.token_ids),
                    latency_s=outcome.latency_s,
                )
                return results[index]

            outcomes = self._run(params, [item for _, item in prepared], batch_size, reporter, result_of)
            for position, outcome in enumerate(outcomes):
                if results[prepared[position][0]] is None:
                    result_of(position, outcome)
        return results  # type: ignore[return-value]

    def _run(
        self,
        params: InferenceParams,
        items: list[Item],
        batch_size: int | None,
        reporter: ProgressReporter,
        result_of: Callable[[int, Outcome], GenerationResult],
    ) -> list[Outcome]:
        loaded = self.loaded
        if loaded.kernel is not None:
            return generate_batched(
                loaded.kernel,
                loaded.tokenizer,
                items,
                params,
                rows=batch_size or DEFAULT_ROWS_CPU,
                eos_ids=loaded.eos_ids,
                kv_budget_bytes=conf.kv_cache_budget_bytes(),
                on_finish=lambda position, outcome: reporter.finished(result_of(position, outcome)),
                should_stop=reporter.tick,
            )
        outcomes_by_index: list[Outcome | None] = [None] * len(items)
        order = sorted(range(len(items)), key=lambda index: len(items[index].prompt_ids))
        size = batch_size or DEFAULT_BATCH_GENERATE
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            if reporter.tick():
                for index in order[start:]:
                    outcomes_by_index[index] = Outcome(finish_reason=FinishReason.CANCELLED)
                break
            for index, outcome in zip(
                chunk, self._generate_padded(params, [items[i] for i in chunk]), strict=True
            ):
                outcomes_by_index[index] = outcome
                reporter.finished(result_of(index, outcome))
        return outcomes_by_index  # type: ignore[return-value]

    def _generate_padded(self, params: InferenceParams, items: list[Item]) -> list[Outcome]:
        """transformers' generate() on a left-padded batch."""
        loaded = self.loaded
        model, tokenizer = loaded.model, loaded.tokenizer
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(loaded.eos_ids)
        width = max(len(item.prompt_ids) for item in items)
        pads = [width - len(item.prompt_ids) for item in items]
        input_ids = torch.tensor(
            [[pad_id] * pad + item.prompt_ids for pad, item in zip(pads, items, strict=True)]
        )
        attention_mask = torch.tensor(
            [[0] * pad + [1] * len(item.prompt_ids) for pad, item in zip(pads, items, strict=True)]
        )
        tracker = TextTracker(tokenizer, params.stop)
        started = time.perf_counter()
        deadline = started + params.timeout_s
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention_mask.to(model.device),
                max_new_tokens=max(item.max_new_tokens for item in items),
                do_sample=not params.greedy,
                # Every processing step is in AssayLogitsProcessor; generate()'s own are switched off.
                temperature=1.0,
                top_k=None,
                top_p=1.0,
                repetition_penalty=1.0,
                logits_processor=[AssayLogitsProcessor(params, width, pads)],
                stopping_criteria=StoppingCriteriaList(
                    [_Deadline(deadline), _StopSequences(tracker, width, loaded.eos_ids)]
                ),
                pad_token_id=pad_id,
                eos_token_id=sorted(loaded.eos_ids),
            )
        elapsed = time.perf_counter() - started
        timed_out = time.perf_counter() >= deadline
        outcomes = []
        for row, item in enumerate(items):
            generated = output[row, width:].tolist()[: item.max_new_tokens]
            ends = [position for position, token in enumerate(generated) if token in loaded.eos_ids]
            if ends:
                generated = generated[: ends[0] + 1]
            text = tracker.text([t for t in generated if t not in loaded.eos_ids])
            cut = tracker.cut_at_stop(text) if tracker.stops else None
            if ends or cut is not None:
                reason = FinishReason.STOP
            elif len(generated) >= item.max_new_tokens:
                reason = FinishReason.LENGTH
            elif timed_out:
                reason = FinishReason.TIMEOUT
            else:
                reason = FinishReason.LENGTH
            outcomes.append(Outcome(generated, text if cut is None else cut, reason, elapsed))
        return outcomes


class _Deadline(StoppingCriteria):
    def __init__(self, deadline: float):
        self.deadline = deadline

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full(
            (input_ids.shape[0],),
            time.perf_counter() >= self.deadline,
            dtype=torch.bool,
            device=input_ids.device,
        )


class _StopSequences(StoppingCriteria):
    def __init__(self, tracker: TextTracker, prompt_width: int, eos_ids: set[int]):
        self.tracker = tracker
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        if self.tracker.stops:
            for row, ids in enumerate(input_ids[:, self.prompt_width :].tolist()):
                text = self.tracker.text([t for t in ids if t not in self.eos_ids])
                done[row] = self.tracker.cut_at_stop(text) is not None
        return done.to(input_ids.device)


def _error(request: GenerationRequest, message: str, tokens_in: int = 0) -> GenerationResult:
    return GenerationResult(
        key=request.key, text="", finish_reason=FinishReason.ERROR, tokens_in=tokens_in, error=message
    )
