"""The demo's reviews: two demo reviewers review a finished demo experiment so its task gets a verdict."""

from __future__ import annotations

from experiments import execution, scoring
from experiments.models import HumanReview
from experiments.services import grid
from opportunities.demo_reviews import COMMENT, review_demo_experiments
from opportunities.models import Job, Task
from tests.experiments.factories import make_dataset, make_experiment
from tests.factories import make_team, make_user
from tests.llmcore.registry_fakes import install_fake_engine

SCORERS = [{"name": "contains", "params": {"strings": ["echo"]}, "threshold": 1.0, "weight": 1.0}]


def finished_experiment(team, owner, django_capture_on_commit_callbacks):
    experiment = make_experiment(
        team, owner, dataset=make_dataset(team, cases=6, author=owner), scorers=SCORERS
    )
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    for batch_id, _ in execution.plan_experiment(experiment.pk).batches:
        outcome = execution.generate_batch(batch_id, worker="test")
        scoring.score_generations(outcome.run_id, outcome.generation_ids)
    experiment.refresh_from_db()
    return experiment


def test_two_demo_reviewers_review_a_finished_demo_experiment_once(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    install_fake_engine(monkeypatch)
    demo = make_team("Demo", "demo")
    owner = make_user("demo", team=demo, role="admin")
    editor = make_user("demo-editor", team=demo, role="editor")
    auditor = make_user("demo-auditor", team=demo, role="auditor")
    experiment = finished_experiment(demo, owner, django_capture_on_commit_callbacks)
    assert review_demo_experiments([experiment.pk]) == 0  # not yet any task's evidence
    job = Job.objects.create(team=demo, title="Support agent")
    Task.objects.create(job=job, statement="Route tickets").experiments.add(experiment)

    assert review_demo_experiments([experiment.pk]) == 12  # 6 outputs × 2 reviewers
    reviews = HumanReview.objects.filter(generation__run__experiment=experiment)
    assert {r.reviewer for r in reviews} == {editor, auditor}
    assert set(reviews.values_list("verdict", flat=True)) == {"accept"}  # every output passed the scorer
    assert set(reviews.values_list("comment", flat=True)) == {COMMENT}  # says what it is
    assert review_demo_experiments([experiment.pk]) == 0  # once


def test_other_teams_and_unscored_experiments_get_no_reviews(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    install_fake_engine(monkeypatch)
    make_user("demo-editor", team=team, role="editor")
    make_user("demo-auditor", team=team, role="auditor")
    experiment = finished_experiment(team, owner, django_capture_on_commit_callbacks)
    Task.objects.create(job=Job.objects.create(team=team, title="Agent"), statement="Route").experiments.add(
        experiment
    )
    assert review_demo_experiments([experiment.pk]) == 0
    assert not HumanReview.objects.exists()
