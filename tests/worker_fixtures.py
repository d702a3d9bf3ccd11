"""Real Celery workers for tests: a broker for the session and worker processes that see the test DB.

- `celery_broker` (session, autouse): with REDIS_URL set (CI) the suite uses that Redis and empties its
  database first, so point REDIS_URL at a database index kept for tests; otherwise it starts an embedded
  redis-server on a socket of its own, so test sessions running side by side never share queues.
  The URL is exported as CELERY_BROKER_URL, which worker subprocesses inherit.
- SQLite test databases are files (not in memory), so a worker process can open the same database.
- `celery_worker_process(queues=...)` starts a worker subprocess against the test database and returns a
  WorkerProcess that can be killed with SIGKILL and restarted; every worker is stopped at teardown.
  Tests using it get `transactional_db`: rows they create are committed, so the worker sees them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from config.run import die_with_parent

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 90.0  # a worker imports Django and every app's tasks (torch among them)
DEFAULT_INCLUDE = ("tests.worker_tasks",)
# Settings the test process changes per test that a worker needs too (paths; see worker_settings.py).
SHARED_PATH_SETTINGS = ("MODEL_CACHE_DIR", "MEDIA_ROOT")


def sqlite_test_database_path() -> Path:
    # One file per test session: helpers and CI runs on one machine never share a test database.
    return Path(tempfile.gettempdir()) / f"assay-test-{os.getpid()}.sqlite3"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(sqlite_test_database_path())


@pytest.fixture(scope="session", autouse=True)
def celery_broker() -> Iterator[str]:
    """The broker URL for this test session; Django settings, the Celery app and subprocesses use it."""
    import redis
    from django.conf import settings

    from config.celery import app
    from config.embedded_redis import EmbeddedRedis

    server = None
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        url = redis_url
        # Leftover queued tasks, results and rate-limit counters from earlier runs must not leak in.
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()
    else:
        folder = Path(tempfile.mkdtemp(prefix="assay-redis-"))
        server = EmbeddedRedis(folder / "redis.sock", persist=False)
        server.start(preexec_fn=die_with_parent)
        url = server.url
    previous = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    app.conf.update(broker_url=url, result_backend=url)
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous
        if server is not None:
            server.stop()
            shutil.rmtree(server.socket_path.parent, ignore_errors=True)


class WorkerStartError(RuntimeError):
    pass


class WorkerProcess:
    """One `celery worker` subprocess in its own process group (so kill() also takes its pool children)."""

    def __init__(
        self,
        queues: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        concurrency: int = 1,
        pool: str = "prefork",
        include: Sequence[str] = DEFAULT_INCLUDE,
        broker_url: str = "",
    ):
        self.queues = tuple(queues)
        self.broker_url = broker_url
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.pool = pool
        self.include = tuple(include)
        self.process: subprocess.Popen | None = None
        self.nodename = ""
        self.starts = 0

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-Q", ",".join(self.queues),
            "--concurrency", str(self.concurrency),
            "-P", self.pool,
            "-n", self.nodename,
            "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if self.include:
            command += ["--include", ",".join(self.include)]
        return command

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> WorkerProcess:
        if self.alive:
            raise WorkerStartError("This worker is already running: stop() or kill() it first.")
        self.starts += 1
        self.nodename = f"test-{uuid.uuid4().hex[:8]}@%h"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # no stray workers if pytest itself is killed
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log(offset):
                return self
            if self.process.poll() is not None:
                raise WorkerStartError(
                    f"The Celery worker exited with {self.process.returncode} before it was ready:\n"
                    + self.log_tail()
                )
            time.sleep(0.1)
        self.kill()
        raise WorkerStartError(f"The Celery worker was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crash or the OOM killer would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.broker_url:
            # Redis frees the dead worker's blocked BRPOP only when it reads the closed socket; a message
            # pushed before that would be handed to the dead client and lost. One round trip settles it.
            client = broker_client(self.broker_url)
            try:
                client.ping()
            finally:
                client.close()

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM: finish the current task), then SIGKILL whatever is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.kill()

    def restart(self, timeout: float = READY_TIMEOUT_SECONDS) -> WorkerProcess:
        self.stop()
        return self.start(timeout)

    def log(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def worker_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment, pointed at the test database and this test's settings."""
    import json

    from django.conf import settings
    from django.db import connection

    overrides = {
        name: str(getattr(settings, name)) for name in SHARED_PATH_SETTINGS if hasattr(settings, name)
    }
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.worker_settings",
        ASSAY_TEST_DATABASE_NAME=str(connection.settings_dict["NAME"]),
        ASSAY_TEST_SETTINGS=json.dumps(overrides),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        # Worker tests count calls and wait for idle queues; the single-request sample has its own tests.
        ASSAY_LATENCY_SAMPLE="0",
    )
    env.update(extra or {})
    return env


@pytest.fixture
def celery_worker_process(transactional_db, celery_broker, tmp_path):
    """celery_worker_process(queues=("default", "cpu"), concurrency=1, ...) -> a started WorkerProcess."""
    workers: list[WorkerProcess] = []

    def start(
        queues: Sequence[str] = ("default", "cpu"),
        concurrency: int = 1,
        pool: str = "prefork",
        include: Sequence[str] = DEFAULT_INCLUDE,
        env: dict[str, str] | None = None,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> WorkerProcess:
        worker = WorkerProcess(
            queues,
            worker_environment(env),
            tmp_path / f"worker-{len(workers) + 1}.log",
            concurrency=concurrency,
            pool=pool,
            include=include,
            broker_url=celery_broker,
        )
        workers.append(worker)
        return worker.start(timeout)

    yield start
    # The test is over: no need for a graceful (~3 s) shutdown. Then drop what the workers left queued or
    # unacknowledged, so it cannot reach a later test's worker.
    for worker in workers:
        worker.kill()
    purge_queues(celery_broker, {queue for worker in workers for queue in worker.queues})


def broker_client(url: str):
    import redis

    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.removeprefix("redis+socket://").split("?", 1)[0])
    return redis.Redis.from_url(url)


def purge_queues(url: str, queues: set[str]) -> None:
    """Empty these Celery queues and the unacknowledged-message store in the test broker."""
    client = broker_client(url)
    try:
        # kombu keeps a queue in a list named after it, plus one list per priority ("<queue>\x06\x16<n>").
        keys = [*queues, "unacked", "unacked_index", "unacked_mutex"]
        for queue in queues:
            keys += client.keys(f"{queue}\x06\x16*")
        client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def close_stray_database_sessions(request, django_db_blocker):
    """PostgreSQL only: before the test database is dropped, end the sessions this test run left open
    (e.g. connections Django made inside another async context, such as Playwright's sync API), which
    would otherwise make DROP DATABASE fail."""
    from django.conf import settings

    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        yield
        return
    request.getfixturevalue("django_db_setup")  # so this teardown runs before the database is dropped
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
