"""Loaded by test Celery workers (`--include tests.experiments.worker_engine`): a stand-in engine that
takes ASSAY_TEST_ENGINE_DELAY seconds per call, so a test can kill the worker mid-batch, and a small
batch size (ASSAY_TEST_BATCH_ITEMS) so an experiment spans several batches."""

from __future__ import annotations

import os
import time

from llmcore.experiments import execution
from tests.llmcore.registry_fakes import echo_generate

DELAY_S = float(os.environ.get("ASSAY_TEST_ENGINE_DELAY", "0"))
execution.BATCH_ITEMS = int(os.environ.get("ASSAY_TEST_BATCH_ITEMS", execution.BATCH_ITEMS))


def slow_generate(spec, requests, batch_size=None):
    time.sleep(DELAY_S)
    return echo_generate(spec, requests, batch_size)


if os.environ.get("ASSAY_TEST_FAKE_ENGINE") == "1":

    class _MonkeyPatch:
        def setitem(self, mapping, key, value):
            mapping[key] = value

        def setattr(self, target, name, value, raising=True):
            setattr(target, name, value)

    from tests.llmcore.registry_fakes import install_fake_engine

    install_fake_engine(_MonkeyPatch(), slow_generate)
