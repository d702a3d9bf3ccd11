"""The exposure pre-screen on O*NET's human-labelled tasks (../shared/data/onet_task_exposure_train.csv,
15,493 tasks of 741 occupations; read from there, never copied into the project).

Imports the file into a fresh team through `import_tasks` (occupation → job, statement → task, the human
label), then runs the team's triage as the worker does: embeddings (cached by text), cross-validation
grouped by occupation (no occupation in both training and test folds) and the learning curve. Then
times prediction: the classifier trained on every label predicts every task. Prints JSON last with
`accuracy`, `kappa`, `per_label_recall`, `predict_tasks_per_s` and `learning_curve`. Goal: accuracy
≥ 0.72 and kappa ≥ 0.50 on occupations it has not seen (the paper's GPT-4 labels: 0.656, 0.44).

    .venv/bin/python bench/triage.py [--data PATH] [--limit N] [--tasks N] [--rubric-sample N]

`--tasks 20000` pads the file to that many tasks with reworded copies (new texts, so they are embedded
too) to time a team of that size. `--rubric-sample N` (default 60, 0 skips) also measures the rubric
method with the default generator on N tasks, zero-shot and with the 4 most similar labelled tasks of
other occupations as examples (`rubric` in the JSON).

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


def write_import_csv(source: Path, target: Path, limit: int | None, pad_to: int | None = None) -> int:
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    out_rows = [(r["occupation_title"], r["task_statement"], r["exposure_label"]) for r in rows]
    variant = 1
    while pad_to and len(out_rows) < pad_to:
        variant += 1
        out_rows += [
            (f"{job} ({variant})", f"{statement} (variant {variant})", label)
            for job, statement, label in out_rows[: len(rows)][: pad_to - len(out_rows)]
        ]
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["job", "task", "exposure_label", "label_source"])
        writer.writerows([job, statement, label, "human"] for job, statement, label in out_rows)
    return len(out_rows)


def measure_rubric(team, tasks, vectors, sample_size: int) -> dict:
    """The rubric method with the default generator on a random sample, zero- and few-shot (examples:
    the 4 most similar labelled tasks of other jobs)."""
    import random

    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    from llmcore import services
    from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models
    from opportunities.models import Job
    from opportunities.triage import rubric

    model = next(m for m in enable_default_models(team) if m.name == DEFAULT_GENERATOR_NAME)
    titles = dict(Job.objects.filter(team=team).values_list("id", "title"))
    sample = random.Random(0).sample(range(len(tasks.ids)), sample_size)
    jobs = np.asarray(tasks.jobs)
    out = {"model": model.name, "tasks": sample_size}
    for shots in (0, rubric.MAX_EXAMPLES):
        requests = []
        for i in sample:
            examples = []
            if shots:
                similarity = vectors @ vectors[i]
                similarity[jobs == tasks.jobs[i]] = -2  # never an example from the task's own job
                examples = [
                    rubric.Example(tasks.statements[j], tasks.labels[j])
                    for j in similarity.argsort()[::-1][:shots]
                ]
            requests.append(rubric.request_for(tasks.statements[i], titles[tasks.jobs[i]], examples, str(i)))
        started = time.perf_counter()
        results = services.run_inference(model.pk, requests, team_id=team.pk, purpose="bench")
        seconds = time.perf_counter() - started
        guesses = [rubric.parse(r.text).label or "none" for r in results]
        truth = [tasks.labels[i] for i in sample]
        counts = {label: guesses.count(label) for label in ("E0", "E1", "E2", "none")}
        out["few_shot" if shots else "zero_shot"] = {
            "accuracy": round(sum(g == t for g, t in zip(guesses, truth, strict=True)) / len(truth), 4),
            "kappa": round(float(cohen_kappa_score(truth, guesses)), 4),
            "answers": counts,
            "seconds": round(seconds, 1),
        }
    out["majority_share_E0"] = round(sum(tasks.labels[i] == "E0" for i in sample) / sample_size, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks of the file")
    parser.add_argument("--tasks", type=int, default=None, help="pad to N tasks with reworded copies")
    parser.add_argument(
        "--rubric-sample", type=int, default=60, help="tasks to label by the rubric (0: skip)"
    )
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
        rows = write_import_csv(args.data, path, args.limit, args.tasks)
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
        rubric_figures = None
        if args.rubric_sample:
            started = time.perf_counter()
            rubric_figures = measure_rubric(team, tasks, vectors, min(args.rubric_sample, rows))
            print(f"rubric with the default model: {time.perf_counter() - started:.1f} s", file=sys.stderr)
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
                "rubric": rubric_figures,
                "database": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
