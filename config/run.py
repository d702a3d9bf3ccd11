"""`make run`: the whole app on this machine with demo data.

Starts the embedded Redis (when REDIS_URL is unset), migrates, seeds the demo team, then runs the web
server on 127.0.0.1:$PORT, a Celery worker and Celery beat (the recovery sweep) as child processes with
this environment. A worker or beat that dies is started again with a back-off while the web server
stays up; the web server's exit stops everything. Ctrl-C (or
SIGTERM) stops everything it started. Running it again reuses the database, the demo data and a Redis
server that is still answering on the socket.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WEB_READY_TIMEOUT_SECONDS = 60.0
WORKER_READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
# A second launcher on the same data folder waits this long for the first to stop.
LOCK_WAIT_SECONDS = float(os.environ.get("ASSAY_LAUNCH_LOCK_WAIT_S", "30"))
# A crashed worker or beat is started again after 1, 2, 4 … seconds, at most this long.
RESTART_MAX_DELAY_SECONDS = 60.0
RESTART_RESET_SECONDS = 60.0  # one that ran this long before dying starts again after 1 s
BASE_DIR = Path(__file__).resolve().parent.parent


class LaunchError(Exception):
    pass


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def is_accepting(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def die_with_parent() -> None:
    """Runs in each child before exec: if the launcher is killed outright, the child gets SIGTERM."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Child:
    """A process the launcher started. A `restartable` one (the worker, beat) is started again with a
    back-off when it dies; the others (the web server) stop Assay when they exit."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], restartable: bool = False):
        self.name = name
        self.command = command
        self.env = env
        self.restartable = restartable
        self.restarts = 0
        self.failures = 0  # consecutive early exits: the back-off grows with them
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.restart_at = None
        self.process = subprocess.Popen(
            self.command,
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            # Own process group: Ctrl-C reaches only the launcher, which stops children in order.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def exited(self) -> int | None:
        if self.restart_at is not None:
            return None  # waiting out its back-off
        return self.process.poll()

    def schedule_restart(self) -> float:
        """Seconds until it is started again: 1, 2, 4 … up to RESTART_MAX_DELAY_SECONDS while it keeps
        dying early; back to 1 once it had run for RESTART_RESET_SECONDS."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its pool processes, if any survived it
        if time.monotonic() - self.started_at >= RESTART_RESET_SECONDS:
            self.failures = 0
        delay = min(RESTART_MAX_DELAY_SECONDS, 2.0**self.failures)
        self.failures += 1
        self.restart_at = time.monotonic() + delay
        return delay

    def restart_if_due(self) -> bool:
        if self.restart_at is None or time.monotonic() < self.restart_at:
            return False
        self.restarts += 1
        self.start()
        return True

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # Celery: warm shutdown; runserver and gunicorn: exit
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop within {timeout:.0f} s: killing it.", flush=True)
        self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # also the worker's pool processes
        self.process.wait()


