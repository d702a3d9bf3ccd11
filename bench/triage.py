"""The exposure pre-screen on O*NET's human-labelled tasks (../shared/data/onet_task_exposure_train.csv,
15,493 tasks of 741 occupations; read from there, never copied into the project).

Imports the file into a fresh team through `import_tasks` (occupation → job, statement → task, the human
label), then runs the team's triage as the worker does: embeddings (cached by text), cross-validation
grouped by occupation (no occupation in both training and test folds) and the learning curve. Then
times prediction: the classifier trained on every label predicts every task. Prints JSON last with
`accuracy`, `kappa`, `per_label_recall`, `predict_tasks_per_s` and `learning_curve`. Goal: accuracy
≥ 0.72 and kappa ≥ 0.50 on occupations it has not seen (the paper's GPT-4 labels: 0.656, 0.44).

    .venv/bin/python bench/triage.py [--data PATH] [--limit N]

Uses a throwaway SQLite database in a temporary ASSAY_DATA_DIR (or Django's test database on the server
DATABASE_URL names).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "onet_task_exposure_train.csv"


def write_import_csv(source: Path, target: Path, limit: int | None) -> int:
    with (
        source.open(newline="", encoding="utf-8") as handle,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(["job", "task", "exposure_label", "label_source"])
        count = 0
        for row in csv.DictReader(handle):
            if limit and count >= limit:
                break
            writer.writerow([row["occupation_title"], row["task_statement"], row["exposure_label"], "human"])
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks of the file")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} is missing (see ../shared/data/README.md)")

    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-triage-"))
    os.environ["ASSAY_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Team
    from opportunities.models import Task, TriageRun
    from opportunities.triage import classifier, service

    on_server = connection.vendor != "sqlite"
    if on_server:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "assay_bench_triage"
        test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        call_command("migrate", verbosity=0)
    try:
        team = Team.objects.create(name="Bench triage", slug="bench-triage")
        path = workdir / "tasks.csv"
        rows = write_import_csv(args.data, path, args.limit)
        started = time.perf_counter()
        call_command("import_tasks", str(path), "--team", team.slug, stdout=io.StringIO())
        import_s = time.perf_counter() - started
        print(f"imported {rows} tasks in {import_s:.1f} s", file=sys.stderr)

        started = time.perf_counter()
        run = service.execute(TriageRun.objects.create(team=team).pk)
        triage_s = time.perf_counter() - started
        print(f"triage (embed {run.embedded} texts, cross-validate): {triage_s:.1f} s", file=sys.stderr)

        from llmcore.scoring.embedding_cache import embed_cached

        tasks = service.team_tasks(team)
        started = time.perf_counter()
        vectors, _ = embed_cached(tasks.statements)  # all cached now: what a later run reads
        model = classifier.ExposureClassifier().fit(vectors, tasks.labels)
        model.predict(vectors)
        predict_s = time.perf_counter() - started
        assert Task.objects.filter(job__team=team).count() == rows
    finally:
        if on_server:
            connection.creation.destroy_test_db(test_db, verbosity=0)
    quality = run.quality
    print(
        json.dumps(
            {
                "bench": "triage",
                "tasks": rows,
                "jobs": quality["jobs"],
                "folds": quality["folds"],
                "method": classifier.METHOD,
                "accuracy": quality["accuracy"],
                "kappa": quality["kappa"],
                "per_label_recall": quality["per_label_recall"],
                "learning_curve": quality["learning_curve"],
                "import_s": round(import_s, 2),
                "triage_s": round(triage_s, 2),
                "predict_tasks_per_s": round(rows / predict_s, 1),
                "database": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
