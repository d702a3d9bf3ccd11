"""The openai-compatible backend against a real HTTP server on 127.0.0.1 started by each test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llmcore.engine import runtime
from llmcore.engine.openai_compat import OpenAICompatibleBackend
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import (
    BackendKind,
    FinishReason,
    GenerationRequest,
    ModelSpec,
    ModelUnavailable,
    ProgressReporter,
    TransientBackendError,
)
from tests.llmcore.vllm_fake import BatchingServer


def completion(text="Paris.", finish="stop", prompt_tokens=12, completion_tokens=3) -> dict:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


class FakeServer:
    """Answers POST /v1/chat/completions with the scripted responses in order (the last one repeats).

    A response is (status, body, headers) where body is a dict (sent as JSON) or raw bytes, or
    ("sleep", seconds) to answer late.
    """

    def __init__(self, responses):
        self.responses = list(responses)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append(json.loads(body))
                server.headers.append(dict(self.headers))
                response = server.responses[min(len(server.requests) - 1, len(server.responses) - 1)]
                if response[0] == "sleep":
                    time.sleep(response[1])
                    response = (200, completion())
                status, payload, *extra = response
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in (extra[0] if extra else {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def spec_for(server: FakeServer, **changes) -> ModelSpec:
    values = {
        "name": "hosted",
        "backend": BackendKind.OPENAI_COMPATIBLE,
        "source": server.base_url,
        "remote_model": "gpt-test",
        "api_key_env": "ASSAY_MODEL_KEY_TEST",
        "max_retries": 2,
        "request_timeout_s": 5.0,
        **changes,
    }
    return ModelSpec(**values)


@pytest.fixture(autouse=True)
def api_key(monkeypatch, settings):
    monkeypatch.setenv("ASSAY_MODEL_KEY_TEST", "sk-test-123")
    # The fake servers listen on loopback, which models may call only when it is listed explicitly.
    settings.ASSAY_MODEL_HOSTS = ["127.0.0.1"]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ask(prompt="Capital of France?", **params) -> GenerationRequest:
    return GenerationRequest.from_prompt(prompt, InferenceParams(**params), key="q1")


def test_a_completion_returns_text_usage_and_finish_reason():
    with FakeServer([(200, completion())]) as server:
        spec = spec_for(server, cost_per_1k_input=1.0, cost_per_1k_output=2.0)
        (result,) = runtime.generate(spec, [ask(temperature=0.2, max_new_tokens=30, stop=("\n",), seed=4)])
    assert (result.text, result.finish_reason, result.tokens_in, result.tokens_out) == (
        "Paris.",
        "stop",
        12,
        3,
    )
    assert result.cost == pytest.approx(12 / 1000 * 1.0 + 3 / 1000 * 2.0)
    assert result.latency_s > 0 and result.key == "q1"
    sent = server.requests[0]
    assert sent["model"] == "gpt-test" and sent["messages"] == [
        {"role": "user", "content": "Capital of France?"}
    ]
    assert (sent["temperature"], sent["max_tokens"], sent["stop"], sent["seed"]) == (0.2, 30, ["\n"], 4)
    assert "top_k" not in sent and "repetition_penalty" not in sent
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"


def test_length_finish_is_mapped_and_extensions_are_sent_only_when_set():
    with FakeServer([(200, completion(finish="length"))]) as server:
        (result,) = runtime.generate(
            spec_for(server), [ask(top_k=20, repetition_penalty=1.1, presence_penalty=0.5)]
        )
    assert result.finish_reason == FinishReason.LENGTH
    assert (server.requests[0]["top_k"], server.requests[0]["repetition_penalty"]) == (20, 1.1)
    assert server.requests[0]["presence_penalty"] == 0.5


def test_429_is_retried_after_the_delay_the_server_asks_for():
    sleeps = Sleeps()
    with FakeServer([(429, {"error": "slow down"}, {"Retry-After": "3"}), (200, completion())]) as server:
        (result,) = OpenAICompatibleBackend(spec_for(server), sleep=sleeps).generate([ask()])
    assert result.ok and result.text == "Paris."
    assert len(server.requests) == 2 and sleeps == [3.0]


def test_5xx_is_retried_with_exponential_backoff_then_reported_as_transient():
    sleeps = Sleeps()
    with FakeServer([(500, {"error": "boom"})]) as server:
        backend = OpenAICompatibleBackend(spec_for(server, max_retries=2), sleep=sleeps)
        with pytest.raises(TransientBackendError, match=r"HTTP 500 .*boom.*after 3 attempts"):
            backend.generate([ask()])
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] < sleeps[1] <= 1.25


def test_one_failing_request_fails_alone_in_a_batch():
    sleeps = Sleeps()
    with FakeServer([(200, completion()), (400, {"error": "bad request"})]) as server:
        backend = OpenAICompatibleBackend(spec_for(server, max_retries=0), sleep=sleeps)
        # One at a time, so the scripted answers go to the requests in order.
        results = backend.generate([ask(), ask("second")], batch_size=1)
    assert results[0].ok
    assert results[1].finish_reason == FinishReason.ERROR and "HTTP 400" in results[1].error
    assert sleeps == []  # a 400 is not retried


def test_a_slow_server_gives_a_timeout_result():
    with FakeServer([("sleep", 1.5)]) as server:
        started = time.perf_counter()
        (result,) = runtime.generate(spec_for(server, request_timeout_s=0.3), [ask(timeout_s=0.3)])
    assert result.finish_reason == FinishReason.TIMEOUT
    assert "0.3 s timeout" in result.error
    assert time.perf_counter() - started < 1.4


def test_malformed_json_is_an_error_result_with_the_body():
    with FakeServer([(200, b"<html>gateway says hi</html>")]) as server:
        (result,) = runtime.generate(spec_for(server), [ask()])
    assert result.finish_reason == FinishReason.ERROR
    assert "not a chat completion" in result.error and "gateway says hi" in result.error


def test_json_without_choices_is_an_error_result():
    with FakeServer([(200, {"object": "error", "message": "quota"})]) as server:
        (result,) = runtime.generate(spec_for(server), [ask()])
    assert result.finish_reason == FinishReason.ERROR and "quota" in result.error


def test_an_unreachable_server_is_transient():
    spec = ModelSpec(
        name="down", backend=BackendKind.OPENAI_COMPATIBLE, source="http://127.0.0.1:9/v1", max_retries=1
    )
    with pytest.raises(TransientBackendError, match="cannot reach"):
        OpenAICompatibleBackend(spec, sleep=Sleeps()).generate([ask()])


def test_a_missing_api_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("ASSAY_MODEL_KEY_TEST")
    with (
        FakeServer([(200, completion())]) as server,
        pytest.raises(ModelUnavailable, match="ASSAY_MODEL_KEY_TEST"),
    ):
        runtime.get_backend(spec_for(server))


def test_requests_of_a_batch_run_concurrently():
    with FakeServer([("sleep", 0.4)]) as server:
        started = time.perf_counter()
        results = runtime.generate(spec_for(server), [ask(str(i)) for i in range(4)])
    assert all(r.ok for r in results)
    assert time.perf_counter() - started < 1.2  # four 0.4 s answers, not one after another


# -- a batching server (vLLM's OpenAI-compatible server) ------------------------------------------------------


def test_a_batching_server_gets_the_whole_batch_at_once_over_kept_alive_connections():
    with BatchingServer(delay_s=0.3) as server:
        spec = spec_for(server, name="vllm")  # default: 64 requests in flight
        started = time.perf_counter()
        first = runtime.generate(spec, [ask(f"case {i}") for i in range(64)])
        elapsed = time.perf_counter() - started
        second = runtime.generate(spec, [ask(f"again {i}") for i in range(64)])
    assert [r.text for r in first] == [f"echo: case {i}" for i in range(64)]
    assert all(r.ok for r in second)
    assert server.max_in_flight >= 48  # 4 at a time would take 16 rounds of 0.3 s
    assert elapsed < 2.5
    # The second batch reuses the first one's connections instead of opening new ones.
    assert len(server.connections) <= 64 + 8


def test_concurrency_is_set_per_model():
    with BatchingServer(delay_s=0.1) as server:
        results = runtime.generate(
            spec_for(server, name="rate-limited", max_concurrency=3), [ask() for _ in range(12)]
        )
    assert all(r.ok for r in results)
    assert server.max_in_flight == 3


def test_429_and_5xx_are_retried_under_load():
    with BatchingServer(delay_s=0.01, status_script=[429, 503, 429]) as server:
        backend = OpenAICompatibleBackend(spec_for(server, name="busy", max_retries=3), sleep=Sleeps())
        results = backend.generate([ask(str(i)) for i in range(8)])
    assert all(r.ok for r in results)
    assert len(server.requests) == 8 + 3


def test_results_are_reported_as_they_arrive_and_a_cancel_stops_sending():
    class StopAfterFirst:
        def __init__(self):
            self.reports = []

        def report(self, results):
            self.reports.append(list(results))

        def cancelled(self):
            return bool(self.reports)

    progress = StopAfterFirst()
    with BatchingServer(delay_s=0.2) as server:
        backend = OpenAICompatibleBackend(spec_for(server, name="cancelled", max_concurrency=2))
        started = time.perf_counter()
        results = backend.generate(
            [ask(str(i)) for i in range(40)], reporter=ProgressReporter(progress, interval_s=0, poll_s=0)
        )
        elapsed = time.perf_counter() - started
    kept = [r for r in results if r.finish_reason != FinishReason.CANCELLED]
    assert progress.reports and 1 <= len(kept) <= 4
    assert len(server.requests) <= 6  # 40 requests at 2 in flight would take 4 s
    assert elapsed < 1.5
