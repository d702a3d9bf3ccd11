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
