"""Outputs the label-extraction scorer found ambiguous (they name several different labels), per run:
how many, and a few examples to look at. Two queries for any number of runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from llmcore.scoring.labels import AMBIGUOUS_PREFIX

from .models import Score

EXAMPLES_PER_RUN = 3


@dataclass(frozen=True)
class Example:
    generation_id: int
    case_key: str
    case_code: str
    text: str


@dataclass(frozen=True)
class Ambiguous:
    count: int = 0
    examples: list[Example] = field(default_factory=list)


def _ambiguous_scores(run_ids):
    return Score.objects.filter(
        generation__run_id__in=list(run_ids),
        scorer="label_match",
        rationale__startswith=AMBIGUOUS_PREFIX,
    )


def ambiguous_by_run(run_ids, examples: int = EXAMPLES_PER_RUN) -> dict[int, Ambiguous]:
    """{run id: Ambiguous} for the runs that have ambiguous outputs (others are left out)."""
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    counts = dict(
        _ambiguous_scores(run_ids)
        .values("generation__run_id")
        .annotate(n=Count("generation_id", distinct=True))
        .values_list("generation__run_id", "n")
    )
    if not counts:
        return {}
    found: dict[int, list[Example]] = {run_id: [] for run_id in counts}
    rows = (
        _ambiguous_scores(counts)
        .annotate(
            nth=Window(RowNumber(), partition_by=[F("generation__run_id")], order_by=F("generation_id").asc())
        )
        .filter(nth__lte=examples)
        .values_list(
            "generation__run_id",
            "generation_id",
            "generation__case_version__case__key",
            "generation__case_version__case__code",
            "generation__text",
        )
    )
    for run_id, generation_id, key, code, text in rows:
        found[run_id].append(Example(generation_id, key, str(code), text))
    return {run_id: Ambiguous(n, found[run_id]) for run_id, n in counts.items()}
