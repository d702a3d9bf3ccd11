"""The local engine on tiny random models: batching, padding, stops, counts, finish reasons, isolation
of bad items, sampling, timeouts, the model cache and cost."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from llmcore.engine import decoding
from llmcore.engine.local import TransformersBackend, load_pretrained
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import (
    BackendKind,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    ModelSpec,
    ProgressReporter,
)

PROMPTS = [
    "Hello world",
    "Summarise the ticket in one sentence and name the product, then say which team should answer it.",
    "refunds?",
    "The quick brown fox jumps over the lazy dog.",
    "Customers ask about invoices",
]


def tiny_spec(folder, **changes) -> ModelSpec:
    spec = ModelSpec(name="tiny", backend=BackendKind.TRANSFORMERS, source=str(folder), dtype="float32")
    return dataclasses.replace(spec, **changes)


def requests_for(prompts, **params) -> list[GenerationRequest]:
    values = InferenceParams(**{"max_new_tokens": 12, **params})
    return [GenerationRequest.from_prompt(p, values, key=f"k{i}") for i, p in enumerate(prompts)]


@pytest.fixture(scope="module")
def fast(tiny_model_dir) -> TransformersBackend:
    spec = tiny_spec(tiny_model_dir)
    return TransformersBackend(spec, load_pretrained(str(tiny_model_dir), spec))


@pytest.fixture(scope="module")
def reference(tiny_model_dir) -> TransformersBackend:
    """The same weights decoded by transformers' generate() on a left-padded batch."""
    spec = tiny_spec(tiny_model_dir)
    return TransformersBackend(spec, load_pretrained(str(tiny_model_dir), spec, fast=False))


def texts(results: list[GenerationResult]) -> list[str]:
    return [r.text for r in results]


# -- batching ---------------------------------------------------------------------------------------


def test_the_llama_model_runs_on_the_engines_own_loop_and_gpt2_on_generate(fast, tiny_gpt2_dir):
    assert fast.loaded.kernel is not None and fast.loaded.model is None
    spec = tiny_spec(tiny_gpt2_dir)
    assert load_pretrained(str(tiny_gpt2_dir), spec).kernel is None


def test_batched_greedy_outputs_equal_one_at_a_time_outputs(fast):
    requests = requests_for(PROMPTS)
    alone = [fast.generate([r])[0] for r in requests]
    together = fast.generate(requests)
    assert texts(together) == texts(alone)
    assert [r.tokens_out for r in together] == [r.tokens_out for r in alone]


def test_slots_are_refilled_when_fewer_rows_than_prompts(fast):
    requests = requests_for(PROMPTS)
    assert texts(fast.generate(requests, batch_size=2)) == texts(fast.generate(requests))


def test_engine_loop_matches_transformers_generate_on_a_left_padded_batch(fast, reference):
    requests = requests_for(PROMPTS)
    assert texts(fast.generate(requests)) == texts(reference.generate(requests))


def test_a_shared_system_prompt_is_prefilled_once_with_the_same_result(fast, reference):
    system = "You answer support tickets for the invoices team. Be brief, polite and precise."
    params = InferenceParams(max_new_tokens=10)
    requests = [
        GenerationRequest.from_prompt(p, params, key=str(i), system=system) for i, p in enumerate(PROMPTS)
    ]
    ids = [fast.render(r) for r in requests]
    assert decoding.common_prefix(ids) > 20
    assert texts(fast.generate(requests)) == texts(reference.generate(requests))


def test_generate_path_batched_equals_one_at_a_time_thanks_to_left_padding(reference):
    requests = requests_for(PROMPTS)
    assert texts(reference.generate(requests)) == texts([reference.generate([r])[0] for r in requests])


def test_a_non_llama_model_batches_through_generate(tiny_gpt2_dir):
    spec = tiny_spec(tiny_gpt2_dir)
    backend = TransformersBackend(spec, load_pretrained(str(tiny_gpt2_dir), spec))
    requests = requests_for(PROMPTS)
    assert texts(backend.generate(requests)) == texts([backend.generate([r])[0] for r in requests])


