"""Settings for Celery worker subprocesses started by tests (see tests/worker_fixtures.py).

The worker opens the test session's database (pytest-django's test_<name>, or the SQLite file) and
takes the per-test path settings the test process uses; everything else is config.settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["ASSAY_TEST_DATABASE_NAME"]
for _name, _value in json.loads(os.environ.get("ASSAY_TEST_SETTINGS", "{}")).items():
    globals()[_name] = Path(_value)
