"""Browser fixtures (imported by tests/conftest.py, so any test may use them): Playwright drives Debian's
Chromium (/usr/bin/chromium) against pytest-django's live server. Mark such tests `browser`.

No browser is ever downloaded. Without /usr/bin/chromium (`make install` installs it when it can), every
browser test skips with a message instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path(os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium"))
# Headless, and no calls home: this machine's network refuses them, and they slow every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium for one test. Function-scoped on purpose: Playwright's sync API owns this
    thread's event loop while it runs, so it must not outlive the test (other tests start their own)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run browser tests"
        )
    # Playwright's sync API runs an event loop in this thread; the live server's ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            # Queries made while Playwright's loop runs get connections of their own (Django keeps
            # connections per async context); left open they stop PostgreSQL dropping the test database.
            connections.close_all()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) with relative URLs resolved against the live server."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def sign_in(page):
    """sign_in(username, password="pw") -> the page, signed in through the real login form."""

    def submit(username: str, password: str = "pw"):
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        return page

    return submit


@pytest.fixture
def page_as(page, client, live_server):
    """page_as(user) -> the page, signed in as that user through a session cookie (no login form)."""

    def signed_in(user):
        client.force_login(user)
        session = client.cookies["sessionid"].value
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        return page

    return signed_in