def test_penalties_give_the_same_text_on_both_paths(fast, reference):
    requests = requests_for(PROMPTS, repetition_penalty=1.3, frequency_penalty=0.8, presence_penalty=0.5)
    assert texts(fast.generate(requests)) == texts(reference.generate(requests))
    assert texts(fast.generate(requests)) != texts(fast.generate(requests_for(PROMPTS)))


# -- prompts, counts and finish reasons ----------------------------------------------------------------


def test_the_chat_template_is_applied_and_counted_as_input_tokens(fast):
    request = requests_for(["Hello world"])[0]
    ids = fast.render(request)
    assert (
        fast.loaded.tokenizer.decode(ids)
        == "<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n"
    )
    assert fast.generate([request])[0].tokens_in == len(ids)


def test_each_item_counts_its_own_tokens_and_stops_at_its_limit(fast):
    results = fast.generate(requests_for(PROMPTS, max_new_tokens=7))
    assert [r.tokens_in for r in results] == [len(fast.render(r)) for r in requests_for(PROMPTS)]
    assert all(r.tokens_out == 7 and r.finish_reason == FinishReason.LENGTH for r in results)
    assert all(r.latency_s > 0 for r in results)


def test_an_end_of_sequence_token_finishes_the_item_with_stop(fast):
    request = requests_for(["Hello world"])[0]
    ids = fast.render(request)
    (plain,) = decoding.generate_batched(
        fast.loaded.kernel,
        fast.loaded.tokenizer,
        [decoding.Item(ids, 12)],
        request.params,
        rows=1,
        eos_ids=set(),
    )
    # Declare a token the model produces a few steps in the end-of-sequence token.
    stop_at = next(i for i, t in enumerate(plain.token_ids) if i >= 2 and t not in plain.token_ids[:i])
    eos = plain.token_ids[stop_at]
    backend = TransformersBackend(fast.spec, dataclasses.replace(fast.loaded, eos_ids={eos}))
    result = backend.generate([request])[0]
    assert result.finish_reason == FinishReason.STOP
    assert result.tokens_out == stop_at + 1
    assert result.text == fast.loaded.tokenizer.decode(plain.token_ids[:stop_at])


def test_a_stop_sequence_truncates_the_text_of_that_item(fast):
    requests = requests_for(PROMPTS)
    plain = fast.generate(requests)
    stop = plain[1].text[5:8]
    stopped = fast.generate(requests_for(PROMPTS, stop=(stop,)))
    assert stopped[1].finish_reason == FinishReason.STOP
    assert stopped[1].text == plain[1].text[: plain[1].text.find(stop)]
    for before, after in zip(plain, stopped, strict=True):
        if stop not in before.text:
            assert (after.text, after.finish_reason) == (before.text, before.finish_reason)


def test_stop_sequences_behave_the_same_on_generate(fast, reference):
    stop = fast.generate(requests_for(PROMPTS))[3].text[4:6]
    requests = requests_for(PROMPTS, stop=(stop,))
    ours, theirs = fast.generate(requests), reference.generate(requests)
    assert texts(ours) == texts(theirs)
    assert [r.finish_reason for r in ours] == [r.finish_reason for r in theirs]


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_a_prompt_longer_than_the_context_window_fails_alone(path, request):
    backend = request.getfixturevalue(path)
    prompts = [PROMPTS[0], "word " * 300, PROMPTS[2]]
    results = backend.generate(requests_for(prompts))
    assert [r.finish_reason for r in results] == [
        FinishReason.LENGTH,
        FinishReason.ERROR,
        FinishReason.LENGTH,
    ]
    assert "context window is 256 tokens" in results[1].error
    assert results[0].text == backend.generate(requests_for(prompts[:1]))[0].text


def test_the_spec_context_window_caps_new_tokens(fast):
    request = requests_for(["Hello world"], max_new_tokens=50)[0]
    prompt_tokens = len(fast.render(request))
    backend = TransformersBackend(
        dataclasses.replace(fast.spec, context_window=prompt_tokens + 3), fast.loaded
    )
    result = backend.generate([request])[0]
    assert (result.tokens_out, result.finish_reason) == (3, FinishReason.LENGTH)


