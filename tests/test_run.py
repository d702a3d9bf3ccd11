"""`make run` (python -m config.run) end to end: a fresh data folder, the embedded Redis, a real worker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from celery import Celery

from config.embedded_redis import EmbeddedRedis, broker_url, is_listening

BASE_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Launch:
    def __init__(self, data_dir: Path, port: int, warm_up: bool = False, lock_wait_s: float = 30):
        self.port = port
        self.log_path = data_dir / f"run-{time.monotonic_ns()}.log"
        env = {
            k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        }
        env.update(ASSAY_DATA_DIR=str(data_dir), PORT=str(port), PYTHONUNBUFFERED="1")
        # Loading the real default model takes a core for half a minute: only the test that checks it.
        env["ASSAY_WARM_UP"] = "1" if warm_up else "0"
        env["ASSAY_LAUNCH_LOCK_WAIT_S"] = str(lock_wait_s)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "config.run"],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed; output:\n{self.output[-4000:]}")

    def interrupt(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def close(self) -> None:
        """Stop it the way a person would; SIGKILL only if that fails."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def data_dir():
    # A short path: the embedded Redis socket lives here and unix socket paths are limited in length.
    folder = Path(tempfile.mkdtemp(prefix="assay-run-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def launches():
    started: list[Launch] = []
    yield started
    for launch in started:
        launch.close()


def sign_in(base: str, username: str, password: str) -> tuple[str, str]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    response = opener.open(f"{base}login/", data=form.encode(), timeout=30)
    return response.geturl(), response.read().decode()


@pytest.mark.worker
def test_make_run_serves_the_demo_with_a_worker_and_stops_everything_on_ctrl_c(
    data_dir, launches, monkeypatch
):
    port = free_port()
    launch = Launch(data_dir, port, warm_up=True)
    launches.append(launch)
    launch.wait_for("Assay is running at")
    base = f"http://127.0.0.1:{port}/"
    assert base in launch.output
    assert "user demo, password demo" in launch.output
    assert "Model worker: loading the default model in the background (queue cpu)" in launch.output

    url, page = sign_in(base, "demo", "demo")
    assert url == f"{base}t/demo/"
    assert "Demo" in page

    socket_path = data_dir / "redis.sock"
    monkeypatch.delenv("CELERY_BROKER_URL")  # Celery prefers it to the broker given here
    client = Celery(broker=broker_url(socket_path), backend=broker_url(socket_path))
    launch.wait_for(" ready.")
    result = client.send_task("assay.ping", queue="default").get(timeout=60)
    assert result["teams"] >= 1  # the worker reads the same database as the web server

    assert launch.interrupt() == 0
    assert "Assay stopped." in launch.output
    assert not is_listening(socket_path)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # nothing listens there any more


@pytest.mark.worker
def test_running_it_again_reuses_the_data_and_a_redis_server_still_running(data_dir, launches):
    first = Launch(data_dir, free_port())
    launches.append(first)
    first.wait_for("Assay is running at")
    assert first.interrupt() == 0

    redis = EmbeddedRedis(data_dir / "redis.sock", persist=False)
    assert redis.start()
    try:
        second = Launch(data_dir, free_port())
        launches.append(second)
        second.wait_for("Assay is running at")
        assert "already running, reused" in second.output
        assert "(up to date)" in second.output
        assert "nothing changed" in second.output
        assert second.interrupt() == 0
        assert is_listening(redis.socket_path)  # not ours to stop
    finally:
        redis.stop()


def test_it_says_clearly_when_the_port_is_busy(data_dir, launches):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        launch = Launch(data_dir, port)
        launches.append(launch)
        assert launch.process.wait(30) == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in launch.output
    assert f"PORT={port + 1} make run" in launch.output


def child_pids(parent: int, needle: str) -> list[int]:
    """Processes whose parent is `parent` and whose command line contains `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and needle in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.worker
def test_a_killed_worker_is_started_again_while_the_web_server_stays_up(data_dir, launches, monkeypatch):
    port = free_port()
    launch = Launch(data_dir, port)
    launches.append(launch)
    launch.wait_for("Assay is running at")
    assert "Celery beat: recovery sweep every" in launch.output
    (worker,) = child_pids(launch.process.pid, " worker -Q default ")
    (model_worker,) = child_pids(launch.process.pid, " worker -Q cpu ")
    (web,) = child_pids(launch.process.pid, "runserver")
    assert child_pids(launch.process.pid, " beat ")

    os.killpg(worker, signal.SIGKILL)  # the worker and its pool, as the OOM killer or a crash would
    launch.wait_for("The Celery worker stopped unexpectedly (exit code -9): starting it again in 1 s")
    launch.wait_for("The Celery worker restarted (restart 1).")

    base = f"http://127.0.0.1:{port}/"
    assert urllib.request.urlopen(f"{base}login/", timeout=30).status == 200  # never went down
    assert child_pids(launch.process.pid, "runserver") == [web]
    monkeypatch.delenv("CELERY_BROKER_URL")
    client = Celery(broker=broker_url(data_dir / "redis.sock"), backend=broker_url(data_dir / "redis.sock"))
    assert client.send_task("assay.ping", queue="default").get(timeout=90)["teams"] >= 1  # the new worker
    assert child_pids(launch.process.pid, " worker -Q cpu ") == [model_worker]  # the other one kept working
    assert launch.process.poll() is None
    assert launch.interrupt() == 0


def test_a_second_launch_on_the_same_data_folder_is_refused_not_broken(data_dir, launches):
    first = Launch(data_dir, free_port())
    launches.append(first)
    first.wait_for("Assay is running at")
    second = Launch(data_dir, free_port(), lock_wait_s=1)
    launches.append(second)
    assert second.process.wait(60) == 1
    assert (
        f"Assay is already running with the data folder {data_dir} (pid {first.process.pid})" in second.output
    )
    assert first.process.poll() is None  # the first keeps its broker and goes on
    assert first.interrupt() == 0
