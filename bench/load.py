"""Concurrent users on the main pages, served as in production: gunicorn with DEBUG off, PostgreSQL, Redis.

    python bench/load.py                     # 50 users for 60 s on a seeded portfolio
    python bench/load.py --users 20 --seconds 20 --quick

It creates a database of its own next to DATABASE_URL's (`<name>_load`, dropped afterwards unless
--keep), migrates it, seeds a realistic portfolio (200 jobs, 5,000 tasks, 20 experiments with 10,000
generations; --quick: 40 jobs, 1,000 tasks, 4 experiments with 2,000), starts gunicorn on a free
loopback port and drives it with locust (as a library) for --seconds: each simulated user has its own
signed-in session and walks the team home, portfolio, matrix, jobs, tasks, use cases, experiments, runs,
models, history and audits with 1–3 s between clicks, measured after a 10 s warm-up. Prints per page p50/p95/p99 and errors, and as its
last line a JSON object with `requests_per_s` and `pages` (goal: every page p95 < 300 ms, zero errors).

The load generator runs on the same two cores as the server, so the figures are conservative.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/assay"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"  # an index of its own (nothing is queued by these pages)
WARM_UP_S = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load_database_url(base: str) -> tuple[str, str]:
    parts = urlsplit(base)
    name = parts.path.lstrip("/") + "_load"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def admin_connection(base: str):
    import psycopg

    parts = urlsplit(base)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


# --- seeding (runs in a child process with Django; the driver process uses gevent) --------------------


def seed(out: Path, quick: bool, users: int) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from decimal import Decimal

    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Team
    from experiments.models import Generation, Run, Status
    from experiments.services.datasets import take_snapshot
    from opportunities.models import Job, Task, UseCase
    from tests.experiments.factories import make_dataset, make_experiment, make_model, make_prompt
    from tests.factories import make_user

    sys.path.insert(0, str(ROOT / "bench"))
    from portfolio import build

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    jobs, experiments, per_experiment = (40, 4, 500) if quick else (200, 20, 500)
    team = Team.objects.create(name="Load test", slug="load")
    owner = make_user("load-owner", team=team, role="admin")
    started = time.perf_counter()
    build(team, jobs, 25)
    model = make_model(team, "Load model")
    dataset = make_dataset(team, "Load tickets", cases=per_experiment, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    snapshot = take_snapshot(dataset, owner)
    cases = list(snapshot.case_versions.order_by("case__key"))
    rng = random.Random(7)
    experiment_codes, run_codes = [], []
    for n in range(experiments):
        experiment = make_experiment(
            team, owner, dataset=dataset, prompts=[version], models=[model], name=f"Load experiment {n}"
        )
        run = Run.objects.create(
            experiment=experiment,
            prompt_version=version,
            model=model,
            model_name=model.name,
            model_identity=f"load-{n}",
            params={"max_new_tokens": 8},
            params_label="greedy",
            params_hash=f"load-{n}",
            total=len(cases),
            status=Status.DONE,
            started=timezone.now(),
            finished=timezone.now(),
        )
        Generation.objects.bulk_create(
            Generation(
                run=run,
                case_version=case,
                text=rng.choice(["billing", "bug", "billing and bug", "account"]),
                tokens_in=40,
                tokens_out=4,
                latency_s=rng.uniform(0.5, 3),
                cost=Decimal("0.0001"),
                finish_reason="stop",
                cache_key=f"load-{n}-{case.pk}",
                weighted_score=(score := rng.random()),
                passed=score > 0.4,
                scored=timezone.now(),
            )
            for case in cases
        )
        type(experiment).objects.filter(pk=experiment.pk).update(
            status=Status.DONE, snapshot=snapshot, started=timezone.now(), finished=timezone.now()
        )
        experiment_codes.append(str(experiment.code))
        run_codes.append(str(run.code))
    tasks = list(Task.objects.filter(job__team=team).values_list("code", flat=True)[:2000])
    for n in range(10):
        use_case = UseCase.objects.create(team=team, name=f"Use case {n}", owner=owner)
        use_case.tasks.set(Task.objects.filter(code__in=tasks[n * 5 : n * 5 + 5]))
    sessions = []
    for n in range(users):
        user = make_user(f"load-{n:03}", team=team, role="editor" if n % 2 else "viewer")
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
    seed_s = time.perf_counter() - started
    out.write_text(
        json.dumps(
            {
                "team": team.slug,
                "jobs": [str(c) for c in Job.objects.filter(team=team).values_list("code", flat=True)],
                "tasks": [str(c) for c in tasks],
                "use_cases": [
                    str(c) for c in UseCase.objects.filter(team=team).values_list("code", flat=True)
                ],
                "experiments": experiment_codes,
                "runs": run_codes,
                "sessions": sessions,
                "counts": {
                    "jobs": Job.objects.filter(team=team).count(),
                    "tasks": Task.objects.filter(job__team=team).count(),
                    "experiments": len(experiment_codes),
                    "generations": Generation.objects.filter(run__experiment__team=team).count(),
                },
                "seed_s": round(seed_s, 1),
            }
        )
    )


# --- driving (locust as a library) ------------------------------------------------------------------


def drive(base: str, data: dict, users: int, seconds: int) -> dict:
    import gevent
    from locust import HttpUser, between, events, task
    from locust.env import Environment

    team = data["team"]
    sessions = list(data["sessions"])
    pick = random.Random(11).choice
    pages = {
        "team home": lambda: f"/t/{team}/",
        "portfolio": lambda: f"/t/{team}/portfolio/",
        "portfolio sorted and filtered": lambda: f"/t/{team}/portfolio/?sort=job&kind=write",
        "matrix": lambda: f"/t/{team}/matrix/",
        "jobs": lambda: f"/t/{team}/jobs/",
        "job": lambda: f"/t/{team}/jobs/{pick(data['jobs'])}/",
        "task": lambda: f"/t/{team}/tasks/{pick(data['tasks'])}/",
        "use cases": lambda: f"/t/{team}/usecases/",
        "use case": lambda: f"/t/{team}/usecases/{pick(data['use_cases'])}/",
        "experiments": lambda: f"/t/{team}/experiments/",
        "experiment": lambda: f"/t/{team}/experiments/{pick(data['experiments'])}/",
        "run": lambda: f"/t/{team}/runs/{pick(data['runs'])}/",
        "models": lambda: f"/t/{team}/models/",
        "history": lambda: f"/t/{team}/history/",
        "audits": lambda: f"/t/{team}/audits/",
        "trail": lambda: f"/t/{team}/trail/",
    }

    class Member(HttpUser):
        host = base
        wait_time = between(1, 3)

        def on_start(self):
            self.client.cookies.set("sessionid", sessions.pop() if sessions else data["sessions"][0])

        @task
        def browse(self):
            name = random.choice(list(pages))
            with self.client.get(pages[name](), name=name, allow_redirects=False, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"status {r.status_code}")

    env = Environment(user_classes=[Member], events=events)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(1, users // 5))
    # Everyone signed in and each server process past its first requests, then the measured window.
    gevent.sleep(WARM_UP_S)
    env.stats.reset_all()
    started = time.perf_counter()
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    elapsed = time.perf_counter() - started
    result = {}
    for (name, _method), entry in sorted(env.stats.entries.items()):
        result[name] = {
            "requests": entry.num_requests,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
            "errors": entry.num_failures,
        }
    total = env.stats.total
    return {
        "pages": result,
        "requests": total.num_requests,
        "requests_per_s": round(total.num_requests / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="a fifth of the portfolio")
    parser.add_argument("--keep", action="store_true", help="keep the load database afterwards")
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.seed_into:
        seed(args.seed_into, args.quick, args.users)
        return

    base_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE)
    database_url, name = load_database_url(base_url)
    data_dir = Path(tempfile.mkdtemp(prefix="assay-bench-load-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("ASSAY_LOAD_REDIS_URL", DEFAULT_REDIS),
        ASSAY_DATA_DIR=str(data_dir),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",  # loopback without the TLS-terminating proxy production has
        SECRET_KEY="assay-load-benchmark-" + os.urandom(8).hex(),
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_BROKER_URL", None)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    with admin_connection(base_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    server = None
    try:
        seeded = data_dir / "seeded.json"
        log(f"seeding {name}…")
        command = [sys.executable, __file__, "--seed-into", str(seeded), "--users", str(args.users)]
        subprocess.run(command + (["--quick"] if args.quick else []), env=env, cwd=ROOT, check=True)
        data = json.loads(seeded.read_text())
        log(f"seeded {data['counts']} in {data['seed_s']} s")
        port = free_port()
        workers = os.environ.get("ASSAY_LOAD_GUNICORN_WORKERS", "4")
        with open(data_dir / "gunicorn.log", "wb") as server_log:  # the child keeps its own handle
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
                + ["--workers", workers],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=server_log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.3)
        log(f"driving {args.users} users for {args.seconds} s against gunicorn ({workers} workers)…")
        result = drive(f"http://127.0.0.1:{port}", data, args.users, args.seconds)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if not args.keep:
            with admin_connection(base_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{'page':32} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for page, figures in result["pages"].items():
        print(
            f"{page:32} {figures['requests']:8} {figures['p50_ms']:8.0f} {figures['p95_ms']:8.0f} "
            f"{figures['p99_ms']:8.0f} {figures['errors']:6}"
        )
    worst = max((f["p95_ms"] for f in result["pages"].values()), default=0)
    errors = sum(f["errors"] for f in result["pages"].values())
    print(
        f"{result['requests_per_s']} requests/s; worst page p95 {worst:.0f} ms (goal < 300); errors {errors}"
    )
    summary = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "users": args.users,
        "seconds": args.seconds,
        "portfolio": data["counts"],
        "requests_per_s": result["requests_per_s"],
        "worst_p95_ms": worst,
        "errors": errors,
        "pages": result["pages"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
