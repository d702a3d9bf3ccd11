"""An output that lists every label is ambiguous: it fails by default (never a pass by position), and
the results say how many outputs were ambiguous, with examples."""

from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.ambiguity import ambiguous_by_run
from experiments.models import Generation
from experiments.services import grid
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import FinishReason, GenerationResult
from tests.experiments.factories import drive, make_dataset, make_experiment, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine

# No rule given: the default applies.
SCORERS = [{"name": "label_match", "params": {"labels": ["billing", "bug"]}, "threshold": 1.0, "weight": 1.0}]


def list_every_label(spec, requests, batch_size=None):
    return [GenerationResult(r.key, "Billing, bug", FinishReason.STOP, 7, 2, 0.2, 0.0001) for r in requests]


@pytest.fixture
def listed(team, owner, monkeypatch, django_capture_on_commit_callbacks):
    install_fake_engine(monkeypatch, list_every_label)
    dataset = make_dataset(team, cases=4, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[version], scorers=SCORERS,
        param_sets=[grid.ParamSet("greedy", InferenceParams(max_new_tokens=4))],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    return experiment


def test_outputs_naming_every_label_fail_and_are_counted_as_ambiguous(
    team, listed, viewer, as_user, django_assert_max_num_queries
):
    run = listed.runs.get()
    # The billing cases no longer pass because "Billing" happens to come first.
    assert Generation.objects.filter(run=run, passed=True).count() == 0
    assert ambiguous_by_run([run.pk])[run.pk].count == 4
    client = as_user(viewer)
    with django_assert_max_num_queries(13):
        page = client.get(reverse("experiments:experiment_detail", args=[team.slug, listed.code])).text
    assert "4 ambiguous outputs (named several labels), e.g." in page
    assert "T-001" in page and "“Billing, bug”" in page
    run_page = client.get(reverse("experiments:run_detail", args=[team.slug, run.code])).text
    assert "4 ambiguous outputs</strong>" in run_page
    assert run_page.count("“Billing, bug”") == 3  # three examples
