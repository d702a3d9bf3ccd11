"""Production settings: `manage.py check --deploy` is clean, and secrets come from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts import ratelimit
from tests.factories import make_user

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Pq2!vR9zX@m4Lw8^tY1&bN6*cJ3$hF5%gD0(sA-eU+iO=oP[lK]jH{gF}dS;aZ:x",
    "ALLOWED_HOSTS": "assay.example.com",
}


def manage(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the last: browser tests
    base = {k: v for k, v in os.environ.items() if k not in unset}
    base.update(env, ASSAY_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage(["check"], env, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_pages_carry_a_content_security_policy_and_refuse_framing(db):
    response = Client().get("/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"


def test_sign_in_needs_the_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "demo", "password": "demo"})
    assert response.status_code == 403


@pytest.fixture
def no_failed_sign_ins():
    # The counters live in the cache, which outlives a test (Redis in CI, shared with the broker: so
    # only these keys are deleted, never the whole cache).
    ratelimit.clear("rita", "127.0.0.1")
    yield
    ratelimit.clear("rita", "127.0.0.1")


def test_repeated_failed_sign_ins_are_refused_for_a_while(db, settings, no_failed_sign_ins):
    settings.LOGIN_RATE_LIMIT = 3
    make_user("rita", password="right-password")
    client = Client()
    for _ in range(3):
        assert client.post("/login/", {"username": "rita", "password": "wrong"}).status_code == 200
    response = client.post("/login/", {"username": "rita", "password": "right-password"})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
