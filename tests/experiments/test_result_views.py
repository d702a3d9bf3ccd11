from __future__ import annotations

import json

import pytest
from django.urls import reverse

from experiments.services import grid
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import FinishReason, GenerationResult
from tests.experiments.factories import drive, make_dataset, make_experiment, make_model, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine

SCORERS = [{"name": "contains", "params": {"strings": ["billing"]}, "threshold": 1.0, "weight": 1.0}]


def url(name, team, *args):
    return reverse(f"experiments:{name}", args=[team.slug, *args])


def answer_by_model(spec, requests, batch_size=None):
    """Model "A" answers billing for every ticket, model "B" only for odd ticket numbers."""
    results = []
    for request in requests:
        number = int(request.messages[-1].content.rsplit(" ", 1)[-1])
        text = "billing" if spec.name == "A" or number % 2 else "bug"
        results.append(GenerationResult(request.key, text, FinishReason.STOP, 7, 1, 0.2, 0.0001))
    return results


@pytest.fixture
def finished(team, owner, monkeypatch, django_capture_on_commit_callbacks):
    install_fake_engine(monkeypatch, answer_by_model)
    dataset = make_dataset(team, cases=4, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[version], models=[make_model(team, "A"), make_model(team, "B")],
        param_sets=[grid.ParamSet("greedy", InferenceParams(max_new_tokens=4))], repeats=2, scorers=SCORERS,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    return experiment


def test_the_results_matrix_shows_pass_rates_with_intervals_per_run(
    team, finished, viewer, as_user, django_assert_max_num_queries
):
    client = as_user(viewer)
    with django_assert_max_num_queries(12):
        response = client.get(url("experiment_detail", team, finished.code))
    assert '100%</strong> <span class="muted small">(8/8; 68%–100%)' in response.text
    assert '50%</strong> <span class="muted small">(4/8; 22%–78%)' in response.text
    assert "Cost per 1,000 cases" in response.text


def test_side_by_side_can_show_only_the_cases_where_runs_differ(
    team, finished, viewer, stranger, as_user, django_assert_max_num_queries
):
    client = as_user(viewer)
    with django_assert_max_num_queries(10):
        everything = client.get(url("experiment_compare", team, finished.code))
    assert all(f"T-00{i}" in everything.text for i in range(1, 5))
    differing = client.get(url("experiment_compare", team, finished.code), {"differ": "1"})
    assert "T-002" in differing.text and "T-004" in differing.text
    assert "T-001" not in differing.text and "T-003" not in differing.text
    assert as_user(stranger).get(url("experiment_compare", team, finished.code)).status_code == 404


def test_a_run_is_compared_with_a_baseline_run(team, finished, viewer, as_user):
    run_a = finished.runs.get(model_name="A")
    run_b = finished.runs.get(model_name="B")
    response = as_user(viewer).get(url("run_detail", team, run_b.code), {"baseline": run_a.code})
    assert "regressed (passed in the baseline, fail here)" in response.text
    text = response.text.split("Regressed:")[1].split("</p>")[0]
    assert "T-002" in text and "T-004" in text and "T-001" not in text


def test_results_export_as_csv_and_jsonl_for_members_only(team, finished, viewer, stranger, as_user):
    client = as_user(viewer)
    response = client.get(url("experiment_export", team, finished.code, "csv"))
    assert response["Content-Disposition"].startswith('attachment; filename="experiment-ticket-topics-')
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 2 * 4 * 2
    assert lines[0].endswith("input.ticket,score.1.contains")
    response = client.get(url("experiment_export", team, finished.code, "jsonl"))
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert len(rows) == 16 and rows[0]["scores"][0]["scorer"] == "contains"
    assert client.get(url("experiment_export", team, finished.code, "xml")).status_code == 404
    assert as_user(stranger).get(url("experiment_export", team, finished.code, "csv")).status_code == 404


def test_side_by_side_before_start_is_not_found(team, owner, as_user):
    draft = make_experiment(team, owner)
    assert as_user(owner).get(url("experiment_compare", team, draft.code)).status_code == 404
