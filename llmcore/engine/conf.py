"""Engine settings read lazily from Django when it is configured, with fallbacks so the engine (and its
benchmark) also runs without Django."""

from __future__ import annotations

import os
from pathlib import Path


def _django_setting(name: str):
    try:
        from django.conf import settings
    except ImportError:
        return None
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    return getattr(settings, name, None)


def model_cache_dir() -> Path:
    """Where converted models live (settings.MODEL_CACHE_DIR, else $ASSAY_DATA_DIR/models, else ./var/models)."""
    configured = _django_setting("MODEL_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("ASSAY_DATA_DIR", "var")).resolve() / "models"


def memory_budget_bytes() -> int:
    """Memory a process may spend on loaded models (settings.MODEL_MEMORY_BUDGET_MB, default 4096 MB)."""
    configured = _django_setting("MODEL_MEMORY_BUDGET_MB")
    if configured is None:
        configured = os.environ.get("ASSAY_MODEL_MEMORY_BUDGET_MB", 4096)
    return int(float(configured) * 1024 * 1024)


def kv_cache_budget_bytes() -> int:
    """Memory for the key/value cache of one batched call (settings.MODEL_KV_CACHE_MB, default 1024 MB);
    bounds how many sequences decode at once when prompts are long."""
    configured = _django_setting("MODEL_KV_CACHE_MB")
    if configured is None:
        configured = os.environ.get("ASSAY_MODEL_KV_CACHE_MB", 1024)
    return int(float(configured) * 1024 * 1024)


def progress_interval_s() -> float:
    """How often a long call hands its finished outputs to the caller (settings.ASSAY_PROGRESS_INTERVAL_S,
    default 5 s): the experiment page's progress moves, and a cancel acts, at least this often."""
    configured = _django_setting("ASSAY_PROGRESS_INTERVAL_S")
    if configured is None:
        configured = os.environ.get("ASSAY_PROGRESS_INTERVAL_S", 5)
    return float(configured)
