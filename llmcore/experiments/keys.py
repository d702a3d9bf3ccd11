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


def model_identity(spec_cache_key: tuple) -> str:
    """What makes two model configurations produce the same outputs: ModelSpec.cache_key
    (backend, source, revision, dtype, device, 8-bit)."""
    return _digest(list(spec_cache_key))


def cache_key(prompt_hash: str, model_id: str, params: str, case_version_id: int, repeat: int) -> str:
    """Equal keys mean an identical request; the repeat index keeps repeats apart (never collapsed)."""
    return _digest([prompt_hash, model_id, params, case_version_id, repeat])