def test_a_failing_chat_template_fails_that_item_alone(fast):
    good = requests_for(["Hello world"])[0]
    bad = dataclasses.replace(good, key="bad")
    tokenizer = fast.loaded.tokenizer
    original = tokenizer.chat_template
    tokenizer.chat_template = (
        "{% if messages[0]['content'] == 'boom' %}{{ raise_exception('no boom') }}{% endif %}" + original
    )
    try:
        bad = GenerationRequest.from_prompt("boom", good.params, key="bad")
        results = fast.generate([good, bad])
    finally:
        tokenizer.chat_template = original
    assert results[0].ok and results[1].finish_reason == FinishReason.ERROR
    assert "no boom" in results[1].error


# -- sampling and time ---------------------------------------------------------------------------------


def test_a_seed_reproduces_sampled_outputs_and_another_seed_changes_them(fast):
    sampled = {"temperature": 1.5, "top_k": 50, "top_p": 0.95, "max_new_tokens": 16}
    first = texts(fast.generate(requests_for(PROMPTS, seed=7, **sampled)))
    assert texts(fast.generate(requests_for(PROMPTS, seed=7, **sampled))) == first
    assert texts(fast.generate(requests_for(PROMPTS, seed=8, **sampled))) != first
    assert first != texts(fast.generate(requests_for(PROMPTS)))


def test_a_seed_reproduces_sampled_outputs_on_generate(reference):
    sampled = {"temperature": 1.5, "seed": 3, "max_new_tokens": 10}
    assert texts(reference.generate(requests_for(PROMPTS, **sampled))) == texts(
        reference.generate(requests_for(PROMPTS, **sampled))
    )


def test_greedy_decoding_is_deterministic(fast):
    requests = requests_for(PROMPTS)
    assert texts(fast.generate(requests)) == texts(fast.generate(requests))


def test_the_engine_loop_stops_an_item_at_its_deadline(fast):
    ticks = itertools.count()
    request_items = [decoding.Item(fast.render(r), 50) for r in requests_for(PROMPTS[:2])]
    outcomes = decoding.generate_batched(
        fast.loaded.kernel,
        fast.loaded.tokenizer,
        request_items,
        InferenceParams(timeout_s=5),
        rows=2,
        eos_ids=set(),
        clock=lambda: float(next(ticks)),  # every clock reading is one second later
    )
    assert all(o.finish_reason == FinishReason.TIMEOUT for o in outcomes)
    assert all(0 < len(o.token_ids) < 50 for o in outcomes)


def test_generate_stops_the_batch_at_its_deadline(reference):
    results = reference.generate(requests_for(PROMPTS, max_new_tokens=50, timeout_s=1e-6))
    assert all(r.finish_reason == FinishReason.TIMEOUT and r.tokens_out < 50 for r in results)


# -- runtime: grouping, cache, cost --------------------------------------------------------------------


def test_runtime_groups_by_parameters_and_keeps_the_callers_order(engine_runtime, tiny_model_dir):
    spec = tiny_spec(tiny_model_dir)
    greedy = requests_for(PROMPTS[:2])
    limited = requests_for(PROMPTS[2:4], max_new_tokens=3)
    mixed = [greedy[0], limited[0], greedy[1], limited[1]]
    results = engine_runtime.generate(spec, mixed)
    assert [r.key for r in results] == [r.key for r in mixed]
    assert [r.tokens_out for r in results] == [12, 3, 12, 3]


def test_a_model_is_loaded_once_per_process(engine_runtime, tiny_model_dir):
    spec = tiny_spec(tiny_model_dir)
    assert engine_runtime.get_backend(spec).loaded is engine_runtime.get_backend(spec).loaded
    assert engine_runtime.loaded_keys() == [spec.cache_key]


def test_the_least_recently_used_model_is_unloaded_past_the_memory_budget(
    engine_runtime, tiny_model_dir, tiny_gpt2_dir, settings
):
    first, second = tiny_spec(tiny_model_dir), tiny_spec(tiny_gpt2_dir)
    size = engine_runtime.get_backend(first).memory_bytes()
    engine_runtime.get_backend(second)
    assert engine_runtime.loaded_keys() == [first.cache_key, second.cache_key]
    engine_runtime.unload_all()
    settings.MODEL_MEMORY_BUDGET_MB = size * 1.5 / 2**20  # room for one tiny model, not two
    engine_runtime.get_backend(first)
    engine_runtime.get_backend(second)
    assert engine_runtime.loaded_keys() == [second.cache_key]
    engine_runtime.get_backend(first)
    assert engine_runtime.loaded_keys() == [first.cache_key]


