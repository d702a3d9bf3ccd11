from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from opportunities import exporting, exposure
from opportunities.management.teams import team_by_slug


class Command(BaseCommand):
    help = "Export a team's portfolio as CSV, XLSX or JSON (schema assay.portfolio/1)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", required=True, help="the team's slug")
        parser.add_argument("--format", required=True, choices=exporting.FORMATS, dest="fmt")
        parser.add_argument("--output", required=True, help='file to write, or "-" for standard output')

    def handle(self, *args, team: str, fmt: str, output: str, **options) -> None:
        found = team_by_slug(team)
        if output == "-" and fmt == "xlsx":
            raise CommandError("XLSX is binary: give a file with --output.")
        target = None if output == "-" else Path(output)
        if target is not None and not target.parent.is_dir():
            raise CommandError(f"No such folder: {target.parent}")

        exposures = exposure.for_team(found)
        tasks = list(exporting.export_tasks(found, {}, exposures))
        if fmt == "csv":
            content: str | bytes = "".join(exporting.iter_csv(tasks))
        elif fmt == "xlsx":
            content = exporting.xlsx_bytes(tasks)
        else:
            document = exporting.portfolio_document(
                found, exporting.export_job_rows(found, {}, exposures), tasks, generated_at=timezone.now()
            )
            content = json.dumps(document, indent=2) + "\n"

        if target is None:
            sys.stdout.write(content)  # bypass self.stdout: it would add a line ending per write
            return
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="")
        self.stdout.write(f"exported {len(tasks)} tasks to {target}")
