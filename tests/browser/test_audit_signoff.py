"""An audit in a real browser: an editor prepares the governance audit and is refused the move to Build;
an auditor signs it off; the editor's move to Build then goes through."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts import ratelimit
from audits.models import Audit
from opportunities.models import UseCase
from opportunities.usecases import create_use_case
from tests.factories import make_job, make_task, make_team, make_user

pytestmark = pytest.mark.browser


def test_prepare_as_one_user_sign_off_as_another_and_see_the_gate_open(sign_in, page, live_server):
    team = make_team("Acme Support", "acme")
    eddie = make_user("eddie", team=team, role="editor")
    make_user("aude", team=team, role="auditor")
    use_case = create_use_case(team, eddie, [make_task(make_job(team))], name="Email drafting", owner=eddie)
    for username in ("eddie", "aude"):  # failed sign-ins of earlier tests are counted per address
        ratelimit.clear(username, "127.0.0.1")

    sign_in("eddie")
    page.goto(f"/t/acme/usecases/{use_case.code}/")
    # The gate refuses Build and says what is missing, with a link.
    page.get_by_role("button", name="Move to Build →").click()
    error = page.get_by_test_id("stage-error")
    expect(error).to_contain_text("cannot enter Build yet")
    expect(
        error.get_by_role("link", name="A signed-off governance audit (none started yet).")
    ).to_be_visible()

    with page.expect_navigation():
        error.get_by_role("link").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Start the governance audit").click()
    audit = Audit.objects.get(use_case=use_case, kind="governance")
    for item in audit.items.order_by("position"):
        block = page.locator(f"#item-{item.pk}")
        block.get_by_label("Yes").check()
        block.get_by_placeholder("Notes: what you checked and where").fill(f"Checked {item.key}")
        with page.expect_navigation():
            block.get_by_role("button", name="Save answer").click()
    expect(page.get_by_text("11 / 11").first).to_be_visible()
    with page.expect_navigation():
        page.get_by_test_id("submit-audit").click()
    expect(page.get_by_test_id("audit-status")).to_have_text("Waiting for sign-off")
    expect(page.get_by_test_id("sign-form")).to_have_count(0)  # an editor never signs

    # The auditor, a second person, approves it.
    page.context.clear_cookies()
    sign_in("aude")
    page.goto("/t/acme/")
    due = page.get_by_test_id("audits-due")
    expect(due).to_contain_text("Waiting for sign-off")
    with page.expect_navigation():
        due.get_by_role("link", name="Governance audit v1 of Email drafting").click()
    page.fill("#sign-comment", "Owner, data use and access are clear.")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve and sign").click()
    expect(page.get_by_test_id("audit-status")).to_have_text("Approved")
    expect(page.get_by_test_id("sign-off")).to_contain_text("Approved by aude")

    # The editor moves it to Build: the gate is open now.
    page.context.clear_cookies()
    sign_in("eddie")
    page.goto(f"/t/acme/usecases/{use_case.code}/")
    page.get_by_role("button", name="Move to Build →").click()
    expect(page.locator("#usecase-stage")).to_contain_text("Moved to Build.")
    use_case.refresh_from_db()
    assert use_case.stage == "build"
    assert UseCase.objects.get(pk=use_case.pk).stage_changes.count() == 2