def test_local_cost_is_wall_time_at_the_hourly_rate_shared_by_token_share(engine_runtime):
    spec = ModelSpec(name="m", backend=BackendKind.GGUF, source="x", cost_per_hour=3.6)
    results = [
        GenerationResult("a", "", FinishReason.STOP, tokens_in=10, tokens_out=20),
        GenerationResult("b", "", FinishReason.STOP, tokens_in=60, tokens_out=10),
    ]
    # 10 s at $3.60/h = $0.01, split 30:70.
    assert engine_runtime.item_costs(spec, results, 10.0) == pytest.approx([0.003, 0.007])


def test_hosted_cost_is_tokens_times_price(engine_runtime):
    spec = ModelSpec(
        name="m",
        backend=BackendKind.OPENAI_COMPATIBLE,
        source="x",
        cost_per_1k_input=0.5,
        cost_per_1k_output=1.5,
    )
    results = [GenerationResult("a", "", FinishReason.STOP, tokens_in=1000, tokens_out=2000)]
    assert engine_runtime.item_costs(spec, results, 99.0) == pytest.approx([0.5 + 3.0])


def test_runtime_fills_in_the_cost_of_each_item(engine_runtime, tiny_model_dir):
    spec = tiny_spec(tiny_model_dir, cost_per_hour=3600.0)
    results = engine_runtime.generate(spec, requests_for(PROMPTS[:2]))
    assert all(r.cost > 0 for r in results)


# -- progress and cancel within a call --------------------------------------------------------------------


class Recorder:
    """A caller's Progress: keeps what was reported; says stop once `stop_after` results came in."""

    def __init__(self, stop_after: int | None = None):
        self.reports: list[list[GenerationResult]] = []
        self.stop_after = stop_after

    def report(self, results):
        self.reports.append(list(results))

    def cancelled(self):
        return self.stop_after is not None and sum(map(len, self.reports)) >= self.stop_after


def reporter_for(progress) -> ProgressReporter:
    return ProgressReporter(progress, interval_s=0, poll_s=0)


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_finished_results_are_reported_during_the_call_each_once(path, request):
    backend = request.getfixturevalue(path)
    progress = Recorder()
    reporter = reporter_for(progress)
    results = backend.generate(requests_for(PROMPTS * 2), batch_size=3, reporter=reporter)
    reporter.flush()
    reported = [r.key for report in progress.reports for r in report]
    assert len(progress.reports) > 1  # not all at the end
    assert sorted(reported) == sorted(r.key for r in results) and len(set(reported)) == len(reported)


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_a_cancel_stops_the_call_and_keeps_what_finished(path, request):
    backend = request.getfixturevalue(path)
    progress = Recorder(stop_after=2)
    reporter = reporter_for(progress)
    results = backend.generate(requests_for(PROMPTS * 4), batch_size=2, reporter=reporter)
    reporter.flush()
    kept = [r for r in results if r.finish_reason != FinishReason.CANCELLED]
    cancelled = [r for r in results if r.finish_reason == FinishReason.CANCELLED]
    assert 2 <= len(kept) < len(results) and cancelled
    assert all(r.text == "" and not r.ok for r in cancelled)
    assert {r.key for report in progress.reports for r in report} == {r.key for r in kept}


def test_runtime_prices_reported_results_and_never_reports_cancelled_ones(
    engine_runtime, tiny_model_dir, settings
):
    from llmcore.engine import runtime

    settings.ASSAY_PROGRESS_INTERVAL_S = 0
    spec = tiny_spec(tiny_model_dir, cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    progress = Recorder(stop_after=1)
    results = runtime.generate(spec, requests_for(PROMPTS * 4), batch_size=1, progress=progress)
    reported = [r for report in progress.reports for r in report]
    assert reported and all(r.cost > 0 for r in reported)
    assert all(r.finish_reason != FinishReason.CANCELLED for r in reported)
    assert any(r.finish_reason == FinishReason.CANCELLED for r in results)
