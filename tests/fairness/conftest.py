"""Fixtures for fairness tests: a finished classification run whose outputs are given as texts."""

from __future__ import annotations

import pytest

from experiments.importing import CaseData
from experiments.models import Dataset, Experiment, Generation, Run, Status
from experiments.services import datasets, grid
from tests.experiments.factories import make_experiment, make_model, make_prompt


def make_label_run(team, author, rows, scorers=None) -> Run:
    """rows: [(expected label, output text, sensitive attributes)] -> a finished run with those outputs."""
    dataset = Dataset.objects.create(team=team, name="Loan decisions", created_by=author)
    datasets.import_cases(
        dataset,
        author,
        [
            CaseData(key=f"C-{i:03d}", inputs={"ticket": f"Application {i}"}, expected_label=label,
                     sensitive_attributes=attributes)
            for i, (label, _, attributes) in enumerate(rows)
        ],
    )  # fmt: skip
    prompt = make_prompt(team, dataset=dataset, author=author)
    experiment = make_experiment(team, author, dataset=dataset, prompts=[prompt.versions.get()],
                                 models=[make_model(team)], scorers=scorers)  # fmt: skip
    grid.start_experiment(experiment, author, "admin")
    run = experiment.runs.get()
    versions = {v.case.key: v for v in experiment.snapshot.case_versions.select_related("case")}
    Generation.objects.bulk_create(
        Generation(run=run, case_version=versions[f"C-{i:03d}"], repeat=0, text=text, cache_key=f"k{i}")
        for i, (_, text, _) in enumerate(rows)
    )
    Run.objects.filter(pk=run.pk).update(status=Status.DONE)
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.DONE)
    run.refresh_from_db()
    return run


@pytest.fixture
def label_run(team, owner, django_capture_on_commit_callbacks):
    from tests.fairness.test_groupfair import GROUPS, WORDS, Y_PRED, Y_TRUE

    rows = [
        (WORDS[t], f"Decision: {WORDS[p]}.", {"group": g})
        for t, p, g in zip(Y_TRUE, Y_PRED, GROUPS, strict=True)
    ]
    rows.append(("approve", "I cannot decide this.", {"group": "a"}))
    with django_capture_on_commit_callbacks(execute=False):
        return make_label_run(team, owner, rows)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    from tests.llmcore.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("fairness-tiny-llama"))


@pytest.fixture
def tiny_model(team, tiny_llama_dir):
    """A real (tiny, random) local llama registered as a team model."""
    return make_model(team, "Tiny llama", source=str(tiny_llama_dir), dtype="float32", context_window=256)
