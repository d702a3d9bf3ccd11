"""The engine's contract: what callers send, what backends return. Plain dataclasses, no Django."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from .params import InferenceParams


class BackendKind(StrEnum):
    TRANSFORMERS = "transformers"
    GGUF = "gguf"
    OPENAI_COMPATIBLE = "openai-compatible"


class FinishReason(StrEnum):
    STOP = "stop"  # end-of-sequence token or a stop sequence
    LENGTH = "length"  # max_new_tokens reached
    TIMEOUT = "timeout"
    ERROR = "error"
    CANCELLED = "cancelled"  # the caller stopped the call before this request finished: not an output


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load and price a model; built from a ModelConfig row by the caller."""

    name: str
    backend: BackendKind
    source: str  # folder, GGUF file path, "pkg:<package>/<file>", hub id, or base URL for HTTP backends
    revision: str = ""
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    device: str = "cpu"  # cpu | cuda
    load_in_8bit: bool = False
    context_window: int = 2048
    parameter_count: int | None = None
    # openai-compatible only: the remote model name and the environment variable holding the API key.
    remote_model: str = ""
    api_key_env: str = ""
    request_timeout_s: float = 60.0
    max_retries: int = 3
    # Requests in flight at once: a batching server (vLLM, llama.cpp) is starved by a handful.
    max_concurrency: int = 64
    # Prices: hosted models per 1k tokens; local models per hardware-hour of wall time.
    cost_per_1k_input: float = 0.0
    cost_per_1k_output: float = 0.0
    cost_per_hour: float = 0.0
    licence: str = ""
    modality: str = "text"  # text | embedding

    @property
    def cache_key(self) -> tuple:
        return (self.backend, self.source, self.revision, self.dtype, self.device, self.load_in_8bit)


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    params: InferenceParams = field(default_factory=InferenceParams)
    # Caller's key to match results to requests (e.g. "run:case:repeat"); returned unchanged.
    key: str = ""

    @classmethod
    def from_prompt(cls, prompt: str, params: InferenceParams | None = None, key: str = "", system: str = ""):
        messages = ((ChatMessage("system", system),) if system else ()) + (ChatMessage("user", prompt),)
        return cls(messages=messages, params=params or InferenceParams(), key=key)


@dataclass
class GenerationResult:
    key: str
    text: str
    finish_reason: FinishReason
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.finish_reason not in (FinishReason.ERROR, FinishReason.CANCELLED)


class ModelUnavailable(Exception):
    """The model's files or server cannot be reached; the message says what is missing and where."""


class TransientBackendError(Exception):
    """A failure worth retrying later (HTTP 429/5xx after retries, connection refused)."""


class Progress(Protocol):
    """What a long engine call reports to its caller while it runs."""

    def report(self, results: list[GenerationResult]) -> None:
        """Results that finished since the last report, each reported once, with its cost."""
        ...

    def cancelled(self) -> bool:
        """True when the caller wants the call stopped: requests not finished come back CANCELLED."""
        ...


class ProgressReporter:
    """Between a backend and the caller's Progress: buffers finished results and hands them over at
    most every `interval_s` seconds, and asks whether to stop at most every `poll_s` seconds (the
    caller's answer may cost a database query). Without a Progress it does nothing."""

    def __init__(
        self,
        progress: Progress | None,
        *,
        interval_s: float = 5.0,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.progress = progress
        self.interval_s = interval_s
        self.poll_s = poll_s
        self.clock = clock
        self._buffer: list[GenerationResult] = []
        self._last_report = self._last_poll = clock()
        self._stopped = False

    def finished(self, result: GenerationResult) -> None:
        if self.progress is not None:
            self._buffer.append(result)

    def tick(self) -> bool:
        """Called from the backend's loop: reports when due; True when the call should stop."""
        if self.progress is None:
            return False
        now = self.clock()
        if self._buffer and now - self._last_report >= self.interval_s:
            self.flush()
        if not self._stopped and now - self._last_poll >= self.poll_s:
            self._last_poll = now
            self._stopped = bool(self.progress.cancelled())
        return self._stopped

    def flush(self) -> None:
        if self.progress is not None and self._buffer:
            batch, self._buffer = self._buffer, []
            self._last_report = self.clock()
            self.progress.report(batch)


class Backend(Protocol):
    spec: ModelSpec

    def generate(
        self,
        requests: list[GenerationRequest],
        *,
        batch_size: int | None = None,
        reporter: ProgressReporter | None = None,
    ) -> list[GenerationResult]:
        """One result per request, in order. One bad request fails alone (finish_reason=error).

        batch_size: sequences generated at once (None: the backend's default). reporter: told of each
        result as it finishes (`finished`), and ticked from the backend's loop; when a tick says stop,
        unfinished requests come back with finish_reason=cancelled."""
        ...

    def memory_bytes(self) -> int:
        """Approximate memory held by the loaded model (0 for remote backends)."""
        ...
