"""Measured speed per model, from the engine calls themselves (ThroughputSample), for estimates and the
model page.

A model's speed is the median tokens/s of its recent warm calls (not the first call of a worker, which
includes loading the model), with the slowest and fastest of them as the range estimates show. The load
time is the median of how much longer cold calls took than the warm speed predicts.
"""

from __future__ import annotations

import platform
import statistics
from dataclasses import dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from .models import ThroughputSample

RECENT = 20  # warm calls a model's speed is taken from


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float  # median of recent warm calls
    slowest: float
    fastest: float
    samples: int
    batch_size: int  # median batch size of those calls
    load_s: float | None  # extra time of a call that loaded the model, when one was seen

    @property
    def label(self) -> str:
        spread = "" if self.samples < 2 else f" (range {self.slowest:,.0f}–{self.fastest:,.0f})"
        return f"{self.tokens_per_s:,.0f} tokens/s{spread}, from {self.samples} call{'s' if self.samples != 1 else ''}"


def record(model_id: int, batch_size: int, tokens_out: int, seconds: float, cold: bool) -> None:
    if batch_size < 1 or seconds <= 0:
        return
    ThroughputSample.objects.create(
        model_id=model_id,
        worker=platform.node()[:200],
        batch_size=batch_size,
        tokens_out=max(tokens_out, 0),
        seconds=seconds,
        cold=cold,
    )


def summarise(samples: list[tuple[int, int, float, bool]]) -> Throughput | None:
    """From (batch_size, tokens_out, seconds, cold) of a model's recent calls, newest first."""
    warm = [(b, t, s) for b, t, s, cold in samples if not cold and s > 0 and t > 0][:RECENT]
    if not warm:
        return None
    speeds = [t / s for _, t, s in warm]
    speed = statistics.median(speeds)
    extra = [s - t / speed for b, t, s, cold in samples if cold and s > 0]
    return Throughput(
        tokens_per_s=speed,
        slowest=min(speeds),
        fastest=max(speeds),
        samples=len(warm),
        batch_size=round(statistics.median(b for b, _, _ in warm)),
        load_s=max(0.0, statistics.median(extra)) if extra else None,
    )


def for_models(model_ids) -> dict[int, Throughput]:
    """{model id: Throughput} for models with warm calls; one query for any number of models."""
    model_ids = list(model_ids)
    if not model_ids:
        return {}
    ranked = (
        ThroughputSample.objects.filter(model_id__in=model_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("model_id")], order_by=F("created").desc()))
        .filter(rank__lte=RECENT * 2)
        .values_list("model_id", "batch_size", "tokens_out", "seconds", "cold", "rank")
    )
    rows: dict[int, list[tuple]] = {}
    for model_id, batch, tokens, seconds, cold, rank in ranked:
        rows.setdefault(model_id, []).append((rank, batch, tokens, seconds, cold))
    result = {}
    for model_id, items in rows.items():
        items.sort()
        summary = summarise([(b, t, s, c) for _, b, t, s, c in items])
        if summary is not None:
            result[model_id] = summary
    return result
