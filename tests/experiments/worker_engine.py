"""Loaded by test Celery workers (`--include tests.experiments.worker_engine`).

- ASSAY_TEST_ENGINE_DELAY: seconds each engine call waits before generating, so a test can kill the
  worker in the middle of a batch;
- ASSAY_TEST_FAKE_ENGINE=1: the stand-in echo engine instead of the real one (no torch);
- ASSAY_TEST_BATCH_ITEMS: items per batch, so an experiment spans several batches.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import types

from django.conf import settings

from tests.llmcore.registry_fakes import echo_generate

DELAY_S = float(os.environ.get("ASSAY_TEST_ENGINE_DELAY", "0"))
if "ASSAY_TEST_BATCH_ITEMS" in os.environ:
    settings.ASSAY_EXPERIMENT_BATCH_ITEMS = int(os.environ["ASSAY_TEST_BATCH_ITEMS"])


def _install() -> None:
    if os.environ.get("ASSAY_TEST_FAKE_ENGINE") == "1":
        runtime = types.ModuleType("llmcore.engine.runtime")
        sys.modules["llmcore.engine.runtime"] = runtime
        importlib.import_module("llmcore.engine").runtime = runtime
        generate = echo_generate
    else:
        runtime = importlib.import_module("llmcore.engine.runtime")
        generate = runtime.generate

    def delayed(spec, requests, batch_size=None, progress=None):
        time.sleep(DELAY_S)
        if generate is echo_generate:  # the stand-in finishes everything at once: nothing to report early
            return generate(spec, requests, batch_size=batch_size)
        return generate(spec, requests, batch_size=batch_size, progress=progress)

    runtime.generate = delayed


if DELAY_S or os.environ.get("ASSAY_TEST_FAKE_ENGINE") == "1":
    _install()
