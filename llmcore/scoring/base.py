"""The scorer contract: cases, generation facts, results, typed parameters and the registry.

Every scorer maps one output to a value in 0..1 (so values of different scorers can be weighted
together), decides `passed` as `value >= threshold`, and explains itself in `rationale`. A scorer
that cannot judge an output says so with a status instead of pretending with a zero:

- "scored": value and passed are set (passed is None only when the scorer has no threshold).
- "unparsed": the scorer's own input could not be read (an LLM judge's reply without a score).
- "error": the scorer could not run on this case (missing expected output, missing latency, a
  regular expression that timed out, a library failure). The output is not judged either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from llmcore.engine.types import GenerationResult


@dataclass(frozen=True)
class ScoringCase:
    expected_output: str = ""
    expected_label: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationMeta:
    latency_s: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None

    @classmethod
    def from_result(cls, result: GenerationResult) -> GenerationMeta:
        return cls(
            latency_s=result.latency_s,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost=result.cost,
        )


NO_META = GenerationMeta()


class ScoreStatus(StrEnum):
    SCORED = "scored"
    UNPARSED = "unparsed"
    ERROR = "error"


@dataclass(frozen=True)
class ScoreResult:
    value: float | None
    passed: bool | None
    rationale: str
    status: ScoreStatus = ScoreStatus.SCORED
    scorer: str = ""
    version: str = ""
    weight: float = 1.0
    threshold: float | None = None

    @property
    def gates(self) -> bool:
        """Whether this result takes part in the overall pass (its scorer has a threshold)."""
        return self.threshold is not None


@dataclass(frozen=True)
class Measure:
    """What a scorer's `measure` returns: the 0..1 value and why."""

    value: float
    rationale: str


class ScorerError(Exception):
    """This case cannot be scored by this scorer (recorded with status "error", never as a zero)."""


class ScorerUnparsed(Exception):
    """The scorer could not read its own input (recorded with status "unparsed")."""


class InvalidScorerConfig(ValueError):
    """Bad scorer name, parameters, threshold or weight; `errors` maps each field to why."""

    def __init__(self, scorer: str, errors: Mapping[str, str]):
        self.scorer = scorer
        self.errors = dict(errors)
        super().__init__("; ".join(f"{scorer}.{name}: {message}" for name, message in self.errors.items()))


# --- Typed parameters ------------------------------------------------------------------------------

_REQUIRED: Any = object()
# A scorer's weight in the weighted score; a relative figure, so 0..100 is plenty.
MAX_WEIGHT = 100.0


@dataclass(frozen=True)
class Param:
    """One scorer parameter: its type, default, allowed values and an extra check.

    kind is one of "str", "int", "float", "bool", "str_list", "json" (a dict or a JSON text), "mapping".
    `check` receives the converted value and raises ValueError with a message saying why it is wrong.
    """

    name: str
    kind: str
    help: str
    default: Any = _REQUIRED
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    check: Callable[[Any], None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def convert(self, raw: Any) -> Any:
        value = _CONVERTERS[self.kind](raw)
        if self.choices and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}; got {raw!r}")
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {self.min:g}, got {raw!r}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {self.max:g}, got {raw!r}")
        if self.check is not None:
            self.check(value)
        return value


def _to_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"must be text, got {type(raw).__name__} {raw!r}")
    return raw


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "yes", "on", "1", "false", "no", "off", "0"}:
        return raw.strip().lower() in {"true", "yes", "on", "1"}
    raise ValueError(f"must be true or false, got {raw!r}")


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {raw!r}")
    return value


def _to_int(raw: Any) -> int:
    value = _to_float(raw)
    if value != int(value):
        raise ValueError(f"must be a whole number, got {raw!r}")
    return int(value)


