"""The verdict, the matrix and the value agree with the evidence: the matrix places a task by the figure
its verdict rests on, one reviewer cannot make a task automation-ready, reviews that disagree with the
scorer carry a warning everywhere the verdict is shown, and the model's running cost comes from the
deciding run's measured cost and the task's yearly volume."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from experiments.evidence import evidence_by_run
from opportunities import verdicts
from opportunities.feasibility import BASIS_ACCEPT_OR_EDIT
from opportunities.models import Task, Verdict
from tests.experiments.factories import make_dataset, make_experiment, make_prompt
from tests.factories import make_job, make_task, make_user
from tests.llmcore.registry_fakes import install_fake_engine
from tests.opportunities.test_verdict_rollup import PASS_FIRST_FOUR, review_all, run_it


@pytest.fixture
def experiment(team, owner, monkeypatch):
    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=8, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    return make_experiment(team, owner, dataset=dataset, prompts=[version], scorers=[PASS_FIRST_FOUR])


@pytest.fixture
def reviewed(team, owner, experiment, django_capture_on_commit_callbacks):
    """Eight outputs the scorer passes half of (cases 1–4), all accepted by one reviewer (κ = 0)."""
    task = make_task(make_job(team), "Sort support tickets by topic", cases_per_year=120_000)
    task.experiments.add(experiment)
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    review_all(experiment, owner, "accept", django_capture_on_commit_callbacks)
    task.refresh_from_db()
    return task


def test_one_reviewer_who_disagrees_with_the_scorer_gives_a_warned_augmentation_verdict_placed_by_it(
    team, reviewed, viewer, as_user
):
    task = reviewed
    facts = evidence_by_run([task.verdict_run_id])[task.verdict_run_id]
    assert (facts.reviewers, facts.scorer_kappa_n) == (1, 8) and facts.scorer_kappa == pytest.approx(0)
    assert task.verdict == Verdict.AUGMENTATION_READY
    # The headline is the accept-or-edit lower bound of 8/8 (67.6%), not the pass rate's 21.5%.
    assert task.feasibility == pytest.approx(0.676, abs=1e-3)
    assert task.feasibility_basis == BASIS_ACCEPT_OR_EDIT
    assert len(task.verdict_warnings) == 1 and "κ = 0.00 over 8 outputs" in task.verdict_warnings[0]

    client = as_user(viewer)
    page = client.get(reverse("task_detail", args=[team.slug, task.code])).text
    assert 'data-testid="verdict-warnings"' in page and "κ = 0.00 over 8 outputs" in page
    assert "Reviewed by 1 different person. Automation needs at least 2" in page
    assert "accept-or-minor-edit rate, 95% lower bound of the deciding run" in page

    matrix = client.get(reverse("matrix", args=[team.slug])).text
    assert 'data-testid="matrix-axes"' in matrix and "the figure each task's verdict rests on" in matrix
    assert 'class="warnings"' in matrix and "1 task ringed in orange" in matrix
    # Placed right of the augmentation line (feasible), not among the big bets.
    assert "Quick wins" in matrix
    from opportunities.views.matrix import matrix_filter_form, matrix_layout

    form = matrix_filter_form(team, {})
    form.is_valid()
    (point,) = matrix_layout(team, form).points
    assert point.quadrant in ("quick-wins", "maybe-later")

    response = client.get(reverse("portfolio_export", args=[team.slug, "json"]))
    export = json.loads(b"".join(response.streaming_content))
    (row,) = export["tasks"]
    assert row["verdict_warnings"] == task.verdict_warnings
    assert row["feasibility_basis"] == BASIS_ACCEPT_OR_EDIT
    response = client.get(reverse("portfolio_export", args=[team.slug, "csv"]))
    csv_text = b"".join(response.streaming_content).decode()
    assert "below the 0.4 the team expects" in csv_text


def test_a_second_reviewer_is_needed_for_automation(
    team, owner, reviewed, django_capture_on_commit_callbacks
):
    from opportunities.models import FeasibilityPolicy

    # Make automation reachable on these 8 outputs except for the reviewer count.
    FeasibilityPolicy.objects.create(
        team=team, min_cases=1, automation_pass_lower=0, automation_acceptance=0.5, min_scorer_kappa=None
    )
    verdicts.recompute_team(team.pk)
    reviewed.refresh_from_db()
    assert reviewed.verdict == Verdict.AUGMENTATION_READY
    assert reviewed.verdict_warnings == []
    second = make_user("rita", team=team, role="editor")
    review_all(reviewed.experiments.get(), second, "accept", django_capture_on_commit_callbacks)
    reviewed.refresh_from_db()
    assert reviewed.verdict == Verdict.AUTOMATION_READY


def test_the_model_cost_per_year_comes_from_the_deciding_runs_cost_and_the_yearly_volume(
    team, reviewed, viewer, as_user
):
    task = reviewed
    per_1k = Decimal(
        str(round(evidence_by_run([task.verdict_run_id])[task.verdict_run_id].cost_per_1k_cases, 6))
    )
    assert per_1k > 0
    assert task.model_cost_per_1k_cases == per_1k
    assert task.model_cost_per_year == (per_1k * 120).quantize(Decimal("0.01"))
    breakdown = task.value_breakdown()
    assert breakdown.model_cost_per_year == task.model_cost_per_year
    formula = breakdown.formula(task.value_inputs())
    assert "per 1,000 cases measured × 120,000 cases/year" in formula
    page = as_user(viewer).get(reverse("task_detail", args=[team.slug, task.code])).text
    assert "per 1,000 cases measured by the deciding run × 120,000 cases a year" in page
    # The SQL value the portfolio sorts by subtracts the same cost.
    annotated = Task.objects.with_value().get(pk=task.pk).annual_value
    assert annotated == breakdown.annual_value


def test_hourly_cost_keeps_its_cents_in_the_formula(team):
    task = make_task(make_job(team, hourly_cost="50.75"))
    assert "× $50.75/h ×" in task.value_breakdown().formula(task.value_inputs())
