"""The health page (staff only) and `manage.py health` against the test broker (real Redis, no worker)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from experiments import broker, execution, recovery
from experiments.models import RunBatch
from experiments.services import grid
from tests.experiments.factories import make_experiment
from tests.factories import make_user


@pytest.fixture(autouse=True)
def quick(settings):
    settings.ASSAY_WORKER_REPLY_TIMEOUT_S = 0.2


@pytest.fixture
def staff(db):
    user = make_user("ops-admin")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def stalled(team, owner, django_capture_on_commit_callbacks):
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    ((batch_id, _),) = execution.plan_experiment(experiment.pk).batches
    batch = RunBatch.objects.get(pk=batch_id)
    execution.claim_batch(batch, redelivered=False, worker="assay-1@gone")
    RunBatch.objects.filter(pk=batch_id).update(claimed=timezone.now() - timedelta(minutes=10))
    return batch


def test_staff_see_broker_workers_batches_and_database(client, staff, stalled):
    client.force_login(staff)
    response = client.get("/health/")
    page = response.content.decode()
    assert response.status_code == 503  # no worker answers here, and a batch is stalled
    assert "reachable." in page
    assert "No worker answers" in page
    assert "1 batch stalled" in page and "assay-1@gone" in page
    assert "answered in" in page  # the database


def test_the_health_page_is_hidden_from_everyone_but_staff(client, owner, stranger):
    assert client.get("/health/").status_code == 302  # anonymous: sign in first
    for user in (owner, stranger):  # a team admin is not an instance admin
        client.force_login(user)
        assert client.get("/health/").status_code == 404


def test_the_command_lists_each_part_and_fails_when_something_needs_a_person(stalled):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="Not healthy"):
        call_command("health", stdout=out, stderr=err)
    text = out.getvalue()
    assert "Broker" in text and ": reachable" in text
    assert "Workers   none answering" in text
    assert "0 waiting" in text and "1 running, 1 stalled" in text
    assert "Database" in text and "answered in" in text
    assert "No worker answers" in err.getvalue()


def test_the_command_says_when_the_broker_is_down(db, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("health", stdout=out, stderr=err)
    assert "NOT REACHABLE" in out.getvalue()
    assert "The broker is not reachable" in err.getvalue()


def test_a_worker_running_the_batch_means_it_is_not_stalled(stalled, monkeypatch):
    busy = broker.Worker(
        "assay-1@busy", ["cpu", "default"], [{"task": recovery.GENERATE_TASK, "args": [stalled.pk]}]
    )
    monkeypatch.setattr(broker, "workers", lambda timeout=None: [busy])
    monkeypatch.setattr(broker, "queue_lengths", lambda: {"default": 0, "cpu": 0, "gpu": 0})
    out = StringIO()
    call_command("health", stdout=out)
    assert "Worker    assay-1@busy: queues cpu, default; running 1 task" in out.getvalue()
    assert "Healthy." in out.getvalue()
