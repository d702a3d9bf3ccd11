"""Report generation times for a realistic portfolio: 200 jobs × 25 tasks = 5,000 tasks.

    python bench/reports.py [--jobs J] [--tasks-per-job T]

Makes a portfolio report in every format the way the worker does (reports.services.generate, in this
process) and prints, per format, the seconds from queued to ready, the queries and the file size, and as
its last line a JSON object with the same figures. Uses bench/portfolio.py's data (and its throwaway
SQLite database unless DATABASE_URL is set; then a team of its own, deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Team  # noqa: E402
from bench.portfolio import build  # noqa: E402  (sets Django up)
from reports import services  # noqa: E402
from reports.models import State  # noqa: E402
from tests.factories import make_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--tasks-per-job", type=int, default=25)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    settings.ASSAY_REPORTS_DIR = Path(tempfile.mkdtemp(prefix="assay-bench-reports-"))
    slug = f"bench-reports-{os.getpid()}"
    team = Team.objects.create(name="Benchmark", slug=slug)
    user = make_user(slug, team=team, role="editor")
    results = {}
    try:
        build(team, args.jobs, args.tasks_per_job)
        for fmt in ("json", "csv", "xlsx", "pdf"):
            with transaction.atomic():  # nothing is sent to a broker: the atomic block is rolled into
                report = services.Report.objects.create(  # one request, as request_report makes it
                    team=team, kind="portfolio", format=fmt, title="bench", parameters={"jobs": []},
                    created_by=user, expires=services.timezone.now() + services.retention(),
                )  # fmt: skip
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                done = services.generate(report.pk)
                seconds = time.perf_counter() - start
            if done.status != State.DONE:
                raise SystemExit(f"{fmt}: {done.status} {done.message}")
            results[fmt] = {
                "seconds": round(seconds, 2),
                "queries": len(queries.captured_queries),
                "bytes": done.size,
            }
            print(
                f"{fmt:5} {seconds:7.2f} s  {len(queries.captured_queries):3} queries  {done.size:>10} bytes"
            )
    finally:
        team.delete()
        user.delete()
    print(
        json.dumps(
            {
                "benchmark": "reports",
                "database": connection.vendor,
                "tasks": args.jobs * args.tasks_per_job,
                "formats": results,
            }
        )
    )


if __name__ == "__main__":
    main()
