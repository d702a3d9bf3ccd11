"""Stable hashes that identify what a generation depends on. Pure functions."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def params_hash(params: dict[str, Any]) -> str:
    return _digest(params)


def model_identity(spec_cache_key: tuple, precision: str = "", decoding: str = "") -> str:
    """What makes two model configurations produce the same outputs: ModelSpec.cache_key (backend,
    source, revision, dtype as configured, device, 8-bit) and how the worker actually ran it: the
    precision it resolved ("auto" becomes bfloat16 on a CPU with native bf16, float32 on one without)
    and the decoding path. Without those two it is the identity planned at start, before any worker
    has said how it runs the model."""
    return _digest([*spec_cache_key, precision, decoding] if precision or decoding else list(spec_cache_key))


def cache_key(prompt_hash: str, model_id: str, params: str, case_version_id: int, repeat: int) -> str:
    """Equal keys mean an identical request; the repeat index keeps repeats apart (never collapsed)."""
    return _digest([prompt_hash, model_id, params, case_version_id, repeat])
