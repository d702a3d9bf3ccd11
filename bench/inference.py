"""Inference throughput of the engine on the default model (issue 3). Prints one JSON object as its last line.

    python bench/inference.py              # full run (~6 min on 2 AVX-512 cores, ~18 on 2 AVX2 cores)
    python bench/inference.py --quick      # 16 reference prompts instead of 128 (~2 min)
    python bench/inference.py --ablations  # also time the variants listed below
    python bench/inference.py --backend openai --concurrency 64  # llama.cpp server through the HTTP backend

--backend openai sends the same 128 prompts (48 new tokens, greedy) through Assay's openai-compatible
backend (runtime.get_backend, max_concurrency = --concurrency) to --base-url, or to a llama.cpp server it
starts on 127.0.0.1 with the default model's GGUF file (llama-cpp-python[server] in --server-python;
build it with the command printed when it is missing); the server's host:port is added to
ASSAY_MODEL_HOSTS for the run. llama-cpp-python's server has no parallel slots and answers one request
at a time, so concurrency does not raise its throughput: 2026-12-04, 2 cores (AVX-512 BF16),
--n_threads 2: 70.5 / 61.2 / 62.8 tokens/s at concurrency 1 / 4 / 64 (p50 latency 0.7 / 3.1 / 46.5 s).

Workload: 128 distinct prompts (chat template + SmolLM2's default system prompt + a one-line task),
48 new tokens each, greedy. tokens/s = generated tokens / wall time of the call (prompt processing
included, model loading excluded). The float32 one-at-a-time run is both the sequential baseline and the
reference text for greedy_match. greedy_match compares whole 48-token texts, so one early near-tie in
bfloat16 counts as a wrong text; token_agreement is the teacher-forced check: the reference texts are
fed through the engine's kernel and it reports the share of positions whose top token is the reference's
next token (target >= 0.99 for bfloat16, 1.0 for float32) and max_logit_diff against transformers'
float32 forward.

What was tried (SmolLM2-135M, 2 shared cores). Two kinds of CPU have run this benchmark:
- AMD EPYC with AVX-512 BF16: bf16 matmul peak ~380-400 GFLOP/s (compute bound ~1,450 tokens/s); the
  engine's best configuration there is bfloat16.
- AMD EPYC with AVX2 only (no native bf16; 2026-12-01): float32 peak 94 GFLOP/s, so the compute bound
  is 350 tokens/s and 1,000 tokens/s is out of reach on that hardware. Measured there: sequential
  float32 8.8 tokens/s, engine float32 153 tokens/s in the full run (186 in a later engine-only
  A/B run), speedup 17.4x (up to ~21x), 44-53% of the compute bound, greedy_match 1.0. bfloat16 is
  skipped there (PyTorch emulates it, far slower than float32).
Figures are from --ablations runs; other sessions shared the cores, so they moved by +-15% between runs:

  variant                                                        tokens/s
  transformers generate, one prompt at a time, float32            ~20-23   (the baseline)
  transformers generate, batch 64, float32 / bfloat16             see --ablations (DESIGN.md: ~223 / ~480)
  engine loop, float32, 128 rows                                  see the JSON (engine_float32_tokens_per_s)
  engine loop, bfloat16, 128 rows (the best configuration)        see the JSON (engine_tokens_per_s)
  ... without the shared-prefix prefill                           --ablations
  ... 64 rows instead of 128                                      --ablations

Levers and what they gave:
- Batching is the lever: decoding is matrix-vector work at batch 1 (memory bound); 128 rows turn it
  into GEMMs that reach most of the bf16 peak.
- bfloat16 weights: ~2x over float32 (oneDNN AVX-512 BF16 GEMMs). The residual stream, norms, rotary
  embedding and softmax stay float32, which keeps bf16 greedy text close to float32 (greedy_match_bfloat16).
- Own decoding loop (llmcore/engine/llama_kernel.py + decoding.py) instead of generate(): fused q/k/v and
  gate/up GEMMs, no per-step cache re-allocation, no padding in the cache (each sequence has its own
  slot and length), and continuous refill of finished slots. generate() spends a large share of each
  step outside the GEMMs on this CPU.
- Shared-prefix prefill: the 32-token chat template + system prompt common to all prompts is computed
  once instead of 128 times; prompt processing is then ~15 tokens per prompt instead of ~47.
- Prompts sorted by length before chunked prefill: little padding in prefill.
- Decode attention: queries grouped by key/value head ([rows, kv heads, group, dim]) against the slot
  cache with SDPA: no repeat_kv copies of the cache.
- Not kept: rows split into one cache per core decoded concurrently on a thread pool (one intra-op
  thread each): ~20% faster on the AVX-512 machine in a first try, 10-15% slower on the AVX2 one
  (160-168 vs 186 tokens/s), so the engine keeps one batch whose ops use both cores.
- Not kept: torch.compile (minutes of compilation per worker process on 2 cores and recompiles as the
  cache grows, for a few percent); a static pre-padded attention span (attention cost grows with the
  span, which is small here); int8 dynamic quantisation (VNNI doubles GEMM throughput in theory but
  changes greedy text, and the quality bar is float32 greedy agreement).
- Not kept: cascade attention merging the prefix and own scores by a shared max instead of cat + one
  softmax (2026-12-06): 594-626 vs 578-677 tokens/s interleaved, within noise, and 32 of 128 greedy
  texts changed by rounding.

Where the time goes (2026-12-06, AVX-512 BF16, quiet machine, bfloat16, 128 rows, torch.profiler):
oneDNN linears 61% of the call, batched matmuls (attention in float32 and the float32 re-scoring of
the top 8 tokens) 15%, everything else under 3% each. Counting every linear call: 364 MFLOP per
generated token (the nominal 2 x 135M = 270, plus prompt prefill, about 23% of the work, plus rows that
finished early still computed, about 5%) run at 381 GFLOP/s, 88% of the 434 GFLOP/s square-GEMM peak
measured in the same process. The linears alone therefore take 5.7 s of the 9.3 s call (637 tokens/s);
at this peak they could not go under ~5.0 s, so 1,000 tokens/s (5.9 s) leaves under a second for
prefill attention, decode attention and sampling together. Reaching it needs less linear work per
generated token (compacting finished rows out of the batch, ~5%) and attention in bf16 or fused, not
faster GEMMs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from llmcore.engine import runtime  # noqa: E402
from llmcore.engine.defaults import DEFAULT_GENERATOR  # noqa: E402
from llmcore.engine.params import InferenceParams  # noqa: E402
from llmcore.engine.types import GenerationRequest  # noqa: E402

NEW_TOKENS = 48
DEFAULT_SERVER_PYTHON = "/work/lcp-venv/bin/python"
BUILD_HINT = (
    "python3.11 -m venv /work/lcp-venv && "
    "CMAKE_ARGS=\"-DGGML_NATIVE=ON\" /work/lcp-venv/bin/pip install 'llama-cpp-python[server]'"
)
TASKS = [
    "Explain in a short paragraph how {} works.",
    "Write three practical tips about {}.",
    "Describe the main risks of {} for a small business.",
    "Summarise the history of {} in a few sentences.",
    "Write a friendly email to a colleague about {}.",
    "What are the advantages and disadvantages of {}?",
    "Give a beginner a step-by-step introduction to {}.",
    "Write a short story that involves {}.",
]
SUBJECTS = [
    "solar panels",
    "password managers",
    "electric bicycles",
    "cloud backups",
    "remote work",
    "composting",
    "online invoicing",
    "customer support chat",
    "public libraries",
    "video calls",
    "recycling plastic",
    "spreadsheets",
    "bread baking",
    "train travel",
    "email newsletters",
    "first aid training",
]


def prompts() -> list[str]:
    return [task.format(subject) for task in TASKS for subject in SUBJECTS]


def matmul_peak_gflops(dtype=torch.bfloat16) -> float:
    """Best of several square GEMMs in the engine's dtype, measured now."""
    best = 0.0
    for size in (1024, 2048):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        for _ in range(2):
            a @ b
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(4):
                a @ b
            best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def requests(texts: list[str]) -> list[GenerationRequest]:
    params = InferenceParams(max_new_tokens=NEW_TOKENS, timeout_s=3600)
    return [GenerationRequest.from_prompt(text, params, key=str(i)) for i, text in enumerate(texts)]


