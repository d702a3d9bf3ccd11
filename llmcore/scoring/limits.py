"""Limits on an output's length, the generation's latency and its cost (pass when within the limits).

Latency and cost come from the generation's record; when it has none, the case is an error of the
scorer (not a pass), so a missing measurement never looks like a fast or free one.
"""

from __future__ import annotations

import re

from .base import GenerationMeta, Measure, Param, Scorer, ScorerError, ScoringCase, register

_UNIT_NAMES = {"chars": "characters", "words": "words", "tokens": "tokens"}


@register
class LengthLimit(Scorer):
    name = "length_limit"
    label = "Length limit"
    description = (
        "The output's length in characters, words or tokens (the generation's output token count) lies "
        "between a minimum and a maximum."
    )
    params_spec = (
        Param("unit", "str", "what to count", "words", choices=tuple(_UNIT_NAMES)),
        Param("min", "int", "shortest allowed length (leave empty for none)", None, min=0),
        Param("max", "int", "longest allowed length (leave empty for none)", None, min=0),
    )

    def check_config(self) -> None:
        low, high = self.params["min"], self.params["max"]
        if low is None and high is None:
            raise ValueError("set min, max or both")
        if low is not None and high is not None and low > high:
            raise ValueError(f"min ({low}) must not exceed max ({high})")

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        unit = self.params["unit"]
        if unit == "chars":
            length = len(output.strip())
        elif unit == "words":
            length = len(re.findall(r"\S+", output))
        else:
            if meta.tokens_out is None:
                raise ScorerError("the generation has no output token count to check")
            length = meta.tokens_out
        low, high = self.params["min"], self.params["max"]
        name = _UNIT_NAMES[unit] if length != 1 else _UNIT_NAMES[unit][:-1]
        if low is not None and length < low:
            return Measure(0.0, f"{length:,} {name}, fewer than the minimum {low:,}")
        if high is not None and length > high:
            return Measure(0.0, f"{length:,} {name}, more than the maximum {high:,}")
        bounds = " and ".join(
            part
            for part in (f"≥ {low:,}" if low is not None else "", f"≤ {high:,}" if high is not None else "")
            if part
        )
        return Measure(1.0, f"{length:,} {name}, within {bounds}")


@register
class LatencyLimit(Scorer):
    name = "latency_limit"
    label = "Latency limit"
    description = (
        "The output took at most the given number of seconds inside its batch (outputs of an experiment are "
        "generated together, so this is not what one user waits: the team's latency limit reads each run's "
        "sample of single requests)."
    )
    params_spec = (
        Param("max_s", "float", "longest acceptable generation time in seconds", min=0.001, max=3600),
    )

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        if meta.latency_s is None:
            raise ScorerError("the generation has no recorded latency")
        limit = self.params["max_s"]
        if meta.latency_s <= limit:
            return Measure(1.0, f"took {meta.latency_s:.2f} s inside its batch, within {limit:g} s")
        return Measure(0.0, f"took {meta.latency_s:.2f} s inside its batch, over the {limit:g} s limit")


@register
class CostLimit(Scorer):
    name = "cost_limit"
    label = "Cost limit"
    description = "The generation cost at most the given amount (in the model's cost currency)."
    params_spec = (Param("max_cost", "float", "highest acceptable cost of one generation", min=0),)

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        if meta.cost is None:
            raise ScorerError("the generation has no recorded cost")
        limit = self.params["max_cost"]
        if meta.cost <= limit:
            return Measure(1.0, f"cost {meta.cost:.6g}, within {limit:g}")
        return Measure(0.0, f"cost {meta.cost:.6g}, over the {limit:g} limit")
