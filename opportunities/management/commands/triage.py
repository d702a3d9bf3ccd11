from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opportunities.exporting import spreadsheet_cell
from opportunities.management.teams import team_by_slug
from opportunities.models import ExposurePrediction, TriageRun
from opportunities.triage import service

COLUMNS = ["task_id", "job", "task", "predicted_label", "confidence", "method"]


class Command(BaseCommand):
    help = (
        "Predict the exposure label (E0/E1/E2) of every task of a team without a human label, learning from "
        "the team's human labels, and write them to a CSV (" + ", ".join(COLUMNS) + "). Prints the accuracy "
        "and Cohen's kappa measured on the team's labels with cross-validation grouped by job."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", required=True, help="the team's slug")
        parser.add_argument("--output", required=True, help="the CSV file to write")

    def handle(self, *args, team: str, output: str, **options) -> None:
        found = team_by_slug(team)
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"No such folder: {path.parent}")
        run = TriageRun.objects.create(team=found, stage="Started from the command line")
        run = service.execute(run.pk)
        quality = run.quality
        if quality.get("accuracy") is not None:
            self.stdout.write(
                f"grouped cross-validation on {quality['labels']} human labels in {quality['jobs']} jobs "
                f"({quality['folds']} folds): accuracy {quality['accuracy']:.3f}, kappa {quality['kappa']:.3f}"
            )
        else:
            self.stdout.write(f"not measured: {quality.get('note', '')}")
        if run.message:
            self.stderr.write(run.message)
        predictions = (
            ExposurePrediction.objects.filter(run=run).select_related("task__job").order_by("task_id")
        )
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for p in predictions.iterator(chunk_size=2000):
                row = [
                    p.task_id,
                    p.task.job.title,
                    p.task.statement,
                    p.label,
                    f"{p.confidence:.3f}",
                    p.method,
                ]
                writer.writerow([spreadsheet_cell(v) for v in row])
        self.stdout.write(f"predicted {run.predicted} tasks; wrote {path}")
