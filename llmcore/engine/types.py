"""The engine's contract: what callers send, what backends return. Plain dataclasses, no Django."""

from __future__ import annotations

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
        return self.finish_reason != FinishReason.ERROR


class ModelUnavailable(Exception):
    """The model's files or server cannot be reached; the message says what is missing and where."""


class TransientBackendError(Exception):
    """A failure worth retrying later (HTTP 429/5xx after retries, connection refused)."""


class Backend(Protocol):
    spec: ModelSpec

    def generate(
        self, requests: list[GenerationRequest], *, batch_size: int | None = None
    ) -> list[GenerationResult]:
        """One result per request, in order. One bad request fails alone (finish_reason=error).

        batch_size: sequences generated at once (None: the backend's default)."""
        ...

    def memory_bytes(self) -> int:
        """Approximate memory held by the loaded model (0 for remote backends)."""
        ...
