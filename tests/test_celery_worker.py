from __future__ import annotations

import pytest
from celery.exceptions import TimeoutError
from django.conf import settings
from django.db import connection

from accounts.models import Team
from accounts.tasks import ping
from tests.factories import make_team
from tests.worker_fixtures import broker_client, purge_queues
from tests.worker_tasks import rename_team

pytestmark = pytest.mark.worker
RESULT_TIMEOUT = 60


def result_of(async_result, worker):
    """The task's return value; on a timeout, the worker's log says why."""
    try:
        return async_result.get(timeout=RESULT_TIMEOUT)
    except TimeoutError as error:
        raise AssertionError(
            f"no result after {RESULT_TIMEOUT} s; worker log:\n{worker.log_tail()}"
        ) from error


def test_a_real_worker_reads_and_writes_the_test_database(celery_worker_process):
    team = make_team("Round Trip", "round-trip")
    worker = celery_worker_process(queues=["default"])

    result = result_of(rename_team.delay(team.id, "checked"), worker)

    assert result == {"name": "Round Trip checked", "worker_pid": result["worker_pid"]}
    assert result["worker_pid"] != worker.pid  # ran in the prefork pool child, not in this process
    team.refresh_from_db()
    assert team.name == "Round Trip checked"


def test_the_health_check_task_reports_the_database_the_worker_uses(celery_worker_process):
    make_team("One", "one")
    make_team("Two", "two")
    worker = celery_worker_process(queues=["default"])

    result = result_of(ping.delay(), worker)

    assert result["pong"] is True
    assert result["database"] == connection.vendor
    assert result["teams"] == Team.objects.count() == 2


def test_a_killed_worker_can_be_restarted_and_takes_queued_work(celery_worker_process):
    team = make_team("Restart", "restart")
    worker = celery_worker_process(queues=["cpu"])
    first_pid = worker.pid
    worker.kill()
    assert not worker.alive

    pending = rename_team.apply_async((team.id, "after restart"), queue="cpu")
    worker.start()

    assert worker.pid != first_pid
    assert result_of(pending, worker)["name"] == "Restart after restart"


def test_the_suite_uses_its_own_broker(celery_broker):
    assert celery_broker == settings.CELERY_BROKER_URL
    if not settings.REDIS_URL:
        assert celery_broker.startswith("redis+socket://")
        assert str(settings.EMBEDDED_REDIS_SOCKET) not in celery_broker  # never `make run`'s server


def test_work_left_queued_by_a_test_is_purged_from_the_broker(celery_broker, db):
    rename_team.apply_async((0, "never runs"), queue="cpu", priority=5)
    client = broker_client(celery_broker)
    try:
        assert client.keys("cpu*")
        purge_queues(celery_broker, {"cpu"})
        assert not client.keys("cpu*")
    finally:
        client.close()