def engine_run(texts: list[str], dtype: str, rows: int, *, repeats: int = 2) -> dict:
    spec = dataclasses.replace(DEFAULT_GENERATOR, dtype=dtype)
    backend = runtime.get_backend(spec)
    backend.generate(requests(texts[:8]), batch_size=8)  # warm up allocators and oneDNN kernels
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        results = backend.generate(requests(texts), batch_size=rows)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[0]:
            best = (seconds, results)
    seconds, results = best
    tokens = sum(r.tokens_out for r in results)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return {
        "tokens_per_s": tokens / seconds,
        "seconds": seconds,
        "tokens": tokens,
        "texts": [r.text for r in results],
        "prompt_tokens": sum(r.tokens_in for r in results),
    }


def sequential_run(texts: list[str], folder: Path) -> dict:
    """Plain transformers generate(), one prompt at a time, float32: baseline and reference text."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    outputs, sequences, tokens, seconds = [], [], 0, 0.0
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            start = time.perf_counter()
            output = model.generate(**ids, max_new_tokens=NEW_TOKENS, do_sample=False)
            seconds += time.perf_counter() - start
            generated = output[0, ids["input_ids"].shape[1] :]
            tokens += generated.shape[0]
            outputs.append(tokenizer.decode(generated, skip_special_tokens=True))
            sequences.append((output[0], ids["input_ids"].shape[1]))
    return {
        "tokens_per_s": tokens / seconds,
        "seconds": seconds,
        "tokens": tokens,
        "texts": outputs,
        "sequences": sequences,
    }


def teacher_forced(sequences: list[tuple[torch.Tensor, int]], folder: Path, dtype: str) -> dict:
    """The float32 reference texts fed through the engine's own kernel (the prefill it decodes with) in
    `dtype`: the share of generated positions where the engine's top token is the reference's next token
    (token_agreement), and the largest difference between its logits and transformers' float32 forward
    (max_logit_diff). Unlike greedy_match, one early near-tie does not count as a whole wrong text."""
    from transformers import AutoModelForCausalLM

    from llmcore.engine import loglik

    reference = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    loaded = loglik.load(dataclasses.replace(DEFAULT_GENERATOR, dtype=dtype))
    if loaded.kernel is None:
        return {"token_agreement": None, "max_logit_diff": None, "positions": 0}
    agree = positions = 0
    max_diff = 0.0
    with torch.inference_mode():
        for ids, prompt_length in sequences:
            row = ids[None, :]
            engine = loaded.kernel._logits(loaded.kernel._prefill(row, 0, None, [])).logits[0].float()
            expected = reference(input_ids=row).logits[0].float()
            span = slice(prompt_length - 1, ids.shape[0] - 1)  # positions that predicted a generated token
            agree += int((engine[span].argmax(-1) == ids[prompt_length:]).sum())
            positions += ids.shape[0] - prompt_length
            max_diff = max(max_diff, float((engine[span] - expected[span]).abs().max()))
    loglik._cached.clear()
    return {
        "token_agreement": round(agree / positions, 4) if positions else None,
        "max_logit_diff": round(max_diff, 3),
        "positions": positions,
    }


def generate_batched_run(texts: list[str], folder: Path, dtype: torch.dtype, batch: int) -> float:
    """Plain transformers generate() on left-padded batches (for comparison)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()
    rendered = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": t}], add_generation_prompt=True, tokenize=False
        )
        for t in texts
    ]
    tokens, start = 0, time.perf_counter()
    with torch.inference_mode():
        for offset in range(0, len(rendered), batch):
            enc = tokenizer(
                rendered[offset : offset + batch], return_tensors="pt", padding=True, add_special_tokens=False
            )
            out = model.generate(
                **enc, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
            generated = out[:, enc["input_ids"].shape[1] :]
            tokens += int((generated != tokenizer.pad_token_id).sum()) + int(
                (generated == tokenizer.pad_token_id).any(dim=1).sum()
            )
    return tokens / (time.perf_counter() - start)


def match(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=False)) / len(b)


