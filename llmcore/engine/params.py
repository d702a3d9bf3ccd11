"""Inference parameters with validation that names the field, the value and the allowed range."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


class InvalidParameters(ValueError):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class InferenceParams:
    temperature: float = 0.0  # 0 means greedy decoding
    top_p: float = 1.0
    top_k: int = 0  # 0 disables top-k filtering
    max_new_tokens: int = 128
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    timeout_s: float = 120.0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> InferenceParams:
        """Validates and converts user input (form or JSON); raises InvalidParameters with every error."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        errors: dict[str, str] = {}
        for name in sorted(set(data) - known):
            errors[name] = f"unknown parameter (known: {', '.join(sorted(known))})"
        values: dict[str, Any] = {}
        for name, rule in _RULES.items():
            if name not in data or data[name] in (None, ""):
                continue
            try:
                values[name] = rule(data[name])
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
        if errors:
            raise InvalidParameters(errors)
        return cls(**values)


def _number(lo: float, hi: float, *, integer: bool = False, lo_open: bool = False):
    kind = "a whole number" if integer else "a number"

    def convert(raw: Any) -> float | int:
        if isinstance(raw, bool):
            raise ValueError(f"must be {kind} between {lo:g} and {hi:g}, got {raw!r}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"must be {kind} between {lo:g} and {hi:g}, got {raw!r}") from None
        if integer and value != int(value):
            raise ValueError(f"must be {kind} between {lo:g} and {hi:g}, got {raw!r}")
        too_low = value <= lo if lo_open else value < lo
        if too_low or value > hi or value != value:
            bound = f"greater than {lo:g}" if lo_open else f"between {lo:g} and {hi:g}"
            raise ValueError(
                f"must be {kind} {bound} (at most {hi:g}), got {raw!r}"
                if lo_open
                else f"must be {kind} {bound}, got {raw!r}"
            )
        return int(value) if integer else value

    return convert


def _stop(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        items = [line for line in raw.splitlines() if line]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ValueError(f"must be a list of strings, got {raw!r}")
    if len(items) > 8:
        raise ValueError(f"at most 8 stop sequences, got {len(items)}")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"each stop sequence must be a non-empty string, got {item!r}")
        if len(item) > 100:
            raise ValueError("each stop sequence must be at most 100 characters")
    return tuple(items)


def _seed(raw: Any) -> int:
    return _number(0, 2**32 - 1, integer=True)(raw)


_RULES = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1, lo_open=True),
    "top_k": _number(0, 1000, integer=True),
    "max_new_tokens": _number(1, 4096, integer=True),
    "repetition_penalty": _number(0, 2, lo_open=True),
    "frequency_penalty": _number(-2, 2),
    "presence_penalty": _number(-2, 2),
    "stop": _stop,
    "seed": _seed,
    "timeout_s": _number(0, 3600, lo_open=True),
}
