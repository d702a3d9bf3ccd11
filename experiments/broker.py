"""What the Celery broker and its workers say right now, asked with short timeouts so a page or a
sweep never hangs on a broker that is down.

- `broker_reachable()`: does the broker accept a connection (fails fast: a refused or timed-out
  connection is one attempt, no back-off);
- `workers()`: the workers answering a broadcast, their queues and the tasks they are running or hold;
- `pending_messages()`: the task messages waiting in the broker's queues or delivered to a worker and
  not yet acknowledged (Redis only: the transport Assay uses), to tell a lost message from a slow one.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings

log = logging.getLogger(__name__)

# The queues Assay's tasks are routed to (tasks.py, llmcore's registry).
QUEUES = ("default", "cpu", "gpu")
UNACKED_KEY = "unacked"  # kombu's Redis transport: messages delivered to a worker, not yet acknowledged


# A message that is not one of ours (or not JSON) is skipped, not fatal.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, SyntaxError, AttributeError)


class BrokerUnavailable(Exception):
    pass


def redacted(url: str) -> str:
    """The broker URL without its password, for pages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def broker_url() -> str:
    return str(current_app.conf.broker_url or settings.CELERY_BROKER_URL)


def _connection():
    timeout = settings.ASSAY_BROKER_TIMEOUT_S
    return current_app.connection_for_write(
        transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout}
    )


def broker_reachable() -> bool:
    try:
        check_broker()
    except BrokerUnavailable:
        return False
    return True


def check_broker() -> None:
    """Raises BrokerUnavailable (with the reason) unless the broker accepts a connection now."""
    timeout = settings.ASSAY_BROKER_TIMEOUT_S
    try:
        with _connection() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
            connection.default_channel  # noqa: B018 - Redis: a real round trip, not only a socket
    except Exception as error:
        raise BrokerUnavailable(str(error) or type(error).__name__) from error


@dataclass
class Worker:
    name: str
    queues: list[str] = field(default_factory=list)
    active: list[dict] = field(default_factory=list)  # {"task": name, "args": [...]}


def workers(timeout: float | None = None) -> list[Worker]:
    """The workers that answer within `timeout` seconds (none when no worker runs). Raises
    BrokerUnavailable when the broker itself is down."""
    check_broker()
    timeout = settings.ASSAY_WORKER_REPLY_TIMEOUT_S if timeout is None else timeout
    inspect = current_app.control.inspect(timeout=timeout)
    try:
        queues = inspect.active_queues() or {}
        active = inspect.active() or {}
    except Exception as error:
        raise BrokerUnavailable(str(error) or type(error).__name__) from error
    found = []
    for name in sorted(set(queues) | set(active)):
        running = [
            {"task": task.get("name", ""), "args": list(task.get("args") or [])}
            for task in active.get(name, [])
        ]
        found.append(Worker(name, sorted(q.get("name", "") for q in queues.get(name, [])), running))
    return found


def task_args(workers_: list[Worker], task_name: str) -> set[int]:
    """The first argument (an id) of each running task of that name."""
    return {
        task["args"][0]
        for worker in workers_
        for task in worker.active
        if task["task"] == task_name and task["args"] and isinstance(task["args"][0], int)
    }


def pending_messages() -> dict[str, set[int]]:
    """task name -> the first argument (an id) of each of its messages waiting in a queue or held by a
    worker unacknowledged. Raises BrokerUnavailable; an empty mapping on a transport other than Redis
    would hide lost messages, so it raises there too."""
    found: dict[str, set[int]] = defaultdict(set)
    try:
        with _connection() as connection:
            channel = connection.default_channel
            client = getattr(channel, "client", None)
            if client is None:
                raise BrokerUnavailable("only a Redis broker can be inspected for lost messages")
            raw = [item for queue in QUEUES for item in client.lrange(queue, 0, -1)]
            for value in client.hvals(UNACKED_KEY):
                with contextlib.suppress(*MALFORMED):
                    raw.append(json.dumps(json.loads(value)[0]))
    except BrokerUnavailable:
        raise
    except Exception as error:
        raise BrokerUnavailable(str(error) or type(error).__name__) from error
    for item in raw:
        task, first = _task_and_first_arg(item)
        if task and first is not None:
            found[task].add(first)
    return dict(found)


def queue_lengths() -> dict[str, int]:
    with _connection() as connection:
        client = connection.default_channel.client
        return {queue: int(client.llen(queue)) for queue in QUEUES}


def _task_and_first_arg(raw) -> tuple[str, int | None]:
    with contextlib.suppress(*MALFORMED):
        message = json.loads(raw)
        headers = message.get("headers") or {}
        task = headers.get("task", "")
        args = None
        if headers.get("argsrepr"):
            args = ast.literal_eval(headers["argsrepr"])
        else:
            body = message.get("body", "")
            if (message.get("properties") or {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
        if args and isinstance(args[0], int):
            return task, args[0]
    return "", None