# -- --backend openai: the same workload through the openai-compatible backend ----------------------------


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, timeout: float = 2.0):
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback or given URL)
        return json.loads(response.read())


class LlamaCppServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the default model's GGUF file;
    started by start(), stopped by stop() (also at exit, and when this process dies on Linux)."""

    def __init__(self, python: str, model: Path, threads: int, log):
        self.python, self.model, self.threads, self.log = python, model, threads, log
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = None
        self.output = None

    def command(self) -> list[str]:
        return [
            self.python, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--n_ctx", "2048",
            "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads),
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip

    def start(self, timeout_s: float = 180.0) -> None:
        import atexit
        import subprocess
        import tempfile

        handle, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.output = Path(name)
        self.log(f"starting llama.cpp server: {' '.join(self.command())} (log: {self.output})")
        with os.fdopen(handle, "wb") as output:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"the llama.cpp server exited with code {self.process.returncode} before answering:\n"
                    f"{self.tail()}"
                )
            try:
                _get_json(self.base_url + "/models")
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise SystemExit(
            f"the llama.cpp server did not answer /v1/models within {timeout_s:.0f} s:\n{self.tail()}"
        )

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def stop(self) -> None:
        import subprocess

        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench dies (Linux), so no server is left behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _allow_host(base_url: str) -> None:
    """Lets the openai-compatible backend call this server: hosts are refused unless the instance lists
    them (loopback only when its address is listed), like settings.ASSAY_MODEL_HOSTS in the tests. Outside
    Django the policy comes from the ASSAY_MODEL_HOSTS environment variable; only this host:port is added."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    entries = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    try:
        for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            address = str(info[4][0]).split("%")[0]
            entries.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    except OSError:
        pass
    existing = [e for e in os.environ.get("ASSAY_MODEL_HOSTS", "").split(",") if e.strip()]
    os.environ["ASSAY_MODEL_HOSTS"] = ",".join(dict.fromkeys(existing + entries))


