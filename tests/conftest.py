"""Shared fixtures: three personas (owner, read-only viewer, stranger) and small factories."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

# Shared fixtures from their own modules: Playwright with the system Chromium (tests/browser/fixtures.py),
# the Celery broker and real worker processes (tests/worker_fixtures.py).
from tests.browser.fixtures import browser, page, page_as, sign_in  # noqa: F401
from tests.factories import make_team, make_user
from tests.worker_fixtures import (  # noqa: F401
    celery_broker,
    celery_worker_process,
    close_stray_database_sessions,
    django_db_modify_db_settings,
)


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def team(db):
    return make_team("Acme Support", "acme")


@pytest.fixture
def owner(team):
    return make_user("olivia", team=team, role="admin")


@pytest.fixture
def editor(team):
    return make_user("eddie", team=team, role="editor")


@pytest.fixture
def viewer(team):
    return make_user("victor", team=team, role="viewer")


@pytest.fixture
def auditor(team):
    return make_user("aude", team=team, role="auditor")


@pytest.fixture
def stranger(db):
    other = make_team("Other Co", "other")
    return make_user("sam", team=other, role="admin")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def stranger_client(client, stranger):
    client.force_login(stranger)
    return client


@pytest.fixture
def as_user(client):
    """as_user(user) -> a client signed in as that user (one client, switched)."""

    def login(user):
        client.logout()
        client.force_login(user)
        return client

    return login


User = get_user_model()
