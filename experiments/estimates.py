"""Before an experiment starts: how many generations, how long, how much. Pure functions over plain values.

Time per cell = output tokens / the model's measured throughput: the median tokens/s of its recent engine
calls (llmcore/throughput.py: every batch any worker ran, and the registry's "measure" job), with the
slowest and fastest of those calls as the range, plus the model's load time once when a worker has not
loaded it yet. A model never measured is assumed to run at DEFAULT_TOKENS_PER_S and says so.
Output tokens are taken at their ceiling (every output uses max_new_tokens), so estimates are upper
bounds; input tokens are the rendered prompt's characters / CHARS_PER_TOKEN.

Cost: hosted models charge tokens × their rates per 1k; local models charge wall time × their rate
per hardware-hour.
"""

from __future__ import annotations

from dataclasses import dataclass

# Throughput assumed for a model the registry has not measured yet (tokens per second, batched).
DEFAULT_TOKENS_PER_S = 100.0
# A rough average for English text and BPE tokenisers.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class CellInput:
    label: str
    model_name: str
    local: bool
    tokens_per_s: float | None  # measured; None when never measured
    cost_per_1k_input: float
    cost_per_1k_output: float
    cost_per_hour: float
    max_new_tokens: int
    prompt_chars: float  # average rendered prompt length over the cases
    slowest_tokens_per_s: float | None = None  # the range of the measured calls
    fastest_tokens_per_s: float | None = None
    measured_calls: int = 0
    load_s: float = 0.0  # once, on a worker that has not loaded the model


@dataclass(frozen=True)
class CellEstimate:
    label: str
    model_name: str
    generations: int
    tokens_in: int
    tokens_out: int
    seconds: float
    cost: float
    tokens_per_s: float
    measured: bool
    seconds_low: float = 0.0
    seconds_high: float = 0.0
    measured_calls: int = 0
    load_s: float = 0.0

    @property
    def formula(self) -> str:
        if self.measured:
            calls = f"{self.measured_calls} measured call{'s' if self.measured_calls != 1 else ''}"
            speed = f"{self.tokens_per_s:,.0f} tokens/s (median of {calls})"
        else:
            speed = f"{self.tokens_per_s:,.0f} tokens/s (default: not measured yet)"
        load = f" + {self.load_s:,.0f} s to load the model" if self.load_s >= 1 else ""
        return (
            f"{self.generations:,} outputs × up to {self.tokens_out // max(self.generations, 1):,} tokens ÷ "
            f"{speed}{load}"
        )


@dataclass(frozen=True)
class GridEstimate:
    cells: tuple[CellEstimate, ...]
    cases: int
    repeats: int

    @property
    def generations(self) -> int:
        return sum(c.generations for c in self.cells)

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.cells)

    @property
    def seconds_low(self) -> float:
        return sum(c.seconds_low for c in self.cells)

    @property
    def seconds_high(self) -> float:
        return sum(c.seconds_high for c in self.cells)

    @property
    def measured(self) -> bool:
        return all(c.measured for c in self.cells)

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.cells)

    @property
    def tokens(self) -> int:
        return sum(c.tokens_in + c.tokens_out for c in self.cells)

    @property
    def unmeasured_models(self) -> list[str]:
        return sorted({c.model_name for c in self.cells if not c.measured})

    @property
    def formula(self) -> str:
        return (
            f"{len(self.cells)} run{'s' if len(self.cells) != 1 else ''} (prompt versions × models × "
            f"parameter sets) × {self.cases:,} case{'s' if self.cases != 1 else ''} × "
            f"{self.repeats} repeat{'s' if self.repeats != 1 else ''} = {self.generations:,} generations"
        )


def estimate_cell(cell: CellInput, cases: int, repeats: int) -> CellEstimate:
    generations = cases * repeats
    tokens_in = round(generations * cell.prompt_chars / CHARS_PER_TOKEN)
    tokens_out = generations * cell.max_new_tokens
    measured = bool(cell.tokens_per_s and cell.tokens_per_s > 0)
    speed = cell.tokens_per_s if measured else DEFAULT_TOKENS_PER_S
    load = cell.load_s if measured else 0.0
    seconds = tokens_out / speed + load  # type: ignore[operator]
    fastest = cell.fastest_tokens_per_s or speed
    slowest = cell.slowest_tokens_per_s or speed
    seconds_low = tokens_out / max(fastest, speed)  # type: ignore[type-var]
    seconds_high = tokens_out / min(slowest, speed) + load  # type: ignore[type-var]
    if cell.local:
        cost = seconds / 3600 * cell.cost_per_hour
    else:
        cost = tokens_in / 1000 * cell.cost_per_1k_input + tokens_out / 1000 * cell.cost_per_1k_output
    return CellEstimate(
        label=cell.label,
        model_name=cell.model_name,
        generations=generations,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        seconds=seconds,
        cost=cost,
        tokens_per_s=speed,  # type: ignore[arg-type]
        measured=measured,
        seconds_low=seconds_low,
        seconds_high=seconds_high,
        measured_calls=cell.measured_calls if measured else 0,
        load_s=load,
    )


def estimate_grid(cells: list[CellInput], cases: int, repeats: int) -> GridEstimate:
    return GridEstimate(tuple(estimate_cell(cell, cases, repeats) for cell in cells), cases, repeats)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_duration(estimate: GridEstimate) -> str:
    """ "about 50 s (40 s–1 min)" from measured speed; marked as a guess when a model was never measured."""
    if not estimate.measured:
        return f"about {format_duration(estimate.seconds)} (guess: a model's speed is not measured yet)"
    low, high = format_duration(estimate.seconds_low), format_duration(estimate.seconds_high)
    spread = "" if low == high else f" ({low}–{high})"
    return f"about {format_duration(estimate.seconds)}{spread}"
