"""An editor's path in a real browser: build an experiment, start it, watch its progress fill in without a
reload, review outputs with the keyboard, link it to a task and read the task's verdict."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from experiments.models import Experiment, HumanReview
from llmcore.seed import enable_default_models
from tests.experiments.factories import drive, make_dataset, make_model, make_prompt
from tests.factories import make_job, make_task, make_team, make_user
from tests.llmcore.registry_fakes import install_fake_engine

pytestmark = pytest.mark.browser


def test_build_run_review_and_read_the_tasks_verdict(sign_in, live_server, monkeypatch):
    install_fake_engine(monkeypatch)  # outputs are "echo: <prompt>", generated in this process by drive()
    team = make_team("Acme Support", "acme")
    olivia = make_user("olivia", team=team, role="admin")
    dataset = make_dataset(team, name="Tickets", cases=6, author=olivia)
    make_prompt(team, dataset=dataset, name="Ticket topic", author=olivia)
    make_model(team, "Tiny test model")
    enable_default_models(team)  # the instance's default model, as every team has it
    task = make_task(make_job(team), "Sort support tickets by topic")

    page = sign_in("olivia")

    # Build: the grid builder with one scorer, then start.
    page.goto("/t/acme/experiments/new/")
    page.fill("#id_name", "Ticket topics")
    page.select_option("#id_dataset", label="Tickets")
    page.get_by_label("Ticket topic v1").check()
    default_model = page.get_by_label(re.compile("SmolLM2-135M-Instruct"))
    expect(default_model).to_be_checked()  # a new experiment starts with the default model ticked
    default_model.uncheck()
    page.get_by_label(re.compile("Tiny test model")).check()
    page.fill("#id_params-0-label", "greedy")
    page.fill("#id_params-0-max_new_tokens", "8")
    page.select_option("#id_scorers-0-name", "contains")
    # The scorer's parameters appear as fields of their own; the JSON box is for hand-written parameters.
    expect(page.locator("#id_scorers-0-params")).to_be_hidden()
    page.get_by_label("strings (required)").fill("Ticket number")
    expect(page.get_by_test_id("scorer-reference")).to_contain_text("the texts to look for")

    # Try it on a few cases before saving: the worker's part is done here in-process.
    page.get_by_role("button", name="Try on a few cases").click()
    expect(page.locator("#trial")).to_contain_text("running on a worker")
    trial = Experiment.objects.get(trial=True)
    drive(trial.pk)
    expect(page.locator("#trial")).to_contain_text("done", timeout=10_000)
    expect(page.locator("#trial")).to_contain_text("echo: Topic of this ticket")
    expect(page.locator("#trial")).to_contain_text("pass")

    with page.expect_navigation():
        page.get_by_role("button", name="Save draft").click()
    expect(page.locator("body")).to_contain_text("Saved as a draft")
    with page.expect_navigation():
        page.get_by_role("button", name="Start experiment").click()
    expect(page.locator("body")).to_contain_text("Started: 1 run queued.")
    progress = page.get_by_label("Experiment progress")
    expect(progress).to_have_attribute("aria-valuenow", "0")

    # Progress: the workers' job, done here in-process; the page polls and fills in without a reload.
    drive(Experiment.objects.get(name="Ticket topics", trial=False).pk)
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=10_000)

    # Review: assign every output to olivia, then accept each with the keyboard.
    page.get_by_role("link", name="Human review").click()
    page.get_by_label("olivia").check()
    page.fill("#id_per_run", "6")
    page.select_option("#id_per_output", "1")
    with page.expect_navigation():
        page.get_by_role("button", name="Assign", exact=True).click()
    page.goto(
        "/t/acme/experiments/"
        + str(Experiment.objects.get(name="Ticket topics", trial=False).code)
        + "/review/"
    )
    # The first as a minor edit typed in the output box and sent with Ctrl+Enter; the second accepted
    # with a comment, leaving the comment box with Esc; the rest accepted with "a".
    page.keyboard.press("e")
    page.keyboard.press("End")
    page.keyboard.type(" (checked)")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#review-item")).to_contain_text("1 of 6 reviewed")
    page.keyboard.press("c")
    page.keyboard.type("looks right")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#review-item")).to_contain_text("2 of 6 reviewed")
    for done in range(3, 7):
        page.keyboard.press("a")
        expect(page.locator("#review-item")).to_contain_text(f"{done} of 6 reviewed")
    edited = HumanReview.objects.get(verdict="minor_edit")
    assert edited.edited_text.endswith(" (checked)")
    assert HumanReview.objects.get(comment="looks right").verdict == "accept"

    # Verdict: link the experiment on the task page and answer the rubric question.
    page.goto(f"/t/acme/tasks/{task.code}/")
    expect(page.get_by_test_id("verdict")).to_have_text("Untested")
    page.get_by_label("Ticket topics").check()
    page.get_by_label("Yes", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save evidence").click()
    # 6/6 passed, 6/6 accepted or a minor edit: augmentation-ready (lower bound 61%); too few for automation.
    expect(page.get_by_test_id("verdict")).to_have_text("Augmentation-ready")
    expect(page.get_by_test_id("verdict-reasons")).to_contain_text(
        "Automation needs at least 30 scored cases"
    )
    expect(page.get_by_test_id("run-verdicts")).to_contain_text("decides")
