from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opportunities.columns import IMPORT_COLUMNS
from opportunities.importing import ImportFileError, apply_import, parse_rows, plan_import, read_upload
from opportunities.management.teams import team_by_slug


class Command(BaseCommand):
    help = (
        "Import tasks from a CSV (UTF-8) or XLSX file into a team. Columns: "
        + ", ".join(f"{c.name}{' (required)' if c.required else ''}" for c in IMPORT_COLUMNS)
        + ". A file with any error imports nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="a .csv or .xlsx file")
        parser.add_argument("--team", required=True, help="the team's slug")

    def handle(self, *args, path: str, team: str, **options) -> None:
        found = team_by_slug(team)
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            table = read_upload(file.name, file.read_bytes(), max_rows=None)
        except ImportFileError as error:
            raise CommandError(f"{path}: {error}") from None

        parsed = parse_rows(table.rows, table.headers)
        plan = plan_import(found, parsed)
        for warning in [*table.warnings, *plan.warnings]:
            self.stderr.write(f"warning: {warning}")
        if parsed.errors:
            for error in parsed.errors:
                self.stderr.write(str(error))
            count = len(parsed.errors)
            raise CommandError(f"{count} error{'s' if count != 1 else ''} in {path}; nothing imported.")

        result = apply_import(found, parsed)
        self.stdout.write(f"imported {result.tasks_created} tasks")
        if result.jobs_created:
            self.stdout.write(f"created {result.jobs_created} jobs")