def _to_str_list(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        # A form field: one entry per line.
        raw = [line for line in raw.splitlines() if line.strip()]
    if not isinstance(raw, list | tuple):
        raise ValueError(f"must be a list of texts, got {type(raw).__name__}")
    items = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            raise ValueError(f"entry {i} must be text, got {type(item).__name__} {item!r}")
        if not item.strip():
            raise ValueError(f"entry {i} is empty")
        items.append(item)
    return tuple(items)


def _to_json(raw: Any) -> Any:
    import json

    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if isinstance(raw, dict | list | bool | int | float) or raw is None:
        return raw
    raise ValueError(f"must be JSON, got {type(raw).__name__}")


def _to_mapping(raw: Any) -> dict:
    value = _to_json(raw) if isinstance(raw, str) else raw
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a mapping of names to values, got {type(value).__name__}")
    return dict(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "str_list": _to_str_list,
    "json": _to_json,
    "mapping": _to_mapping,
}


def validate_params(scorer: str, spec: Sequence[Param], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Converts user input (form or JSON) into typed values; raises InvalidScorerConfig with every error."""
    params = dict(params or {})
    known = {p.name for p in spec}
    errors: dict[str, str] = {}
    for name in sorted(set(params) - known):
        errors[name] = (
            f"unknown parameter (known: {', '.join(sorted(known))})"
            if known
            else "this scorer takes no parameters"
        )
    values: dict[str, Any] = {}
    for p in spec:
        raw = params.get(p.name, _REQUIRED)
        if raw is _REQUIRED or raw is None or (isinstance(raw, str) and not raw.strip() and p.kind != "str"):
            if p.required:
                errors[p.name] = f"is required ({p.help})"
            else:
                values[p.name] = p.default
            continue
        try:
            values[p.name] = p.convert(raw)
        except ValueError as exc:
            errors[p.name] = str(exc)
    if errors:
        raise InvalidScorerConfig(scorer, errors)
    return values


# --- Scorers ---------------------------------------------------------------------------------------


class Scorer:
    """Base class. Subclasses set the class attributes and implement `measure`.

    `measure` returns a Measure, or raises ScorerError / ScorerUnparsed. `score` turns that into a
    ScoreResult, applies the threshold and turns unexpected exceptions into status "error" so one
    bad case never stops a run. `check_config` (optional) validates parameters against each other.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    params_spec: ClassVar[tuple[Param, ...]] = ()
    default_threshold: ClassVar[float | None] = 1.0
    # Binary scorers give 1.0 or 0.0 and their rationale already says why; graded ones get the
    # threshold comparison appended to theirs.
    binary: ClassVar[bool] = True

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        threshold: float | None | object = _REQUIRED,
        weight: float = 1.0,
    ):
        errors: dict[str, str] = {}
        try:
            self.params = validate_params(self.name, self.params_spec, params)
        except InvalidScorerConfig as exc:
            errors.update(exc.errors)
        if threshold is _REQUIRED:
            threshold = self.default_threshold
        if isinstance(threshold, str) and not threshold.strip():
            threshold = None  # an empty form field: this scorer informs but does not gate
        if threshold is not None:
            try:
                threshold = _to_float(threshold)
                if not 0 <= threshold <= 1:
                    raise ValueError(f"must be between 0 and 1 (scores are 0..1), got {threshold:g}")
            except ValueError as exc:
                errors["threshold"] = str(exc)
        try:
            weight = _to_float(weight)
            if not 0 <= weight <= MAX_WEIGHT:
                raise ValueError(f"must be between 0 and {MAX_WEIGHT:g}, got {weight:g}")
        except ValueError as exc:
            errors["weight"] = str(exc)
        if not errors:
            # Cross-parameter checks only make sense once each parameter is valid on its own.
            try:
                self.check_config()
            except ValueError as exc:
                errors["params"] = str(exc)
        if errors:
            raise InvalidScorerConfig(self.name, errors)
        self.threshold: float | None = threshold  # type: ignore[assignment]
        self.weight: float = weight

    def check_config(self) -> None:
        """Cross-parameter checks; raise ValueError naming the parameters."""

    def config(self) -> dict[str, Any]:
        """What to store with an experiment so the same scorer can be rebuilt and told apart later."""
        return {
            "name": self.name,
            "version": self.version,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "threshold": self.threshold,
            "weight": self.weight,
        }

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        raise NotImplementedError

    def score(
        self, output: str, case: ScoringCase | None = None, meta: GenerationMeta | None = None
    ) -> ScoreResult:
        try:
            measured = self.measure(output or "", case or ScoringCase(), meta or NO_META)
        except ScorerUnparsed as exc:
            return self.result(None, str(exc), ScoreStatus.UNPARSED)
        except ScorerError as exc:
            return self.result(None, str(exc), ScoreStatus.ERROR)
        except Exception as exc:  # a library failure on one odd output must not stop a run
            return self.result(None, f"{self.label} failed: {type(exc).__name__}: {exc}", ScoreStatus.ERROR)
        return self.result(measured.value, measured.rationale)

    def score_many(
        self, items: Iterable[tuple[str, ScoringCase | None, GenerationMeta | None]]
    ) -> list[ScoreResult]:
        """Scores several outputs; scorers that batch (embeddings) override this."""
        return [self.score(output, case, meta) for output, case, meta in items]

    def result(
        self, value: float | None, rationale: str, status: ScoreStatus = ScoreStatus.SCORED
    ) -> ScoreResult:
        passed: bool | None = None
        if status == ScoreStatus.SCORED and value is not None:
            value = min(1.0, max(0.0, float(value)))
            if self.threshold is not None:
                passed = value >= self.threshold - 1e-12
                if not self.binary:
                    relation = "meets" if passed else "is below"
                    rationale = f"{rationale}; {value:.3f} {relation} the threshold {self.threshold:g}"
        else:
            value = None
        return ScoreResult(
            value=value,
            passed=passed,
            rationale=rationale,
            status=status,
            scorer=self.name,
            version=self.version,
            weight=self.weight,
            threshold=self.threshold,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version} threshold={self.threshold} weight={self.weight}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def require_expected_output(case: ScoringCase) -> str:
    if not (case.expected_output or "").strip():
        raise ScorerError("this case has no expected output to compare with")
    return case.expected_output


def clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --- Registry --------------------------------------------------------------------------------------

REGISTRY: dict[str, type[Scorer]] = {}


def register(cls: type[Scorer]) -> type[Scorer]:
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(
            f"two scorers are named {cls.name!r}: {REGISTRY[cls.name].__name__} and {cls.__name__}"
        )
    REGISTRY[cls.name] = cls
    return cls


def build_scorer(
    name: str, params: Mapping[str, Any] | None = None, *, threshold: Any = _REQUIRED, weight: Any = 1.0
) -> Scorer:
    """Builds a registered scorer from stored or submitted config; InvalidScorerConfig says what is wrong."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise InvalidScorerConfig(name, {"name": f"unknown scorer (known: {', '.join(sorted(REGISTRY))})"})
    return cls(params, threshold=threshold, weight=weight)


def build_from_config(config: Mapping[str, Any]) -> Scorer:
    """Inverse of Scorer.config(); a stored version different from the current one is allowed (the
    stored scores keep their own version) but callers may compare `config["version"]` themselves."""
    return build_scorer(
        config.get("name", ""),
        config.get("params") or {},
        threshold=config.get("threshold", _REQUIRED),
        weight=config.get("weight", 1.0),
    )
