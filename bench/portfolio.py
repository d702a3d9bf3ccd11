"""Page times for a realistic portfolio: 200 jobs × 25 tasks = 5,000 tasks.

    python bench/portfolio.py [--repeat N] [--jobs J] [--tasks-per-job T]

Uses a throwaway SQLite database in a temporary ASSAY_DATA_DIR unless DATABASE_URL is set (then it
creates, and deletes afterwards, a team of its own there). Prints the median time and the query count
of each page, and as its last line a JSON object with the same figures.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["ASSAY_DATA_DIR"] = tempfile.mkdtemp(prefix="assay-bench-portfolio-")
    atexit.register(shutil.rmtree, os.environ["ASSAY_DATA_DIR"], ignore_errors=True)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import Team  # noqa: E402
from opportunities.models import Exposure, Job, Mode, Task, TaskKind, Verdict  # noqa: E402
from tests.factories import make_user  # noqa: E402

PAGES = [
    ("portfolio", {}),
    ("portfolio", {"sort": "job", "kind": "write"}),
    ("team_home", {}),
    ("matrix", {}),
]


def build(team: Team, jobs: int, tasks_per_job: int) -> None:
    kinds, modes = list(TaskKind.values), list(Mode.values)
    exposures, verdicts = ["", *Exposure.values], list(Verdict.values)
    created = Job.objects.bulk_create(
        Job(team=team, title=f"Job {j:03}", headcount=1 + j % 40, hourly_cost=Decimal(30 + j % 70))
        for j in range(jobs)
    )
    tasks = []
    for j, job in enumerate(created):
        for t in range(tasks_per_job):
            n = j * tasks_per_job + t
            tasks.append(
                Task(
                    job=job,
                    statement=f"Task {t} of job {j}: handle case type {n % 97}",
                    kind=kinds[n % len(kinds)],
                    mode=modes[n % len(modes)],
                    exposure_label=exposures[n % len(exposures)],
                    verdict=verdicts[n % len(verdicts)],
                    feasibility=(n % 100) / 100 if n % 4 != 3 else None,
                    hours_per_week=Decimal(n % 40) / 2,
                    people_share=Decimal(n % 10 + 1) / 10,
                    time_saved=Decimal(n % 9 + 1) / 10,
                )
            )
    Task.objects.bulk_create(tasks, batch_size=1000)


def time_page(client: Client, url: str, repeat: int) -> dict:
    client.get(url)  # warm template and URL caches
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {
        "url": url,
        "median_ms": round(statistics.median(timings), 1),
        "queries": len(queries.captured_queries),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--tasks-per-job", type=int, default=25)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    slug = f"bench-{os.getpid()}"
    team = Team.objects.create(name="Benchmark", slug=slug)
    try:
        start = time.perf_counter()
        build(team, args.jobs, args.tasks_per_job)
        build_s = time.perf_counter() - start
        user = make_user(slug, team=team, role="editor")
        client = Client()
        client.force_login(user)
        results = {}
        for name, params in PAGES:
            query = "&".join(f"{key}={value}" for key, value in params.items())
            url = reverse(name, args=[slug]) + (f"?{query}" if query else "")
            label = name + (f"?{query}" if query else "")
            results[label] = time_page(client, url, args.repeat)
            print(
                f"{label:36} median {results[label]['median_ms']:8.1f} ms"
                f"  {results[label]['queries']:3} queries  {results[label]['bytes']:>8} bytes"
            )
    finally:
        team.delete()
        if "user" in locals():
            user.delete()
    summary = {
        "benchmark": "portfolio",
        "database": connection.vendor,
        "jobs": args.jobs,
        "tasks": args.jobs * args.tasks_per_job,
        "repeat": args.repeat,
        "build_seconds": round(build_s, 2),
        "pages": results,
        "debug": settings.DEBUG,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
