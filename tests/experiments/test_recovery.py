"""The recovery sweep against the test broker (real Redis, no worker running): batches whose worker died
go back to the queue, queued work whose message was lost is re-sent, and a broker that is down makes
starting an experiment fail fast and leaves it a draft."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from experiments import broker, execution, recovery
from experiments.models import Experiment, RunBatch, Status
from experiments.services import grid
from experiments.tasks import generate_batch, orchestrate_experiment, send_recovery
from tests.experiments.factories import make_experiment
from tests.llmcore.registry_fakes import install_fake_engine
from tests.worker_fixtures import purge_queues

QUEUES = {"default", "cpu", "gpu"}


@pytest.fixture(autouse=True)
def quick_sweep(settings, celery_broker):
    settings.ASSAY_WORKER_REPLY_TIMEOUT_S = 0.2  # no worker runs here: every broadcast times out
    settings.ASSAY_STALL_GRACE_S = 120
    purge_queues(celery_broker, QUEUES)
    yield
    purge_queues(celery_broker, QUEUES)


@pytest.fixture
def engine(monkeypatch):
    return install_fake_engine(monkeypatch)


@pytest.fixture
def planned(team, owner, django_capture_on_commit_callbacks):
    """A started experiment planned into one queued batch (its messages never sent)."""
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    ((batch_id, _),) = execution.plan_experiment(experiment.pk).batches
    return experiment, RunBatch.objects.get(pk=batch_id)


def claim(batch: RunBatch, worker: str, minutes_ago: float) -> int:
    attempt = execution.claim_batch(batch, redelivered=False, worker=worker)
    RunBatch.objects.filter(pk=batch.pk).update(claimed=timezone.now() - timedelta(minutes=minutes_ago))
    return attempt


def test_a_batch_whose_worker_died_goes_back_to_the_queue_and_is_generated_once(planned, engine):
    experiment, batch = planned
    old_attempt = claim(batch, "assay-1@gone", minutes_ago=10)

    found = recovery.find_work_to_recover()

    assert found.stalled == [(batch.pk, "cpu")]
    batch.refresh_from_db()
    assert batch.status == Status.QUEUED
    assert execution.generate_batch(batch.pk, worker="assay-2@here").status == "generated"
    # The first worker was only slow: its late "done" matches no attempt any more.
    assert not RunBatch.objects.filter(pk=batch.pk, attempts=old_attempt).exists()
    run = experiment.runs.get()
    assert run.status == Status.DONE
    assert run.generations.count() == run.total


def test_a_recent_claim_or_a_batch_a_worker_still_runs_is_left_alone(planned, monkeypatch):
    _, batch = planned
    claim(batch, "assay-1@busy", minutes_ago=1)  # within the grace
    assert recovery.find_work_to_recover().stalled == []

    RunBatch.objects.filter(pk=batch.pk).update(claimed=timezone.now() - timedelta(minutes=10))
    busy = broker.Worker("assay-1@busy", ["cpu"], [{"task": recovery.GENERATE_TASK, "args": [batch.pk]}])
    monkeypatch.setattr(broker, "workers", lambda timeout=None: [busy])
    assert recovery.find_work_to_recover().stalled == []
    batch.refresh_from_db()
    assert batch.status == Status.RUNNING


def test_a_queued_batch_whose_message_was_lost_is_sent_again_but_not_twice(planned, celery_broker):
    _, batch = planned
    assert recovery.find_work_to_recover().lost == [(batch.pk, "cpu")]  # never sent

    send_recovery(recovery.find_work_to_recover())  # what beat's task does
    assert batch.pk in broker.pending_messages()[recovery.GENERATE_TASK]
    assert recovery.find_work_to_recover().lost == []  # its message now waits in the queue

    purge_queues(celery_broker, QUEUES)  # Redis restarted without its data
    assert recovery.find_work_to_recover().lost == [(batch.pk, "cpu")]


def test_a_queued_experiment_whose_orchestrator_was_lost_is_sent_again(
    team, owner, django_capture_on_commit_callbacks
):
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    assert recovery.find_work_to_recover().experiments == []  # just started: its message may be on its way

    Experiment.objects.filter(pk=experiment.pk).update(started=timezone.now() - timedelta(minutes=5))
    assert recovery.find_work_to_recover().experiments == [experiment.pk]

    orchestrate_experiment.delay(experiment.pk)
    assert recovery.find_work_to_recover().experiments == []


@pytest.fixture
def broker_down(monkeypatch):
    # Nothing listens on port 1: a refused connection, as when Redis is stopped.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # Celery reads it first
    assert current_app.conf.broker_write_url == "redis://127.0.0.1:1/0"
    assert not broker.broker_reachable()


def test_starting_while_the_broker_is_down_says_so_fast_and_leaves_a_draft(team, owner, broker_down):
    experiment = make_experiment(team, owner)

    began = time.monotonic()
    with pytest.raises(grid.ExperimentError, match="task queue .* is not answering.*still a draft"):
        grid.start_experiment(experiment, owner, "admin")
    assert time.monotonic() - began < 2

    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT
    assert not experiment.runs.exists()


def test_the_start_button_shows_the_message_and_the_experiment_stays_startable(
    client, team, owner, broker_down
):
    experiment = make_experiment(team, owner)
    client.force_login(owner)

    began = time.monotonic()
    response = client.post(f"/t/{team.slug}/experiments/{experiment.code}/start/", follow=True)
    assert time.monotonic() - began < 2

    assert "The task queue (Redis) is not answering" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT


def test_the_sweep_does_nothing_while_the_broker_is_down(planned, broker_down):
    _, batch = planned
    claim(batch, "assay-1@gone", minutes_ago=10)

    found = recovery.find_work_to_recover()

    assert found.skipped.startswith("the broker is not reachable")
    batch.refresh_from_db()
    assert batch.status == Status.RUNNING  # untouched until the broker is back


def test_generate_batch_is_the_task_the_sweep_watches():
    assert generate_batch.name == recovery.GENERATE_TASK
    assert orchestrate_experiment.name == recovery.ORCHESTRATE_TASK
