"""How much of a job's working time is exposed to LLMs, from its tasks' exposure labels.

A task's time is its hours per week times the share of the job's people who do it (the job's headcount
multiplies every task alike, so it cancels within a job and weighs jobs against each other in a team
total). The shares are of the *labelled* time: human labels where a person gave one, the pre-screen's
predictions otherwise. `predicted` says how much of that time rests on predictions, so pages can mark it,
and `coverage` how much of the job's time has any label at all.

The four figures follow the exposure literature: the share of time in E1 tasks, in E2 tasks, the blend
E1 + ½·E2 (software around an LLM counted at half weight) and E1 + E2 (every exposed task).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import DecimalField, ExpressionWrapper, F, Sum

from accounts.models import Team

from .models import LabelSource, Task

_HOURS = ExpressionWrapper(
    F("hours_per_week") * F("people_share"), output_field=DecimalField(max_digits=12, decimal_places=5)
)


@dataclass(frozen=True)
class JobExposure:
    hours: float = 0.0  # all of the job's task time (hours per week per person)
    e0: float = 0.0
    e1: float = 0.0
    e2: float = 0.0
    predicted: float = 0.0  # labelled time whose label is a prediction

    @property
    def labelled(self) -> float:
        return self.e0 + self.e1 + self.e2

    def _share(self, hours: float) -> float | None:
        return hours / self.labelled if self.labelled > 0 else None

    @property
    def e1_share(self) -> float | None:
        return self._share(self.e1)

    @property
    def e2_share(self) -> float | None:
        return self._share(self.e2)

    @property
    def e1_half_e2(self) -> float | None:
        return self._share(self.e1 + 0.5 * self.e2)

    @property
    def e1_e2(self) -> float | None:
        return self._share(self.e1 + self.e2)

    @property
    def predicted_share(self) -> float | None:
        return self._share(self.predicted)

    @property
    def coverage(self) -> float | None:
        return self.labelled / self.hours if self.hours > 0 else None

    @property
    def has_predictions(self) -> bool:
        return self.predicted > 0

    def __add__(self, other: JobExposure) -> JobExposure:
        return JobExposure(*(a + b for a, b in zip(self._tuple(), other._tuple(), strict=True)))

    def scaled(self, factor: float) -> JobExposure:
        return JobExposure(*(value * factor for value in self._tuple()))

    def _tuple(self) -> tuple[float, ...]:
        return (self.hours, self.e0, self.e1, self.e2, self.predicted)

    @property
    def bar(self) -> list[tuple[str, str, float]]:
        """(label, css class, percent of the job's time) segments for a stacked bar, unlabelled last."""
        if self.hours <= 0:
            return []
        parts = [("E1", "e1", self.e1), ("E2", "e2", self.e2), ("E0", "e0", self.e0)]
        parts.append(("not labelled", "none", max(self.hours - self.labelled, 0.0)))
        return [(label, css, round(100 * hours / self.hours, 1)) for label, css, hours in parts if hours > 0]

    def to_dict(self) -> dict[str, float | None]:
        """Rounded figures for exports (shares 0..1, hours per week per person)."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "e1_share": r(self.e1_share),
            "e2_share": r(self.e2_share),
            "e1_half_e2": r(self.e1_half_e2),
            "e1_e2": r(self.e1_e2),
            "predicted_share": r(self.predicted_share),
            "labelled_hours_share": r(self.coverage),
        }


@dataclass(frozen=True)
class Exposures:
    """Every job's exposure, and the team's (jobs weighed by headcount), from one grouped query."""

    by_job: dict[int, JobExposure]
    team: JobExposure

    def get(self, job_id: int) -> JobExposure:
        return self.by_job.get(job_id, JobExposure())


def for_team(team: Team, job_ids: Iterable[int] | None = None) -> Exposures:
    tasks = Task.objects.for_team(team)
    if job_ids is not None:
        tasks = tasks.filter(job_id__in=list(job_ids))
    rows = (
        tasks.order_by()
        .values("job_id", "job__headcount", "exposure_label", "label_source")
        .annotate(hours=Sum(_HOURS))
    )
    parts: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    headcounts: dict[int, int] = {}
    for row in rows:
        hours = float(row["hours"] or 0)
        job = parts[row["job_id"]]
        headcounts[row["job_id"]] = row["job__headcount"]
        job["hours"] += hours
        label = row["exposure_label"]
        if label in ("E0", "E1", "E2"):
            job[label.lower()] += hours
            if row["label_source"] == LabelSource.PREDICTED:
                job["predicted"] += hours
    by_job = {job_id: JobExposure(**values) for job_id, values in parts.items()}
    team_total = JobExposure()
    for job_id, exposure in by_job.items():
        team_total = team_total + exposure.scaled(headcounts[job_id])
    return Exposures(by_job, team_total)


def attach(tasks: Iterable[Task], exposures: Exposures) -> Iterator[Task]:
    """Tasks (jobs loaded) with `task.job.exposure` set, for rows that show or export it."""
    for task in tasks:
        task.job.exposure = exposures.get(task.job_id)
        yield task