class Launcher:
    def __init__(self, port: int):
        self.port = port
        self.children: list[Child] = []
        self.redis = None
        self.stopping = False
        self.worker_name = f"assay-{os.getpid()}"
        self.worker_ready = False
        self.workers: list[tuple[str, str]] = []  # (node name, queues) of the workers started

    def run(self) -> int:
        if not port_is_free(HOST, self.port):
            print(
                f"Port {self.port} on {HOST} is already in use (is Assay already running?). "
                f"Stop that process, or pick another port: PORT={self.port + 1} make run",
                file=sys.stderr,
            )
            return 1
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from django.conf import settings

        if not self._lock_data_dir(Path(settings.DATA_DIR)):
            return 1
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start_broker(settings)
            self._prepare_database(settings)
            if not self.stopping:
                self._start_children(settings)
            if not self.stopping:
                self._wait_for_web()
                self._wait_for_worker()
            if not self.stopping:
                self._warm_up_default_model()
                self._print_banner(settings)
                return self._supervise()
            return 0
        except LaunchError as error:
            print(f"\n{error}", file=sys.stderr, flush=True)
            return 1
        finally:
            self._stop_all()

    def _lock_data_dir(self, data_dir: Path) -> bool:
        """One launcher per data folder: a second one would reuse the first's embedded Redis, which the
        first stops when it exits. Waits a little for one that is stopping; the lock goes with the process."""
        import fcntl

        self._lock_file = open(data_dir / "launcher.lock", "a+")  # noqa: SIM115 (held for the process's life)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        told = False
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._lock_file.seek(0)
                    holder = self._lock_file.read().strip() or "another process"
                    print(
                        f"Assay is already running with the data folder {data_dir} (pid {holder}). Stop it "
                        "first, or give this one another folder: ASSAY_DATA_DIR=/some/other/folder make run",
                        file=sys.stderr,
                    )
                    return False
                if not told:
                    print(f"Another Assay is using {data_dir}: waiting for it to stop…", flush=True)
                    told = True
                time.sleep(0.5)
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()
        return True

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:  # a second Ctrl-C: stop waiting for a graceful shutdown
            for child in self.children:
                child.kill()
            return
        self.stopping = True
        print("\nStopping Assay…", flush=True)

    def _start_broker(self, settings) -> None:
        from config.embedded_redis import EmbeddedRedis, EmbeddedRedisError, broker_url

        socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
        if broker_url(socket_path) != settings.CELERY_BROKER_URL:
            print(f"Broker: {_redacted(settings.CELERY_BROKER_URL)}", flush=True)
            return
        self.redis = EmbeddedRedis(socket_path, data_dir=settings.DATA_DIR, persist=True)
        try:
            started = self.redis.start(preexec_fn=die_with_parent)
        except EmbeddedRedisError as error:
            raise LaunchError(str(error)) from error
        state = "started" if started else "already running, reused"
        print(f"Broker: embedded Redis on {socket_path} ({state})", flush=True)

    def _prepare_database(self, settings) -> None:
        from django.core.management import call_command
        from django.db import connection, connections
        from django.db.migrations.executor import MigrationExecutor

        database = settings.DATABASES["default"]
        where = (
            database["NAME"] if "sqlite" in database["ENGINE"] else f"PostgreSQL database {database['NAME']}"
        )
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            print(f"Database: {where}: applying {len(plan)} migrations…", flush=True)
            call_command("migrate", interactive=False, verbosity=0)
        else:
            print(f"Database: {where} (up to date)", flush=True)
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        for line in out.getvalue().splitlines():
            print(f"  {line}", flush=True)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
            print(f"Static files collected in {settings.STATIC_ROOT}", flush=True)
        connections.close_all()

    def _start_children(self, settings) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        address = f"{HOST}:{self.port}"
        if settings.DEBUG:
            web = [sys.executable, "manage.py", "runserver", "--noreload", address]
        else:
            web = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", address, "--workers", "2"]
            web += ["--access-logfile", "-"]
        # Two workers: model work (generation, scoring, probes) on the model queue, and everything short
        # (reports, measurements' bookkeeping, the recovery sweep, pings) on the default queue, so a quick
        # task never waits behind a batch of generations.
        concurrency = os.environ.get("ASSAY_WORKER_CONCURRENCY", "1")
        self.workers = [
            (f"{self.worker_name}@%h", os.environ.get("ASSAY_WORKER_QUEUES", "default")),
            (f"{self.worker_name}-model@%h", os.environ.get("ASSAY_MODEL_QUEUES", "cpu")),
        ]
        workers = []
        for node, queues in self.workers:
            command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
            workers.append(command + ["--concurrency", concurrency, "-l", "info", "-n", node])
        # Celery beat sends the recovery sweep every minute (settings.CELERY_BEAT_SCHEDULE): batches
        # whose worker died are re-queued and work the broker lost is re-sent, without a command.
        schedule = Path(settings.DATA_DIR) / "celerybeat-schedule"
        beat = [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", "-s", str(schedule)]
        beat += ["--pidfile="]
        self.children.append(Child("The web server", web, env))
        self.children.append(Child("The Celery worker", workers[0], env, restartable=True))
        self.children.append(Child("The model worker", workers[1], env, restartable=True))
        self.children.append(Child("Celery beat", beat, env, restartable=True))

    def _wait_for_web(self) -> None:
        deadline = time.monotonic() + WEB_READY_TIMEOUT_SECONDS
        while not self.stopping and time.monotonic() < deadline:
            self._check_children()
            if is_accepting(HOST, self.port):
                return
            time.sleep(0.2)
        if not self.stopping:
            raise LaunchError(f"The web server did not answer on {HOST}:{self.port} within 60 s.")

    def _wait_for_worker(self) -> None:
        """So the banner comes last: the worker answers a broadcast ping once it consumes."""
        from config.celery import app

        deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
        while not self.stopping and time.monotonic() < deadline:
            self._check_children()
            replies = app.control.ping(timeout=0.5)
            answered = {name.split("@")[0] for reply in replies for name in reply}
            if all(node.split("@")[0] in answered for node, _ in self.workers):
                self.worker_ready = True
                return

    def _warm_up_default_model(self) -> None:
        """The model worker loads and runs the default model before anyone asks, so a newcomer's first
        experiment is as fast as the tenth (ASSAY_WARM_UP=0 turns it off)."""
        if os.environ.get("ASSAY_WARM_UP", "1") == "0" or not self.worker_ready:
            return
        from config.celery import app

        queues = self.workers[1][1].split(",")
        try:
            app.send_task("llmcore.warm_up", queue=queues[0])
        except Exception as error:  # the broker went away: nothing to warm, nothing broken
            print(f"Could not ask the model worker to warm the default model: {error}", flush=True)
            return
        print(f"Model worker: loading the default model in the background (queue {queues[0]})", flush=True)

    def _check_children(self) -> None:
        for child in self.children:
            code = child.exited()
            if code is not None:
                raise LaunchError(f"{child.name} stopped unexpectedly (exit code {code}): stopping Assay.")

    def _print_banner(self, settings) -> None:
        from opportunities.demo import DEMO_PASSWORD, DEMO_TEAM_SLUG

        url = f"http://{HOST}:{self.port}/"
        password = (
            DEMO_PASSWORD
            if settings.DEBUG
            else "as printed when it was created (manage.py reset_password demo sets a new one)"
        )
        lines = [
            f"Assay is running at {url}",
            f"Demo login: user demo, password {password}   (team: {url}t/{DEMO_TEAM_SLUG}/)",
            "Also demo-editor, demo-viewer and demo-auditor, same password.",
            "Celery workers: "
            + ", ".join(f"queue {queues}" for _, queues in self.workers)
            + ("" if self.worker_ready else " (not answering yet: see their log above)")
            + " (restarted if one dies)",
            f"Celery beat: recovery sweep every {settings.ASSAY_RECOVERY_INTERVAL_S} s"
            " (stalled batches re-queued, lost work re-sent)",
            f"Data: {settings.DATA_DIR}",
            "Press Ctrl-C to stop.",
        ]
        width = max(len(line) for line in lines) + 4
        print("\n" + "=" * width, flush=True)
        for line in lines:
            print(f"  {line}", flush=True)
        print("=" * width + "\n", flush=True)

    def _supervise(self) -> int:
        """The web server's exit stops Assay; a worker or beat that dies is started again (back-off)."""
        while not self.stopping:
            for child in self.children:
                if child.restart_if_due():
                    print(f"{child.name} restarted (restart {child.restarts}).", flush=True)
                    continue
                code = child.exited()
                if code is None:
                    continue
                if not child.restartable:
                    print(
                        f"\n{child.name} stopped unexpectedly (exit code {code}): stopping Assay.",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
                delay = child.schedule_restart()
                print(
                    f"{child.name} stopped unexpectedly (exit code {code}): starting it again in {delay:.0f} s; "
                    "the web server stays up.",
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(0.5)
        return 0

    def _stop_all(self) -> None:
        for child in self.children:
            child.stop()
        self.children = []
        if self.redis is not None and self.redis.owned:
            self.redis.stop()
        print("Assay stopped.", flush=True)


def _redacted(url: str) -> str:
    """The broker URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def main() -> int:
    os.chdir(BASE_DIR)
    sys.path.insert(0, str(BASE_DIR))
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    return Launcher(port).run()


if __name__ == "__main__":
    sys.exit(main())
