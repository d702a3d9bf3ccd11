from __future__ import annotations

from experiments.models import Dataset, Experiment, PromptTemplate, Run
from experiments.rendering import render_prompt
from experiments.seed import seed_demo_experiments
from experiments.services import datasets, grid


def test_the_demo_has_two_runnable_experiments_with_at_least_thirty_cases(
    team, owner, django_capture_on_commit_callbacks
):
    experiments = seed_demo_experiments(team, owner)

    assert [e.name for e in experiments] == [
        "Ticket topics with the default model",
        "Call note summaries with the default model",
    ]
    for experiment in experiments:
        cases = list(datasets.current_versions(experiment.dataset))
        assert len(cases) >= 30
        assert [m.name for m in experiment.model_configs.all()] == ["SmolLM2-135M-Instruct"]
        for version in experiment.prompt_versions.all():
            for case in cases:
                render_prompt(version.content(), case.inputs)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            grid.start_experiment(experiment, owner, "admin")
        assert len(callbacks) == 1
    assert Run.objects.count() == 2 + 1  # two ticket prompt versions, one summary prompt


def test_seeding_twice_creates_nothing_new(team, owner):
    first = seed_demo_experiments(team, owner)
    second = seed_demo_experiments(team, owner)
    assert [e.pk for e in first] == [e.pk for e in second]
    assert (
        Dataset.objects.count() == 2
        and PromptTemplate.objects.count() == 2
        and Experiment.objects.count() == 2
    )
