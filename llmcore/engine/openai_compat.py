"""The `openai-compatible` backend: chat completions over HTTP (hosted APIs, vLLM, TGI, llama.cpp).

spec.source is the base URL (".../v1"); spec.remote_model names the model on the server; the API key
is read from the environment variable named by spec.api_key_env on every call and never stored.
HTTP 429 and 5xx answers and connection errors are retried with exponential backoff (honouring
Retry-After) up to spec.max_retries times.

A batching server (vLLM, TGI, llama.cpp) is only busy when many requests arrive together, so a batch's
requests are sent concurrently: up to spec.max_concurrency in flight (64 by default), over one pooled,
kept-alive httpx client per process (llmcore.endpoints.client, which also applies the instance's
endpoint rules). Finished results are reported as they arrive, and a cancel stops sending.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx

from llmcore import endpoints

from .params import InferenceParams
from .types import (
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
    ModelUnavailable,
    ProgressReporter,
    TransientBackendError,
)

# How often the batch loop wakes to report finished results and ask whether to stop.
TICK_S = 0.25
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.STOP,
    "function_call": FinishReason.STOP,
    "eos": FinishReason.STOP,
}


@dataclass
class _Failure:
    message: str
    transient: bool


class OpenAICompatibleBackend:
    def __init__(self, spec: ModelSpec, *, sleep=time.sleep):
        self.spec = spec
        self.url = spec.source.rstrip("/") + "/chat/completions"
        if not spec.source.startswith(("http://", "https://")):
            raise ModelUnavailable(
                f"{spec.name}: the base URL must start with http:// or https://, got {spec.source!r}"
            )
        if spec.api_key_env and not os.environ.get(spec.api_key_env):
            raise ModelUnavailable(
                f"{spec.name}: the environment variable {spec.api_key_env} (named as this model's API key "
                "variable) is not set on this worker"
            )
        self.concurrency = max(1, spec.max_concurrency)
        self._client = endpoints.client(self.concurrency)
        self._sleep = sleep
        self._stop = threading.Event()

    def memory_bytes(self) -> int:
        return 0

    def generate(
        self,
        requests: list[GenerationRequest],
        *,
        batch_size: int | None = None,
        reporter: ProgressReporter | None = None,
    ) -> list[GenerationResult]:
        if not requests:
            return []
        reporter = reporter or ProgressReporter(None)
        workers = max(1, min(batch_size or self.concurrency, self.concurrency, len(requests)))
        outcomes: list[GenerationResult | _Failure | None] = [None] * len(requests)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-compatible")
        try:
            futures = {pool.submit(self._one, request): index for index, request in enumerate(requests)}
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, timeout=TICK_S, return_when=FIRST_COMPLETED)
                for future in done:
                    index = futures[future]
                    outcome = outcomes[index] = future.result()  # EndpointRefused propagates
                    if not isinstance(outcome, _Failure):
                        reporter.finished(outcome)
                if waiting and reporter.tick():
                    # Cancelled: requests not sent are dropped, answers still on their way are not awaited.
                    self._stop.set()
                    break
        finally:
            pool.shutdown(wait=not self._stop.is_set(), cancel_futures=True)
        if self._stop.is_set():
            return [
                self._as_result(request, outcome)
                if outcome is not None
                else GenerationResult(key=request.key, text="", finish_reason=FinishReason.CANCELLED)
                for request, outcome in zip(requests, outcomes, strict=True)
            ]
        failures = [o for o in outcomes if isinstance(o, _Failure)]
        if failures and len(failures) == len(outcomes) and all(f.transient for f in failures):
            # The server is down or overloaded for the whole batch: worth retrying the batch later.
            raise TransientBackendError(failures[0].message)
        return [self._as_result(r, o) for r, o in zip(requests, outcomes, strict=True)]

    @staticmethod
    def _as_result(request: GenerationRequest, outcome) -> GenerationResult:
        if isinstance(outcome, _Failure):
            return GenerationResult(
                key=request.key, text="", finish_reason=FinishReason.ERROR, error=outcome.message
            )
        return outcome

    def payload(self, request: GenerationRequest) -> dict:
        params = request.params
        body: dict = {
            "model": self.spec.remote_model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if params.frequency_penalty:
            body["frequency_penalty"] = params.frequency_penalty
        if params.presence_penalty:
            body["presence_penalty"] = params.presence_penalty
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        # Not part of OpenAI's API but understood by vLLM/TGI/llama.cpp servers; sent only when set, so
        # a server that does not support them says so instead of silently ignoring them.
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        return body

    def _one(self, request: GenerationRequest) -> GenerationResult | _Failure:
        params = request.params
        started = time.perf_counter()
        deadline = started + params.timeout_s
        data = json.dumps(self.payload(request)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.spec.api_key_env:
            headers["Authorization"] = f"Bearer {endpoints.api_key(self.spec.api_key_env)}"
        attempts = max(0, self.spec.max_retries) + 1
        last: _Failure | None = None
        for attempt in range(attempts):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return self._timeout(request, started, last)
            if self._stop.is_set():
                return _Failure("cancelled before it was sent", False)
            timeout = min(self.spec.request_timeout_s, remaining)
            retry_after: float | None = None
            try:
                response = self._client.post(self.url, content=data, headers=headers, timeout=timeout)
            except httpx.TimeoutException:
                if time.perf_counter() >= deadline:
                    return self._timeout(request, started, last)
                last = _Failure(f"no answer from {self.url} within {timeout:.1f} s", True)
            except (httpx.TransportError, OSError) as exc:
                last = _Failure(f"cannot reach {self.url}: {exc or type(exc).__name__}", True)
            else:
                if response.is_success:
                    return self._parse(request, response.content, started)
                status = response.status_code
                body = _excerpt(response.content)
                if response.is_redirect:
                    where = response.headers.get("Location", "")
                    return _Failure(
                        f"HTTP {status} from {self.url}: the server redirects to {where or 'another address'}; "
                        "redirects are not followed (the API key would go along): register the final URL",
                        False,
                    )
                transient = status == 429 or status >= 500
                last = _Failure(f"HTTP {status} from {self.url}: {body}", transient)
                if not transient:
                    return last
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt + 1 < attempts:
                delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * (1 + random.random() / 4)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, BACKOFF_MAX_S * 2))
                if time.perf_counter() + delay >= deadline:
                    break
                self._sleep(delay)
        assert last is not None
        return _Failure(f"{last.message} (gave up after {attempt + 1} attempts)", last.transient)

    def _timeout(self, request: GenerationRequest, started: float, last: _Failure | None) -> GenerationResult:
        detail = f"; last error: {last.message}" if last else ""
        return GenerationResult(
            key=request.key,
            text="",
            finish_reason=FinishReason.TIMEOUT,
            latency_s=time.perf_counter() - started,
            error=f"no complete answer within the {request.params.timeout_s:g} s timeout{detail}",
        )

    def _parse(self, request: GenerationRequest, raw: bytes, started: float) -> GenerationResult:
        latency = time.perf_counter() - started
        try:
            body = json.loads(raw)
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
            reason_name = choice.get("finish_reason") or "stop"
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return GenerationResult(
                key=request.key,
                text="",
                finish_reason=FinishReason.ERROR,
                latency_s=latency,
                error=f"the server at {self.url} answered with something that is not a chat completion: {_excerpt(raw)}",
            )
        usage = body.get("usage") or {}
        reason = _FINISH.get(reason_name)
        error = ""
        if reason is None:
            reason = FinishReason.ERROR
            error = f"the server stopped the answer: finish_reason {reason_name!r}"
        text, cut = _cut_at_stop(text, request.params)
        if cut:
            reason = FinishReason.STOP
        return GenerationResult(
            key=request.key,
            text=text,
            finish_reason=reason,
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            latency_s=latency,
            error=error,
        )


def _cut_at_stop(text: str, params: InferenceParams) -> tuple[str, bool]:
    # Servers already stop at these; some echo the stop sequence back.
    cuts = [i for i in (text.find(stop) for stop in params.stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _excerpt(raw: bytes, limit: int = 300) -> str:
    text = raw.decode("utf-8", errors="replace").strip()
    return (text[:limit] + "…") if len(text) > limit else text or "(empty body)"
