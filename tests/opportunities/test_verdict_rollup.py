"""Experiment evidence rolled up into each task's verdict: linking, rubric answer, signals, thresholds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments.models import Generation, ReviewAssignment
from experiments.run_evidence import RunEvidence
from experiments.services import grid, reviews
from opportunities import verdicts
from opportunities.feasibility import (
    AUGMENTATION_READY,
    NOT_YET,
    VerdictResult,
    best_run,
)
from opportunities.models import FeasibilityPolicy, Task, Verdict
from tests.experiments.factories import drive, make_dataset, make_experiment, make_model, make_prompt
from tests.factories import make_job, make_task, make_team
from tests.llmcore.registry_fakes import install_fake_engine

# echo outputs contain "Ticket number N": cases 1..4 pass, 5..8 fail.
PASS_FIRST_FOUR = {
    "name": "contains",
    "params": {"strings": [f"number {i}" for i in range(1, 5)], "mode": "any"},
    "threshold": 1.0,
    "weight": 1,
}


def evidence_url(team, task):
    return reverse("task_evidence", args=[team.slug, task.code])


@pytest.fixture
def task(team):
    return make_task(make_job(team), "Sort support tickets by topic")


@pytest.fixture
def experiment(team, owner, monkeypatch):
    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=8, author=owner)
    return make_experiment(
        team,
        owner,
        dataset=dataset,
        prompts=[make_prompt(team, dataset=dataset, author=owner).versions.get()],
        scorers=[PASS_FIRST_FOUR],
    )


def run_it(experiment, owner, capture):
    with capture(execute=True):
        grid.start_experiment(experiment, owner, "admin")
    with capture(execute=True):
        drive(experiment.pk)


def review_all(experiment, reviewer, verdict, capture):
    with capture(execute=True):
        for generation in Generation.objects.filter(run__experiment=experiment):
            assignment = ReviewAssignment.objects.create(generation=generation, reviewer=reviewer)
            reviews.record_review(assignment, reviewer, verdict)


def test_best_run_prefers_the_higher_verdict_then_the_higher_feasibility():
    weak = (VerdictResult(NOT_YET, [], 0.7), RunEvidence(cases_scored=10, cases_passed=9))
    good = (VerdictResult(AUGMENTATION_READY, [], 0.4), RunEvidence(reviews_accepted=8))
    better = (VerdictResult(AUGMENTATION_READY, [], 0.5), RunEvidence(reviews_accepted=9))
    assert best_run([weak, good, better]) == 2
    assert best_run([weak]) == 0
    assert best_run([]) is None


def test_linking_a_finished_experiment_gives_the_task_its_verdict_and_reasons(
    team, owner, task, experiment, client, django_capture_on_commit_callbacks
):
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    task.refresh_from_db()
    assert task.verdict == Verdict.UNTESTED  # not linked yet

    client.force_login(owner)
    response = client.post(evidence_url(team, task), {"experiments": [experiment.pk], "rubric_answer": "yes"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.verdict == Verdict.NOT_YET
    assert task.rubric_answer == "yes"
    assert task.verdict_run == experiment.runs.get()
    assert task.feasibility == pytest.approx(0.2152, abs=1e-3)  # Wilson lower bound of 4/8
    assert any("Automatic pass rate 4/8 = 50.0%" in reason for reason in task.verdict_reasons)

    page = client.get(reverse("task_detail", args=[team.slug, task.code])).text
    assert "Automatic pass rate 4/8 = 50.0%" in page
    run = experiment.runs.get()
    assert reverse("experiments:run_detail", args=[team.slug, run.code]) in page  # down to the outputs
    assert "decides" in page


def test_evidence_arriving_later_updates_a_linked_task(
    team, owner, task, experiment, django_capture_on_commit_callbacks
):
    task.experiments.add(experiment)
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    task.refresh_from_db()
    assert task.verdict == Verdict.NOT_YET  # scores arrived: evidence, but no human reviews

    review_all(experiment, owner, "accept", django_capture_on_commit_callbacks)
    task.refresh_from_db()
    # 8/8 accepted: Wilson lower bound 67.6% ≥ 60% augmentation bar; too few cases for automation.
    assert task.verdict == Verdict.AUGMENTATION_READY
    assert any("Automation needs at least 30" in reason for reason in task.verdict_reasons)


def test_team_thresholds_change_verdicts_and_only_admins_change_them(
    team, owner, editor, viewer, stranger, task, experiment, as_user, django_capture_on_commit_callbacks
):
    task.experiments.add(experiment)
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    review_all(experiment, owner, "accept", django_capture_on_commit_callbacks)
    task.refresh_from_db()
    assert task.verdict == Verdict.AUGMENTATION_READY
    url = reverse("feasibility_thresholds", args=[team.slug])
    data = {
        "automation_pass_lower": "90",
        "automation_acceptance": "90",
        "min_cases": "30",
        "augmentation_lower": "80",
        "min_reviewers_automation": "2",
        "min_reviewers_augmentation": "1",
        "min_scorer_kappa": "0.4",
        "max_cost_per_1k_cases": "",
        "max_p95_latency_s": "",
    }

    assert as_user(stranger).get(url).status_code == 404
    shown = as_user(viewer).get(url)
    assert shown.status_code == 200
    assert 'value="90"' in shown.text and 'value="60"' in shown.text  # percentages as people type them
    assert 'type="submit" class="primary">Save thresholds' not in shown.text  # read-only for viewers
    assert as_user(viewer).post(url, data).status_code == 403
    assert as_user(editor).post(url, data).status_code == 403
    assert not FeasibilityPolicy.objects.exists()

    bad = as_user(owner).post(url, {**data, "augmentation_lower": "180"})
    assert bad.status_code == 400
    assert "Must be a percentage between 0 and 100." in bad.text

    response = as_user(owner).post(url, data, follow=True)
    assert "1 task verdict changed" in response.text
    assert FeasibilityPolicy.objects.get(team=team).augmentation_lower == pytest.approx(0.8)
    task.refresh_from_db()
    assert task.verdict == Verdict.NOT_YET


def test_only_editors_change_a_tasks_evidence(team, owner, viewer, stranger, task, experiment, as_user):
    url = evidence_url(team, task)
    data = {"experiments": [experiment.pk], "rubric_answer": "no"}
    assert as_user(stranger).post(url, data).status_code == 404
    assert as_user(viewer).post(url, data).status_code == 403
    page = as_user(viewer).get(reverse("task_detail", args=[team.slug, task.code])).text
    assert 'data-testid="evidence-form"' not in page
    assert "not answered yet" in page
    assert not task.experiments.exists()
    assert as_user(owner).post(url, data).status_code == 302
    task.refresh_from_db()
    assert task.rubric_answer == "no" and list(task.experiments.all()) == [experiment]


def test_another_teams_experiment_cannot_be_linked_and_nothing_is_saved(
    team, owner, task, experiment, client
):
    other = make_team("Other Co", "other")
    foreign = make_experiment(other, owner, name="Foreign")
    client.force_login(owner)
    response = client.post(
        evidence_url(team, task), {"experiments": [experiment.pk, foreign.pk], "rubric_answer": "yes"}
    )
    assert response.status_code == 400
    assert "is not one of the available choices" in response.text
    task.refresh_from_db()
    assert task.rubric_answer == "" and not task.experiments.exists()


def test_deleting_a_linked_experiment_returns_the_task_to_untested(
    team, owner, task, experiment, django_capture_on_commit_callbacks
):
    task.experiments.add(experiment)
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    task.refresh_from_db()
    assert task.verdict == Verdict.NOT_YET
    with django_capture_on_commit_callbacks(execute=True):
        experiment.delete()
    task.refresh_from_db()
    assert (task.verdict, task.feasibility, task.verdict_run) == (Verdict.UNTESTED, None, None)


def test_the_task_page_escapes_experiment_names_and_needs_no_query_per_run(
    team, owner, task, client, monkeypatch, django_capture_on_commit_callbacks
):
    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=2, author=owner)
    prompt = make_prompt(team, dataset=dataset, author=owner).versions.get()
    one = make_experiment(team, owner, dataset=dataset, prompts=[prompt], name="<b>one</b>")
    task.experiments.add(one)
    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(one, owner, "admin")
    client.force_login(owner)
    url = reverse("task_detail", args=[team.slug, task.code])
    with CaptureQueriesContext(connection) as small:
        page = client.get(url).text
    assert "&lt;b&gt;one&lt;/b&gt;" in page and "<b>one</b>" not in page

    models = [make_model(team, f"Model {i}") for i in range(3)]
    many = make_experiment(team, owner, dataset=dataset, prompts=[prompt], models=models, name="Many")
    task.experiments.add(many)
    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(many, owner, "admin")
    with CaptureQueriesContext(connection) as large:
        page = client.get(url).text
    runs = verdicts.run_verdicts(Task.objects.select_related("job").get(pk=task.pk))
    assert len(runs) == 4
    for rv in runs:  # every run is on the page, linked to its outputs
        assert reverse("experiments:run_detail", args=[team.slug, rv.run.code]) in page
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_team_home_shows_experiments_running_with_their_progress(
    team, owner, viewer, experiment, as_user, django_capture_on_commit_callbacks
):
    home = reverse("team_home", args=[team.slug])
    assert 'data-testid="running-experiments"' not in as_user(viewer).get(home).text
    with django_capture_on_commit_callbacks(execute=False):  # queued: no worker picks it up
        grid.start_experiment(experiment, owner, "admin")
    page = as_user(viewer).get(home).text
    assert 'data-testid="running-experiments"' in page
    assert experiment.name in page and "0 / 8" in page
