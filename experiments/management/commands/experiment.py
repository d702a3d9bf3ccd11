"""Experiments as code.

    manage.py experiment run grid.yaml --team SLUG [--user NAME] [--wait] [--fail-under 0.9]
    manage.py experiment export CODE [--team SLUG] [--format json|jsonl|csv] [--output PATH]

`run` creates or reuses the grid file's dataset and prompt versions (by content), saves a new experiment
and starts it; with --wait it prints progress until every output is generated and scored, then the
results table, and exits non-zero when the experiment failed or a run's pass rate is below --fail-under.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.management.teams import team_by_slug
from accounts.models import PORTFOLIO_WRITERS, Membership
from llmcore.services import BudgetExceeded, ModelNotAllowed

from ... import exporting, gridrun
from ...gridfile import GridFileError, load
from ...models import Experiment, Status
from ...result_export import csv_columns, export_rows, results_document, run_summaries
from ...services import grid
from ...services.gridfiles import apply_grid


class Command(BaseCommand):
    help = "Run an experiment from a grid file (YAML or JSON), or export an experiment's results."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("run", help="create (or reuse) and start the experiment of a grid file")
        run.add_argument("path", help="a .yaml, .yml or .json grid file")
        run.add_argument("--team", required=True, help="the team's slug")
        run.add_argument(
            "--user", help="act as this member (an editor or admin); default: the team, with no role rule"
        )
        run.add_argument("--wait", action="store_true", help="wait for the results and print them")
        run.add_argument(
            "--fail-under", type=float, help="with --wait: exit 1 when a run's pass rate is below this (0..1)"
        )
        run.add_argument("--timeout", type=float, default=3600, help="with --wait: give up after this (s)")
        run.add_argument("--poll", type=float, default=1.0, help="with --wait: seconds between checks")
        export = actions.add_parser("export", help="write an experiment's results")
        export.add_argument("code", help="the experiment's code (the UUID in its address)")
        export.add_argument("--team", help="the team's slug (refuses an experiment of another team)")
        export.add_argument("--format", choices=("json", "jsonl", "csv"), default="json")
        export.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args, action: str, **options) -> None:
        if action == "run":
            self.run(**options)
        else:
            self.export(**options)

    # run --------------------------------------------------------------------------------------------

    def run(
        self, path: str, team: str, user, wait: bool, fail_under, timeout: float, poll: float, **_
    ) -> None:
        if fail_under is not None and not 0 <= fail_under <= 1:
            raise CommandError(f"--fail-under must be between 0 and 1 (e.g. 0.9), got {fail_under:g}")
        if fail_under is not None and not wait:
            raise CommandError("--fail-under needs --wait: the pass rates exist once the runs are scored")
        found = team_by_slug(team)
        author, role = self._member(found, user)
        try:
            spec = load(path)
            applied = apply_grid(found, author, role, spec)
        except GridFileError as error:
            for message in error.errors:
                self.stderr.write(f"{path}: {message}")
            count = len(error.errors)
            raise CommandError(
                f"{count} error{'s' if count != 1 else ''} in {path}; nothing was saved."
            ) from None
        counts = applied.case_counts
        self.stdout.write(
            f"dataset {applied.dataset.name!r}: "
            + ("created" if applied.dataset_created else "reused")
            + f" ({counts['created']} new, {counts['updated']} changed, {counts['unchanged']} unchanged, "
            f"{counts['removed']} removed cases)"
        )
        for version, created in applied.versions:
            self.stdout.write(f"prompt {version.label}: {'created' if created else 'reused'}")
        experiment = applied.experiment
        try:
            grid.start_experiment(experiment, author, role)
        except (grid.ExperimentError, BudgetExceeded, ModelNotAllowed) as error:
            raise CommandError(
                f"Experiment {experiment.code} saved as a draft but not started: {error}"
            ) from None
        runs = experiment.runs.count()
        total = sum(experiment.runs.values_list("total", flat=True))
        self.stdout.write(
            f"experiment {experiment.code} started: {runs} run{'s' if runs != 1 else ''}, {total} outputs "
            f"(grid {spec.content_hash()[:12]}); page /t/{found.slug}/experiments/{experiment.code}/"
        )
        if not wait:
            return
        try:
            done = gridrun.wait(experiment.pk, self._line, timeout, poll)
        except gridrun.TimedOut as error:
            raise CommandError(
                f"Experiment {experiment.code} is not finished after {timeout:.0f} s ({error}); is a worker "
                "running on the cpu and default queues? It keeps running: export it later."
            ) from None
        summaries = run_summaries(experiment)
        self.stdout.write(gridrun.table(summaries))
        if done.status != Status.DONE:
            for run, _ in summaries:
                if run.status != Status.DONE and run.message:
                    self.stderr.write(f"{run.label}: {run.status}: {run.message}")
            raise CommandError(f"Experiment {experiment.code} ended {done.status}: {done.message}")
        if fail_under is not None:
            failing = gridrun.below(summaries, fail_under)
            if failing:
                for line in failing:
                    self.stderr.write(line)
                raise CommandError(
                    f"{len(failing)} of {len(summaries)} runs below --fail-under {fail_under:g}"
                )
            self.stdout.write(f"every run passes at least {fail_under:.0%}")

    def _line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _member(self, team, username: str | None):
        if not username:
            return None, None
        user = get_user_model().objects.filter(username=username).first()
        membership = Membership.objects.filter(team=team, user=user).first() if user else None
        if membership is None:
            raise CommandError(f'No member "{username}" in the team {team.slug}.')
        if membership.role not in PORTFOLIO_WRITERS:
            raise CommandError(
                f"{username} is a {membership.role} of {team.slug}: only editors and admins run experiments."
            )
        return user, membership.role

    # export -----------------------------------------------------------------------------------------

    def export(self, code: str, team, format: str, output, **_) -> None:
        try:
            key = uuid.UUID(code)
        except ValueError:
            raise CommandError(
                f"{code!r} is not an experiment code (a UUID, as in the experiment's address)"
            ) from None
        experiments = Experiment.objects.all()
        if team:
            experiments = experiments.filter(team=team_by_slug(team))
        experiment = experiments.filter(code=key).first()
        if experiment is None:
            where = f" in the team {team}" if team else ""
            raise CommandError(f"No experiment {code}{where}.")
        if format == "json":
            chunks = [json.dumps(results_document(experiment), ensure_ascii=False, indent=2) + "\n"]
        elif format == "jsonl":
            chunks = exporting.jsonl_lines(export_rows(experiment))
        else:
            names, scorers = csv_columns(experiment)
            chunks = exporting.csv_lines(export_rows(experiment), names, scorers)
        if output:
            with Path(output).open("w", encoding="utf-8", newline="") as file:
                file.writelines(chunks)
            self.stderr.write(f"wrote {output}")
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
