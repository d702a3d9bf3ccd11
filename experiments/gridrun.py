"""What `manage.py experiment run --wait` shows: progress while the workers generate and score, the
results table, and which runs fall below `--fail-under`. Reads the database only (the workers write)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .models import Experiment, Generation, Run, Status
from .results import RunSummary


@dataclass(frozen=True)
class Progress:
    status: str
    done: int
    total: int
    unscored: int
    message: str = ""

    @property
    def finished(self) -> bool:
        """Generated and scored (or stopped: failed, cancelled)."""
        if self.status == Status.DONE:
            return self.unscored == 0
        return self.status in (Status.FAILED, Status.CANCELLED)

    def line(self, elapsed_s: float) -> str:
        percent = round(100 * self.done / self.total) if self.total else 0
        scoring = f", {self.unscored} to score" if self.unscored else ""
        return f"  {self.status}: {self.done}/{self.total} outputs ({percent}%){scoring} · {elapsed_s:.0f} s"


def progress(experiment_id: int) -> Progress:
    """Two queries: the experiment with its output counts, and the outputs still waiting for scores."""
    experiment = Experiment.objects.with_progress().only("status", "message").get(pk=experiment_id)
    unscored = Generation.objects.filter(
        run__experiment_id=experiment_id, error="", scored__isnull=True
    ).count()
    return Progress(experiment.status, experiment.done, experiment.total, unscored, experiment.message)


class TimedOut(Exception):
    pass


def wait(
    experiment_id: int,
    write: Callable[[str], None],
    timeout_s: float,
    poll_s: float = 1.0,
    every_s: float = 5.0,
) -> Progress:
    """Polls until the experiment is generated and scored; writes a progress line when the counts change
    (at most every `every_s` seconds) and the last one. Raises TimedOut after `timeout_s`."""
    started = time.monotonic()
    last_counts, last_at = None, -every_s
    while True:
        now = progress(experiment_id)
        elapsed = time.monotonic() - started
        counts = (now.status, now.done, now.unscored)
        if now.finished or (counts != last_counts and elapsed - last_at >= every_s):
            write(now.line(elapsed))
            last_counts, last_at = counts, elapsed
        if now.finished:
            return now
        if elapsed > timeout_s:
            raise TimedOut(now.line(elapsed))
        time.sleep(poll_s)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def table(summaries: list[tuple[Run, RunSummary]]) -> str:
    """The results as aligned plain text, one line per run."""
    header = [
        "run",
        "status",
        "outputs",
        "errors",
        "pass rate",
        "95% interval",
        "mean score",
        "p50 latency",
        "cost",
    ]
    lines = [header]
    for run, s in summaries:
        rate = s.pass_rate
        lines.append(
            [
                run.label,
                run.status,
                f"{s.generated}/{s.total}",
                str(s.errors),
                f"{percent(rate.rate)} ({rate.successes}/{rate.n})",
                "—" if rate.rate is None else f"{rate.low:.0%}–{rate.high:.0%}",
                "—" if s.mean_score is None else f"{s.mean_score:.2f}",
                "—" if s.latency.p50 is None else f"{s.latency.p50:.2f} s",
                f"{s.cost:.4f}",
            ]
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in lines
    )


def below(summaries: list[tuple[Run, RunSummary]], threshold: float) -> list[str]:
    """Why each run fails the bar: a pass rate under it, or no output decided pass or fail."""
    failing = []
    for run, s in summaries:
        rate = s.pass_rate.rate
        if rate is None:
            failing.append(f"{run.label}: no output was decided pass or fail (add a scorer with a threshold)")
        elif rate < threshold:
            failing.append(f"{run.label}: pass rate {rate:.1%} is below {threshold:.1%}")
    return failing
