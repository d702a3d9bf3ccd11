"""Reports tests: a small portfolio with hostile text, an experiment run on the fake engine, report files
in the test's own folder, and Celery tasks run eagerly (the worker path without a worker process)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audits.models import Risk
from tests.experiments.factories import make_dataset, make_experiment, make_prompt
from tests.factories import make_job, make_task, make_usecase
from tests.llmcore.registry_fakes import install_fake_engine
from tests.opportunities.test_verdict_rollup import PASS_FIRST_FOUR, review_all, run_it

SCRIPT = "<script>alert('task')</script> Triage inbound tickets"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(autouse=True)
def _report_files(settings, tmp_path):
    settings.ASSAY_REPORTS_DIR = tmp_path / "reports"


@pytest.fixture
def eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def portfolio(team, owner):
    """Two jobs, four tasks (one with a script, one with a formula), exposure labels from a person and
    from the pre-screen, and a use case with two open risks."""
    support = make_job(team, "Support agent", headcount=10, hourly_cost="40")
    legal = make_job(team, "Paralegal", headcount=2, hourly_cost="60")
    tasks = {
        "script": make_task(
            support, SCRIPT, hours_per_week=Decimal("10"), exposure_label="E1", label_source="human"
        ),
        "formula": make_task(
            support, FORMULA, hours_per_week=Decimal("1"), exposure_label="E2", label_source="predicted"
        ),
        "emails": make_task(support, "Answer customer emails", exposure_label="E2", label_source="human"),
        "contracts": make_task(legal, "Summarise contracts", hours_per_week=Decimal("3")),
    }
    use_case = make_usecase(team, "Ticket triage <b>bot</b>", owner=owner)
    use_case.tasks.add(tasks["script"], tasks["emails"])
    for description, likelihood in (("Leaks <i>customer</i> data", 4), ("Wrong routing", 2)):
        Risk.objects.create(
            team=team, use_case=use_case, dimension="privacy", description=description,
            likelihood=likelihood, impact=4, residual_likelihood=likelihood, residual_impact=3,
        )  # fmt: skip
    return {"jobs": {"support": support, "legal": legal}, "tasks": tasks, "use_case": use_case}


@pytest.fixture
def experiment(team, owner, portfolio, monkeypatch, django_capture_on_commit_callbacks):
    """Eight cases on the fake engine (it echoes the prompt, script included), the first four passing,
    every output accepted by one reviewer; the emails task uses it as evidence."""
    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=8, author=owner)
    version = make_prompt(
        team, dataset=dataset, author=owner, instruction="<script>x()</script> Topic of: {{ticket}}"
    ).versions.get()
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], scorers=[PASS_FIRST_FOUR])
    portfolio["tasks"]["emails"].experiments.add(experiment)
    run_it(experiment, owner, django_capture_on_commit_callbacks)
    review_all(experiment, owner, "accept", django_capture_on_commit_callbacks)
    experiment.refresh_from_db()
    return experiment