def openai_run(spec, texts: list[str], concurrency: int, repeats: int) -> dict:
    backend = runtime.get_backend(spec)
    backend.generate(requests(texts[: min(4, len(texts))]), batch_size=concurrency)  # warm up the server
    best = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        results = backend.generate(requests(texts), batch_size=concurrency)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[0]:
            best = (seconds, results)
    seconds, results = best
    latencies = sorted(r.latency_s for r in results if r.ok)
    return {
        "seconds": seconds,
        "results": results,
        "tokens_out": sum(r.tokens_out for r in results),
        "tokens_in": sum(r.tokens_in for r in results),
        "errors": sum(not r.ok for r in results),
        "latency_p50_s": latencies[len(latencies) // 2] if latencies else None,
        "latency_max_s": latencies[-1] if latencies else None,
    }


def openai_main(args) -> None:
    from collections import Counter

    from llmcore.engine.gguf import gguf_path
    from llmcore.engine.local import _cpu_has_fast_bf16
    from llmcore.engine.types import BackendKind, ModelSpec

    log = print if sys.stderr.isatty() else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    texts = prompts()
    if args.prompts:
        texts = texts[: args.prompts]
    concurrency = max(1, args.concurrency)
    server = None
    base_url = args.base_url.rstrip("/")
    server_name = args.server or ("llama.cpp" if not base_url else "given")
    try:
        if not base_url:
            python = Path(args.server_python)
            if not python.exists():
                raise SystemExit(
                    f"--backend openai without --base-url starts a llama.cpp server with {python}, which does "
                    f"not exist. Build it (about 10 minutes) with:\n    {BUILD_HINT}\n"
                    "or pass --server-python PATH, or --base-url http://HOST:PORT/v1 of a running server."
                )
            model = gguf_path(DEFAULT_GENERATOR)
            server = LlamaCppServer(str(python), model, args.server_threads, log)
            server.start()
            base_url = server.base_url
        _allow_host(base_url)
        remote_model = args.remote_model
        if not remote_model:
            try:
                remote_model = _get_json(base_url + "/models", timeout=10)["data"][0]["id"]
            except (OSError, ValueError, KeyError, IndexError, TypeError):
                remote_model = DEFAULT_GENERATOR.name
        spec = ModelSpec(
            name=f"bench-{server_name}",
            backend=BackendKind.OPENAI_COMPATIBLE,
            source=base_url,
            remote_model=remote_model,
            request_timeout_s=3600.0,  # a serialising server keeps the last of 64 in-flight requests waiting
            max_concurrency=concurrency,
        )
        log(
            f"{server_name} at {base_url}: {len(texts)} prompts x {NEW_TOKENS} new tokens, {concurrency} in flight"
        )
        run = openai_run(spec, texts, concurrency, args.repeats)
    finally:
        if server is not None:
            server.stop()
    results = run["results"]
    log(
        f"{server_name}: {run['tokens_out'] / run['seconds']:.1f} tokens/s "
        f"({run['tokens_out']} tokens in {run['seconds']:.2f} s, {run['errors']} errors)"
    )
    errors = [r.error for r in results if not r.ok]
    report = {
        "backend": "openai",
        "base_url": base_url,
        "server": server_name,
        "remote_model": remote_model,
        "model": DEFAULT_GENERATOR.name if server is not None else remote_model,
        "prompts": len(texts),
        "max_new_tokens": NEW_TOKENS,
        "greedy": True,
        "concurrency": concurrency,
        "server_threads": args.server_threads if server is not None else None,
        "wall_s": round(run["seconds"], 2),
        "tokens_out": run["tokens_out"],
        "prompt_tokens_total": run["tokens_in"],
        "tokens_per_s": round(run["tokens_out"] / run["seconds"], 1),
        "requests_per_s": round(len(texts) / run["seconds"], 2),
        "latency_p50_s": round(run["latency_p50_s"], 2) if run["latency_p50_s"] is not None else None,
        "latency_max_s": round(run["latency_max_s"], 2) if run["latency_max_s"] is not None else None,
        "finish_reasons": dict(Counter(str(r.finish_reason) for r in results)),
        "errors": run["errors"],
        "first_error": errors[0] if errors else None,
        "repeats": max(1, args.repeats),
        "cpu": platform.processor() or platform.machine(),
        "cpu_native_bf16": _cpu_has_fast_bf16(),
        "note": "tokens/s = completion tokens (server's usage) / wall time of one backend.generate call, "
        "prompt processing included, server start and warm-up excluded; cores shared with other work",
    }
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 reference prompts instead of 128")
    parser.add_argument("--ablations", action="store_true", help="also time the variants in the docstring")
    parser.add_argument("--rows", type=int, default=128, help="sequences decoded at once by the engine")
    parser.add_argument(
        "--backend",
        choices=("engine", "openai"),
        default="engine",
        help="engine: Assay's own engine (the default run); openai: the same workload through Assay's "
        "openai-compatible backend against an HTTP server (--base-url, or a llama.cpp server started here)",
    )
    parser.add_argument(
        "--base-url",
        default="",
        help="openai: the server's base URL (http://host:port/v1); default: start llama.cpp's server "
        "(llama-cpp-python) on 127.0.0.1 on a free port with the default model's GGUF file",
    )
    parser.add_argument(
        "--server-python",
        default=DEFAULT_SERVER_PYTHON,
        help=f"openai: the Python with llama-cpp-python[server] installed (default {DEFAULT_SERVER_PYTHON})",
    )
    parser.add_argument("--server", default="", help="openai: server name for the report (with --base-url)")
    parser.add_argument(
        "--remote-model", default="", help="openai: model name to send (default: from /v1/models)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="openai: requests in flight (the model's max_concurrency)"
    )
    parser.add_argument("--server-threads", type=int, default=2, help="openai: llama.cpp server --n_threads")
    parser.add_argument(
        "--prompts", type=int, default=0, help="openai: only the first N prompts (default: all of them)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="openai: timed runs, best one reported")
    args = parser.parse_args()
    os.environ.setdefault("ASSAY_DATA_DIR", str(REPO / "var"))
    if args.backend == "openai":
        openai_main(args)
        return

    texts = prompts()
    log = print if sys.stderr.isatty() else (lambda *a, **k: print(*a, **k, file=sys.stderr))
    folder_spec = dataclasses.replace(DEFAULT_GENERATOR, dtype="float32")
    from llmcore.engine.gguf import converted_folder, gguf_path

    folder = converted_folder(gguf_path(folder_spec))
    log(
        f"model folder: {folder}; {len(texts)} prompts x {NEW_TOKENS} new tokens; threads {torch.get_num_threads()}"
    )

    from llmcore.engine.local import _cpu_has_fast_bf16

    fast_bf16 = _cpu_has_fast_bf16()
    peak_dtype = torch.bfloat16 if fast_bf16 else torch.float32
    peak = matmul_peak_gflops(peak_dtype)
    parameters = DEFAULT_GENERATOR.parameter_count
    compute_bound = peak * 1e9 / (2 * parameters)
    log(f"{peak_dtype} matmul peak {peak:.0f} GFLOP/s -> compute bound {compute_bound:.0f} tokens/s")

    # Without native bf16 matmuls (AVX-512 BF16 / AMX) bfloat16 GEMMs fall back to slow emulation, so
    # the engine's 'auto' dtype is float32 there and bfloat16 is not measured.
    runs = {}
    for dtype in ("bfloat16", "float32") if fast_bf16 else ("float32",):
        runs[dtype] = engine_run(texts, dtype, args.rows)
        log(
            f"engine {dtype}: {runs[dtype]['tokens_per_s']:.0f} tokens/s "
            f"({runs[dtype]['tokens']} tokens in {runs[dtype]['seconds']:.2f} s)"
        )
        runtime.unload_all()

    reference_count = 16 if args.quick else len(texts)
    sequential = sequential_run(texts[:reference_count], folder)
    log(f"sequential float32: {sequential['tokens_per_s']:.1f} tokens/s over {reference_count} prompts")

    # Teacher-forced check of the engine's arithmetic in each precision (bfloat16 too where it is only
    # emulated: prefill of the reference texts is cheap enough).
    forced = {}
    for dtype in ("float32", "bfloat16"):
        forced[dtype] = teacher_forced(sequential["sequences"], folder, dtype)
        log(f"teacher-forced {dtype}: {forced[dtype]}")

    best_dtype = max(runs, key=lambda d: runs[d]["tokens_per_s"])
    best = runs[best_dtype]
    report = {
        "model": DEFAULT_GENERATOR.name,
        "prompts": len(texts),
        "new_tokens_per_prompt": NEW_TOKENS,
        "prompt_tokens_total": best["prompt_tokens"],
        "engine_rows": args.rows,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_native_bf16": fast_bf16,
        "sequential_tokens_per_s": round(sequential["tokens_per_s"], 1),
        "sequential_prompts_measured": reference_count,
        "sequential_note": "measured on all prompts"
        if reference_count == len(texts)
        else f"measured on the first {reference_count} prompts; tokens/s extrapolates to all",
        "engine_tokens_per_s": round(best["tokens_per_s"], 1),
        "engine_best_dtype": best_dtype,
        "engine_seconds": round(best["seconds"], 2),
        "engine_tokens": best["tokens"],
        "speedup": round(best["tokens_per_s"] / sequential["tokens_per_s"], 1),
        "matmul_peak_gflops": round(peak, 1),
        "matmul_peak_dtype": str(peak_dtype).removeprefix("torch."),
        "parameters": parameters,
        "compute_bound_tokens_per_s": round(compute_bound, 1),
        "fraction_of_compute_bound": round(best["tokens_per_s"] / compute_bound, 3),
        "greedy_match": round(match(best["texts"], sequential["texts"]), 3),
    }
    report["token_agreement"] = forced[best_dtype]["token_agreement"]
    report["max_logit_diff"] = forced[best_dtype]["max_logit_diff"]
    for dtype, figures in forced.items():
        report[f"token_agreement_{dtype}"] = figures["token_agreement"]
        report[f"max_logit_diff_{dtype}"] = figures["max_logit_diff"]
    report["token_agreement_positions"] = forced["float32"]["positions"]
    for dtype, run in runs.items():
        report[f"engine_{dtype}_tokens_per_s"] = round(run["tokens_per_s"], 1)
        report[f"greedy_match_{dtype}"] = round(match(run["texts"], sequential["texts"]), 3)
    report["speedup_float32"] = round(runs["float32"]["tokens_per_s"] / sequential["tokens_per_s"], 1)
    if args.ablations:
        ablations = {}
        variants = [("generate_batch64_float32", torch.float32, 64)]
        if fast_bf16:
            variants.append(("generate_batch64_bfloat16", torch.bfloat16, 64))
        for name, dtype, batch in variants:
            ablations[name] = round(generate_batched_run(texts, folder, dtype, batch), 1)
            log(f"{name}: {ablations[name]} tokens/s")
        from llmcore.engine import decoding

        saved = decoding.MIN_SHARED_PREFIX
        decoding.MIN_SHARED_PREFIX = 10**9
        ablations[f"engine_{best_dtype}_no_shared_prefix"] = round(
            engine_run(texts, best_dtype, args.rows, repeats=1)["tokens_per_s"], 1
        )
        decoding.MIN_SHARED_PREFIX = saved
        ablations[f"engine_{best_dtype}_64_rows"] = round(
            engine_run(texts, best_dtype, 64, repeats=1)["tokens_per_s"], 1
        )
        for name in list(ablations)[len(variants) :]:
            log(f"{name}: {ablations[name]} tokens/s")
        report["ablations_tokens_per_s"] = ablations
    report["note"] = (
        "tokens/s = generated tokens / wall time of one call, prompt processing included; cores shared with other work"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
