"""Scorers for experiment outputs: a registry of small classes, each with a name, a version, typed
parameters, a pass threshold and a weight. Pure Python; no Django, no database.

    scorer = build_scorer("contains", {"strings": ["refund"]}, threshold=1.0, weight=2)
    result = scorer.score(output, ScoringCase(expected_output=...), GenerationMeta(latency_s=...))
    aggregate([result, ...]).weighted_score / .passed

Heavy libraries (torch, transformers, rouge-score, sacrebleu, jsonschema) load on first use.
See base.py for statuses, aggregate.py for how results combine, judge.py for the LLM judge.
"""

from __future__ import annotations

from . import labels, limits, overlap, semantic, structured, text  # noqa: F401  (registers the scorers)
from .aggregate import Aggregate, aggregate, overall_pass, weighted_score
from .base import (
    REGISTRY,
    GenerationMeta,
    InvalidScorerConfig,
    Param,
    Scorer,
    ScoreResult,
    ScoreStatus,
    ScoringCase,
    build_from_config,
    build_scorer,
)
from .judge import LLMJudge, parse_judgment

__all__ = [
    "REGISTRY",
    "Aggregate",
    "GenerationMeta",
    "InvalidScorerConfig",
    "LLMJudge",
    "Param",
    "ScoreResult",
    "ScoreStatus",
    "Scorer",
    "ScoringCase",
    "aggregate",
    "build_from_config",
    "build_scorer",
    "catalog",
    "overall_pass",
    "parse_judgment",
    "weighted_score",
]


def catalog() -> list[dict]:
    """Every registered scorer with its parameters, for forms and docs."""
    return [
        {
            "name": cls.name,
            "label": cls.label,
            "version": cls.version,
            "description": cls.description,
            "default_threshold": cls.default_threshold,
            "params": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "help": p.help,
                    "required": p.required,
                    "default": None if p.required else p.default,
                    "choices": list(p.choices),
                }
                for p in cls.params_spec
            ],
        }
        for cls in sorted(REGISTRY.values(), key=lambda c: c.label)
    ]
