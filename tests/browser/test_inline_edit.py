"""Editing a task in its row keeps the page as wide as the window (no sideways scrolling)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import make_job, make_task, make_team, make_user

pytestmark = pytest.mark.browser


def test_the_inline_edit_row_does_not_widen_the_page(sign_in, live_server):
    team = make_team("Acme Support", "acme")
    make_user("olivia", team=team, role="admin")
    job = make_job(team, "Claims processor", hourly_cost="45")
    for n in range(3):
        make_task(job, f"Extract policy number, incident date and claimed amounts from claim form {n}")
    page = sign_in("olivia")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/t/acme/jobs/{job.code}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    page.get_by_role("link", name="Edit", exact=True).first.click()
    expect(page.locator("tr.editing")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= max(width, 1400)
    page.goto("/t/acme/jobs/")
    page.get_by_role("link", name="Edit", exact=True).first.click()
    expect(page.locator("tr.editing input[name$=title]")).to_have_value("Claims processor")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
