"""Experiments over the API: status with progress, results page by page, start and cancel through the
same services as the pages."""

from __future__ import annotations

import pytest

from experiments.models import Run, Status
from llmcore.models import TeamBudget
from tests.experiments.factories import drive, make_dataset, make_experiment, make_model, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine

pytestmark = pytest.mark.django_db

BASE = "/api/v1/teams/acme/experiments/"


@pytest.fixture
def draft(team, owner):
    dataset = make_dataset(team, cases=3, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    scorers = [{"name": "label_match", "params": {"labels": ["billing", "bug"]}}]
    return make_experiment(
        team, owner, dataset=dataset, prompts=[version], models=[make_model(team)], scorers=scorers
    )


def _start(client, experiment, capture):
    with capture(execute=False) as callbacks:
        response = client.post(f"{BASE}{experiment.code}/start/")
    return response, callbacks


def test_personas_on_experiments(api_as, stranger, viewer, editor, draft, django_capture_on_commit_callbacks):
    urls = [BASE, f"{BASE}{draft.code}/", f"{BASE}{draft.code}/results/"]
    for url in urls:
        assert api_as(stranger).get(url).status_code == 404, url
        assert api_as(viewer).get(url).status_code == 200, url
    for action in ("start", "cancel"):
        assert api_as(stranger).post(f"{BASE}{draft.code}/{action}/").status_code == 404
        denied = api_as(viewer).post(f"{BASE}{draft.code}/{action}/")
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert not Run.objects.exists()
    response, callbacks = _start(api_as(editor), draft, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    assert len(callbacks) == 1  # the orchestrator is sent once the runs are committed


def test_status_shows_progress_and_results_come_page_by_page(
    monkeypatch,
    api_as,
    editor,
    viewer,
    draft,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    install_fake_engine(monkeypatch)
    started, _ = _start(api_as(editor), draft, django_capture_on_commit_callbacks)
    body = started.json()
    assert body["status"] == "queued" and body["progress"]["generated"] == 0
    assert body["progress"]["total"] == 3 and body["progress"]["active"] is True
    assert [run["status"] for run in body["runs"]] == ["queued"]

    drive(draft.pk)
    client = api_as(viewer)
    status = client.get(f"{BASE}{draft.code}/").json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["progress"] | {"active": None} == {
        "generated": 3, "total": 3, "percent": 100, "to_score": 3, "scored": 3, "scoring": False, "active": None,
    }  # fmt: skip
    assert status["runs"][0]["generated"] == 3 and status["runs"][0]["scored"] == 3

    first = client.get(f"{BASE}{draft.code}/results/", {"page_size": 2}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    row = first["results"][0]
    assert row["case"] == "T-001" and row["run"] == status["runs"][0]["code"]
    assert row["scores"][0]["scorer"] == "label_match"
    with django_assert_max_num_queries(8):
        assert client.get(f"{BASE}{draft.code}/results/", {"run": row["run"]}).json()["count"] == 3
    listed = client.get(BASE).json()["results"]
    assert [(e["code"], e["done"], e["total"]) for e in listed] == [(str(draft.code), 3, 3)]


def test_starting_twice_or_over_budget_is_a_409_with_the_reason(
    api_as, editor, draft, team, django_capture_on_commit_callbacks
):
    TeamBudget.objects.create(team=team, monthly_token_limit=0)
    over, _ = _start(api_as(editor), draft, django_capture_on_commit_callbacks)
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "budget_exceeded" and "budget" in over.json()["error"]["message"]
    TeamBudget.objects.all().delete()
    client = api_as(editor)
    assert _start(client, draft, django_capture_on_commit_callbacks)[0].status_code == 202
    again, _ = _start(client, draft, django_capture_on_commit_callbacks)
    assert again.status_code == 409 and again.json()["error"]["code"] == "cannot_start"


def test_cancel_stops_the_runs_still_queued(api_as, editor, draft, django_capture_on_commit_callbacks):
    client = api_as(editor)
    _start(client, draft, django_capture_on_commit_callbacks)
    response = client.post(f"{BASE}{draft.code}/cancel/")
    assert response.status_code == 200
    assert response.json()["cancelled_runs"] == 1
    assert response.json()["experiment"]["status"] == "cancelled"
    assert Run.objects.get().status == Status.CANCELLED
    assert client.post(f"{BASE}{draft.code}/cancel/").json()["cancelled_runs"] == 0


def _grid(team, model_name: str) -> dict:
    return {
        "name": "Ticket topics from CI",
        "dataset": {
            "cases": [{"key": "T-1", "input": {"ticket": "Refund please"}, "expected_label": "billing"}]
        },
        "prompts": [{"name": "Topic", "instruction": "Topic of: {{ticket}}"}],
        "models": [model_name],
        "params": [{"label": "greedy", "temperature": 0, "max_new_tokens": 8}],
    }


def test_an_editor_creates_an_experiment_from_a_grid_object_or_yaml_text(
    api_as, team, editor, viewer, stranger, django_capture_on_commit_callbacks
):
    model = make_model(team, "Grid model")
    body = {"grid": _grid(team, model.name)}
    assert api_as(stranger).post(BASE, body, format="json").status_code == 404
    assert api_as(viewer).post(BASE, body, format="json").status_code == 403
    client = api_as(editor)
    created = client.post(BASE, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "draft" and created.json()["dataset_name"] == "Ticket topics from CI"
    yaml_text = (
        "name: Again\ndataset:\n  name: Ticket topics from CI\n  cases:\n"
        "    - {key: T-1, input: {ticket: Refund please}, expected_label: billing}\n"
        "prompts:\n  - {name: Topic, instruction: 'Topic of: {{ticket}}'}\n"
        f"models: [{model.name}]\n"
    )
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(BASE, {"grid": yaml_text, "start": True}, format="json")
    assert started.status_code == 201 and started.json()["status"] == "queued"
    # Same dataset and prompt content: reused, not duplicated.
    assert client.get("/api/v1/teams/acme/datasets/").json()["count"] == 1
    assert client.get("/api/v1/teams/acme/prompts/").json()["results"][0]["latest_version"] == 1


def test_a_grid_with_problems_names_each_one_and_saves_nothing(api_as, team, editor):
    grid = _grid(team, "No such model")
    grid["repeats"] = 11
    response = api_as(editor).post(BASE, {"grid": grid}, format="json")
    assert response.status_code == 400
    problems = response.json()["error"]["fields"]["grid"]
    assert any(p.startswith("repeats") for p in problems)
    not_yaml = api_as(editor).post(BASE, {"grid": "name: [unclosed"}, format="json")
    assert not_yaml.status_code == 400 and "YAML" in not_yaml.json()["error"]["fields"]["grid"][0]
    assert not api_as(editor).get(BASE).json()["results"]
