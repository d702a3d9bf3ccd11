"""The engine's own batched decoding loop over LlamaKernel: continuous batching with a slot cache.

- Prompts are admitted shortest first, so each prefill chunk holds prompts of similar length (little
  padding), and prefilled in chunks bounded by a token budget.
- The longest token prefix shared by every prompt of the call (chat template + system prompt +
  few-shot examples) is prefilled once and copied into each slot.
- Every step decodes one token for every live row. A row that finishes (end-of-sequence token, stop
  sequence, its token limit, its deadline) frees its slot, which the next waiting prompt refills; when
  nothing waits and a quarter of the rows are free, the cache is compacted so dead rows cost nothing.
- Sampling draws from one torch.Generator seeded per call, so a seed reproduces the outputs of the
  same batch composition; greedy decoding needs no randomness.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .llama_kernel import LlamaKernel, SlotCache, Step
from .params import InferenceParams
from .processors import choose, needs_counts, needs_seen, penalize, warp
from .types import FinishReason

# A shared prefix shorter than this is not worth a separate prefill.
MIN_SHARED_PREFIX = 4
# Tokens per prefill forward pass (rows x padded width): bounds activation memory, keeps GEMMs large.
PREFILL_TOKEN_BUDGET = 2048


@dataclass
class Item:
    prompt_ids: list[int]
    max_new_tokens: int


@dataclass
class Outcome:
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: FinishReason = FinishReason.LENGTH
    latency_s: float = 0.0


class TextTracker:
    """Decodes a row's tokens and finds the first stop sequence; the end-of-sequence token is not text."""

    def __init__(self, tokenizer, stops: tuple[str, ...]):
        self.tokenizer = tokenizer
        self.stops = stops

    def text(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def cut_at_stop(self, text: str) -> str | None:
        """The text before the earliest stop sequence, or None when there is none."""
        cuts = [index for index in (text.find(stop) for stop in self.stops) if index >= 0]
        return text[: min(cuts)] if cuts else None


def common_prefix(sequences: list[list[int]]) -> int:
    first = sequences[0]
    limit = min(len(s) for s in sequences) - 1  # leave at least one token per prompt to prefill
    length = 0
    while length < limit and all(s[length] == first[length] for s in sequences):
        length += 1
    return length


@torch.inference_mode()
def generate_batched(
    kernel: LlamaKernel,
    tokenizer,
    items: list[Item],
    params: InferenceParams,
    *,
    rows: int,
    eos_ids: set[int],
    kv_budget_bytes: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_finish: Callable[[int, Outcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Outcome]:
    """One Outcome per item, in order. `rows` sequences decode at once (the cache's batch size), fewer
    when their key/value cache would not fit in kv_budget_bytes. on_finish(index, outcome) is called as
    each item finishes; should_stop() before every step: when it says stop, the items not finished come
    back CANCELLED with no text."""
    if not items:
        return []
    outcomes = [Outcome() for _ in items]
    tracker = TextTracker(tokenizer, params.stop)
    generator = torch.Generator()
    generator.manual_seed(params.seed if params.seed is not None else torch.seed())

    prefix_len = common_prefix([item.prompt_ids for item in items])
    prefix = kernel.prefix(items[0].prompt_ids[:prefix_len]) if prefix_len >= MIN_SHARED_PREFIX else None
    if prefix is None:
        prefix_len = 0

    max_len = max(len(item.prompt_ids) - prefix_len + item.max_new_tokens for item in items)
    rows = max(1, min(rows, len(items)))
    if kv_budget_bytes is not None:
        per_row = SlotCache.bytes_per_row(kernel.config, max_len)
        rows = max(1, min(rows, kv_budget_bytes // max(per_row, 1)))
    cache = kernel.new_cache(rows, max_len, prefix)
    vocab = kernel.vocab_size
    seen = torch.zeros((rows, vocab), dtype=torch.bool) if needs_seen(params) else None
    counts = torch.zeros((rows, vocab), dtype=torch.float32) if needs_counts(params) else None
    next_tokens = torch.zeros(rows, dtype=torch.long)
    slot_item: list[int | None] = [None] * rows
    started = [0.0] * len(items)
    pending = deque(sorted(range(len(items)), key=lambda index: len(items[index].prompt_ids)))

    def finish(slot: int, reason: FinishReason, text: str | None = None) -> None:
        index = slot_item[slot]
        outcome = outcomes[index]
        outcome.finish_reason = reason
        ids = [t for t in outcome.token_ids if t not in eos_ids]
        outcome.text = tracker.text(ids) if text is None else text
        outcome.latency_s = clock() - started[index]
        slot_item[slot] = None
        cache.free(slot)
        if on_finish is not None:
            on_finish(index, outcome)

    def accept(slots: torch.Tensor, step: Step) -> None:
        """Chooses the next token of each listed slot and finishes the rows that are done."""
        if params.greedy and seen is None and counts is None:
            chosen = kernel.greedy(step)
        else:
            scores = penalize(
                step.logits.float(),
                params,
                seen=None if seen is None else seen[slots],
                counts=None if counts is None else counts[slots],
            )
            chosen = choose(warp(scores, params), params, generator)
        next_tokens[slots] = chosen
        if seen is not None:
            seen[slots, chosen] = True
        if counts is not None:
            counts[slots, chosen] += 1
        now = clock()
        for slot, token in zip(slots.tolist(), chosen.tolist(), strict=True):
            index = slot_item[slot]
            outcome = outcomes[index]
            outcome.token_ids.append(token)
            if token in eos_ids:
                finish(slot, FinishReason.STOP)
                continue
            if tracker.stops:
                cut = tracker.cut_at_stop(tracker.text(outcome.token_ids))
                if cut is not None:
                    finish(slot, FinishReason.STOP, cut)
                    continue
            if len(outcome.token_ids) >= items[index].max_new_tokens:
                finish(slot, FinishReason.LENGTH)
            elif now - started[index] >= params.timeout_s:
                finish(slot, FinishReason.TIMEOUT)

    def admit() -> None:
        free = [slot for slot in range(cache.rows) if slot_item[slot] is None]
        take = [pending.popleft() for _ in range(min(len(free), len(pending)))]
        position = 0
        while position < len(take):
            # Admission order is by length, so the last prompt of a chunk is its widest.
            count = 1
            while position + count < len(take):
                width = len(items[take[position + count]].prompt_ids) - prefix_len
                if (count + 1) * width > PREFILL_TOKEN_BUDGET:
                    break
                count += 1
            chunk = take[position : position + count]
            slots = free[position : position + count]
            position += count
            now = clock()
            for slot, index in zip(slots, chunk, strict=True):
                slot_item[slot] = index
                started[index] = now
            slot_tensor = torch.tensor(slots, dtype=torch.long)
            if seen is not None:
                seen[slot_tensor] = False
                for slot, index in zip(slots, chunk, strict=True):
                    seen[slot, items[index].prompt_ids] = True
            if counts is not None:
                counts[slot_tensor] = 0
            step = kernel.prefill(
                cache, slot_tensor, [items[index].prompt_ids[prefix_len:] for index in chunk]
            )
            accept(slot_tensor, step)

    def compact() -> None:
        nonlocal seen, counts, next_tokens, slot_item
        keep = [slot for slot in range(cache.rows) if slot_item[slot] is not None]
        keep_tensor = torch.tensor(keep, dtype=torch.long)
        cache.keep(keep_tensor)
        next_tokens = next_tokens[keep_tensor]
        seen = None if seen is None else seen[keep_tensor]
        counts = None if counts is None else counts[keep_tensor]
        slot_item = [slot_item[slot] for slot in keep]

    def cancel_rest() -> None:
        for index in [i for i in slot_item if i is not None] + list(pending):
            outcomes[index] = Outcome(finish_reason=FinishReason.CANCELLED)

    admit()
    while True:
        if should_stop is not None and should_stop():
            cancel_rest()
            break
        live = sum(index is not None for index in slot_item)
        if pending and cache.rows - live >= max(1, cache.rows // 8):
            admit()
            live = sum(index is not None for index in slot_item)
        if live == 0:
            if not pending:
                break
            continue
        if not pending and cache.rows - live >= max(1, cache.rows // 4):
            compact()
        step = kernel.decode(cache, next_tokens)
        if live == cache.rows:
            accept(torch.arange(cache.rows), step)
        else:
            active = torch.tensor([slot for slot, index in enumerate(slot_item) if index is not None])
            accept(active, step.rows(active))
    return outcomes
