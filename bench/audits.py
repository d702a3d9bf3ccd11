"""The audit trail and the audit pages at scale.

    python bench/audits.py [--events 2000] [--use-cases 100] [--repeat 5]

Uses a throwaway SQLite database in a temporary ASSAY_DATA_DIR unless DATABASE_URL is set (then it
uses a team of its own there; trail entries are append-only and stay). Measures: appending trail
entries one by one (each locks the chain head, as every governance write does), verifying the whole
chain, and the median time and query count of the audits list, the trail, the team home (what is due)
and an audit page, with `--use-cases` use cases that each have a governance audit and a risk. The last
line printed is one JSON object with the figures.
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["ASSAY_DATA_DIR"] = tempfile.mkdtemp(prefix="assay-bench-audits-")
    atexit.register(shutil.rmtree, os.environ["ASSAY_DATA_DIR"], ignore_errors=True)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import Team  # noqa: E402
from audits import services, trail  # noqa: E402
from audits.models import Audit  # noqa: E402
from opportunities.models import UseCase  # noqa: E402
from tests.factories import make_user  # noqa: E402


def timed(client: Client, url: str, repeat: int) -> dict:
    times, queries = [], 0
    for _ in range(repeat):
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url, HTTP_HOST="localhost")
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    return {"median_ms": round(1000 * statistics.median(times), 1), "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--use-cases", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    slug = f"bench-audits-{uuid.uuid4().hex[:8]}"
    team = Team.objects.create(name="Bench audits", slug=slug)
    editor = make_user(f"{slug}-editor", team=team, role="editor")
    viewer = make_user(f"{slug}-viewer", team=team, role="viewer")

    start = time.perf_counter()
    for i in range(args.events):
        trail.record(
            "bench.event", team=team, user=editor, object_type="bench", object_code=str(i), change={"i": i}
        )
    append_s = time.perf_counter() - start

    start = time.perf_counter()
    result = trail.verify()
    verify_s = time.perf_counter() - start
    assert result.ok, result.problem

    for i in range(args.use_cases):
        use_case = UseCase.objects.create(team=team, name=f"Use case {i:03}")
        audit = services.start_audit(use_case, "governance", editor)
        item = audit.items.first()
        services.answer_item(item, answer="no", notes="", user=editor)
        services.risk_from_item(item, editor)
    audit = Audit.objects.filter(team=team).first()

    client = Client()
    client.force_login(viewer)
    pages = {
        "audit_list": reverse("audits:audit_list", args=[slug]),
        "trail": reverse("audits:trail", args=[slug]),
        "team_home": reverse("team_home", args=[slug]),
        "audit_detail": reverse("audits:audit_detail", args=[slug, audit.code]),
    }
    figures = {name: timed(client, url, args.repeat) for name, url in pages.items()}
    for name, figure in figures.items():
        print(f"{name:14} {figure['median_ms']:8.1f} ms  {figure['queries']:3} queries")
    total = result.count
    print(f"trail: appended {args.events} entries in {append_s:.2f} s; verified {total} in {verify_s:.2f} s")
    print(
        json.dumps(
            {
                "events": args.events,
                "append_per_s": round(args.events / append_s, 1),
                "verified": total,
                "verify_per_s": round(total / verify_s, 1),
                "use_cases": args.use_cases,
                "pages": figures,
            }
        )
    )


if __name__ == "__main__":
    main()
