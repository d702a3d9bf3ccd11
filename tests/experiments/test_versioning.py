from __future__ import annotations

import pytest

from experiments.importing import CaseData
from experiments.models import PromptVersion
from experiments.rendering import PromptContent, PromptError
from experiments.services import datasets, grid, prompts
from tests.experiments.factories import make_dataset, make_prompt


def test_a_snapshot_keeps_the_case_versions_it_was_taken_with(team, owner):
    dataset = make_dataset(team, cases=2, author=owner)
    first = datasets.take_snapshot(dataset, owner)
    case = dataset.cases.get(key="T-001")
    datasets.edit_case(case, owner, CaseData(key="T-001", inputs={"ticket": "edited"}))
    second = datasets.take_snapshot(dataset, owner)

    assert (first.number, second.number) == (1, 2)
    old = first.case_versions.get(case=case)
    new = second.case_versions.get(case=case)
    assert old.inputs == {"ticket": "Ticket number 1"} and old.number == 1
    assert new.inputs == {"ticket": "edited"} and new.number == 2


def test_an_unchanged_dataset_reuses_its_latest_snapshot(team, owner):
    dataset = make_dataset(team, cases=2, author=owner)
    assert datasets.take_snapshot(dataset, owner).pk == datasets.take_snapshot(dataset, owner).pk


def test_removed_cases_leave_new_snapshots_only(team, owner):
    dataset = make_dataset(team, cases=3, author=owner)
    first = datasets.take_snapshot(dataset, owner)
    datasets.remove_case(dataset.cases.get(key="T-003"))
    second = datasets.take_snapshot(dataset, owner)
    assert (first.case_count, second.case_count) == (3, 2)
    assert first.case_versions.count() == 3


def test_editing_a_case_without_changes_creates_no_version(team, owner):
    dataset = make_dataset(team, cases=1, author=owner)
    case = dataset.cases.get()
    current = case.versions.get()
    same = CaseData(key=case.key, **current.content())
    assert datasets.edit_case(case, owner, same) is None
    assert case.versions.count() == 1


def test_prompt_versions_are_numbered_and_identical_content_is_not_duplicated(team, owner):
    prompt = make_prompt(team, author=owner)
    v2, created = prompts.save_prompt_version(prompt, owner, PromptContent(instruction="Other {{ticket}}"))
    again, created_again = prompts.save_prompt_version(
        prompt, owner, PromptContent(instruction="Other {{ticket}}")
    )
    assert (v2.number, created) == (2, True)
    assert (again.pk, created_again) == (v2.pk, False)
    assert PromptVersion.objects.filter(template=prompt).count() == 2


def test_a_prompt_linked_to_a_dataset_must_use_variables_its_cases_provide(team, owner):
    dataset = make_dataset(team, cases=2, author=owner)
    with pytest.raises(PromptError, match=r"provides the variable \{\{tone\}\}"):
        make_prompt(team, dataset=dataset, instruction="{{ticket}} in a {{tone}} tone")


def test_few_shot_needs_examples_with_the_instruction_variables(team, owner):
    with pytest.raises(PromptError, match="needs at least one example"):
        make_prompt(team, technique="few-shot")
    from experiments.rendering import Example

    with pytest.raises(PromptError, match=r"example 1 lacks the variable \{\{ticket\}\}"):
        make_prompt(team, technique="few-shot", examples=(Example({"other": "x"}, "y"),))


def test_a_team_with_experiments_can_be_deleted(team, owner, monkeypatch, django_capture_on_commit_callbacks):
    from experiments.models import Generation
    from tests.experiments.factories import drive, make_experiment
    from tests.llmcore.registry_fakes import install_fake_engine

    install_fake_engine(monkeypatch)
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    assert Generation.objects.exists()

    team.delete()

    assert not Generation.objects.exists()


def test_a_case_version_used_by_a_run_cannot_be_deleted_on_its_own(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db.models import RestrictedError

    from tests.experiments.factories import drive, make_experiment
    from tests.llmcore.registry_fakes import install_fake_engine

    install_fake_engine(monkeypatch)
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    with pytest.raises(RestrictedError):
        experiment.dataset.cases.first().delete()
