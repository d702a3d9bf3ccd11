"""Time `import_tasks` on a generated CSV (default 20,000 rows across 200 jobs).

Runs against a throwaway database: a fresh SQLite file in a temporary ASSAY_DATA_DIR, or, when
DATABASE_URL is set, Django's test database on that server (created and dropped here).
Prints figures as it goes and a JSON summary as the last line.

    .venv/bin/python bench/import_tasks.py [--rows 20000] [--jobs 200]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate_csv(path: Path, rows: int, jobs: int) -> None:
    rng = random.Random(7)
    kinds = ["write", "read", "chat", "other"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["job", "task", "kind", "mode", "hours_per_week", "people_share", "time_saved"]
            + ["exposure_label", "label_source", "headcount", "hourly_cost", "notes"]
        )
        for index in range(rows):
            job = index % jobs
            writer.writerow(
                [
                    f"Job {job:03d}",
                    f"Task {index} of job {job}: handle request type {rng.randint(1, 999)}",
                    rng.choice(kinds),
                    rng.choice(["augment", "automate"]),
                    f"{rng.uniform(0.5, 20):.2f}",
                    f"{rng.uniform(0.1, 1):.3f}",
                    f"{rng.uniform(0.05, 0.8):.3f}",
                    rng.choice(["", "E0", "E1", "E2"]),
                    "",
                    10 + job % 40,
                    40 + job % 60,
                    "generated",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-import-"))
    os.environ["ASSAY_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Team
    from opportunities.models import Task

    on_server = connection.vendor != "sqlite"
    if on_server:
        # Its own database name, so it never collides with a test run's test_<name> database.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "assay_bench_import"
        test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    try:
        team = Team.objects.create(name="Bench", slug="bench")
        path = workdir / "tasks.csv"
        generate_csv(path, args.rows, args.jobs)
        print(f"{args.rows} rows, {args.jobs} jobs, {path.stat().st_size / 1e6:.1f} MB, {connection.vendor}")

        started = time.perf_counter()
        out = io.StringIO()
        call_command("import_tasks", str(path), "--team", "bench", stdout=out)
        seconds = time.perf_counter() - started
        imported = Task.objects.filter(job__team=team).count()
        assert imported == args.rows, (imported, out.getvalue())
        print(out.getvalue().strip())
        print(f"{seconds:.2f} s, {args.rows / seconds:,.0f} rows/s")
    finally:
        if on_server:
            connection.creation.destroy_test_db(test_db, verbosity=0)
    print(
        json.dumps(
            {
                "bench": "import_tasks",
                "rows": args.rows,
                "jobs": args.jobs,
                "database": connection.vendor,
                "seconds": round(seconds, 3),
                "rows_per_s": round(args.rows / seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
