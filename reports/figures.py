"""Small shared conversions for the report documents."""

from __future__ import annotations

from llmcore.stats import Proportion


def interval(p: Proportion) -> dict | None:
    """A rate with its 95% Wilson interval, as the JSON carries it; None when nothing was counted."""
    if p.rate is None:
        return None
    return {
        "successes": p.successes,
        "n": p.n,
        "rate": round(p.rate, 4),
        "low": round(p.low, 4),
        "high": round(p.high, 4),
    }
