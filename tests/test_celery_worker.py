from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Team
from accounts.tasks import ping
from tests.factories import make_team
from tests.worker_tasks import rename_team

pytestmark = pytest.mark.worker
RESULT_TIMEOUT = 60


def test_a_real_worker_reads_and_writes_the_test_database(celery_worker_process):
    team = make_team("Round Trip", "round-trip")
    worker = celery_worker_process(queues=["default"])

    result = rename_team.delay(team.id, "checked").get(timeout=RESULT_TIMEOUT)

    assert result == {"name": "Round Trip checked", "worker_pid": result["worker_pid"]}
    assert result["worker_pid"] != worker.pid  # ran in the prefork pool child, not in this process
    team.refresh_from_db()
    assert team.name == "Round Trip checked"


def test_the_health_check_task_reports_the_database_the_worker_uses(celery_worker_process):
    make_team("One", "one")
    make_team("Two", "two")
    celery_worker_process(queues=["default"])

    result = ping.delay().get(timeout=RESULT_TIMEOUT)

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
    assert pending.get(timeout=RESULT_TIMEOUT)["name"] == "Restart after restart"


def test_the_suite_uses_its_own_broker(celery_broker):
    assert celery_broker == settings.CELERY_BROKER_URL
    if not settings.REDIS_URL:
        assert celery_broker.startswith("redis+socket://")
        assert str(settings.EMBEDDED_REDIS_SOCKET) not in celery_broker  # never `make run`'s server
