"""Models (read), prompts and their versions, datasets and their test cases over the API."""

from __future__ import annotations

import pytest

from experiments.models import PromptVersion, TestCase
from tests.experiments.factories import make_dataset, make_model, make_prompt
from tests.factories import make_model_config

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/acme/"


@pytest.fixture
def dataset(team, owner):
    return make_dataset(team, cases=2, author=owner)


@pytest.fixture
def prompt(team, dataset, owner):
    return make_prompt(team, dataset=dataset, author=owner)


def test_models_are_read_only_and_include_instance_wide_ones(api_as, team, viewer, stranger, editor):
    own = make_model(team, "Team model")
    make_model_config(None, "Everyone's model", available_to_all_teams=True)
    names = [m["name"] for m in api_as(viewer).get(f"{T}models/").json()["results"]]
    assert {"Everyone's model", "Team model"} <= set(names)
    assert api_as(viewer).get(f"{T}models/{own.code}/").json()["instance_wide"] is False
    assert api_as(stranger).get(f"{T}models/").status_code == 404
    assert api_as(stranger).get(f"{T}models/{own.code}/").status_code == 404
    assert api_as(editor).post(f"{T}models/", {"name": "x"}, format="json").status_code == 405


def test_personas_on_prompts_and_datasets(api_as, stranger, viewer, prompt, dataset):
    reads = [f"{T}prompts/", f"{T}prompts/{prompt.code}/", f"{T}prompts/{prompt.code}/versions/",
             f"{T}datasets/", f"{T}datasets/{dataset.code}/", f"{T}datasets/{dataset.code}/cases/"]  # fmt: skip
    for url in reads:
        assert api_as(stranger).get(url).status_code == 404, url
        assert api_as(viewer).get(url).status_code == 200, url
    writes = [
        (f"{T}prompts/", {"name": "P", "content": {"instruction": "Hi {{ticket}}"}}),
        (f"{T}prompts/{prompt.code}/versions/", {"instruction": "Topic: {{ticket}}"}),
        (f"{T}datasets/", {"name": "D"}),
        (f"{T}datasets/{dataset.code}/cases/", {"cases": [{"input": {"ticket": "x"}}]}),
    ]
    for url, body in writes:
        assert api_as(stranger).post(url, body, format="json").status_code == 404, url
        assert api_as(viewer).post(url, body, format="json").status_code == 403, url
    assert PromptVersion.objects.count() == 1 and TestCase.objects.count() == 2


def test_an_editor_creates_a_prompt_and_versions_identical_content_once(api_as, editor, dataset):
    client = api_as(editor)
    created = client.post(
        f"{T}prompts/",
        {"name": "Topic", "dataset": str(dataset.code), "content": {"instruction": "Topic of {{ticket}}"}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["latest_version"] == 1 and body["versions"][0]["instruction"] == "Topic of {{ticket}}"
    versions = f"{T}prompts/{body['code']}/versions/"
    second = client.post(
        versions, {"instruction": "Say the topic of {{ticket}}", "change_note": "clearer"}, format="json"
    )
    assert second.status_code == 201 and second.json()["number"] == 2
    again = client.post(versions, {"instruction": "Say the topic of {{ticket}}"}, format="json")
    assert again.status_code == 200 and again.json()["number"] == 2
    unknown = client.post(versions, {"instruction": "Hi {{customer}}"}, format="json")
    assert unknown.status_code == 400
    assert "customer" in unknown.json()["error"]["fields"]["instruction"][0]


def test_test_cases_are_imported_all_or_nothing_with_each_problem_named(api_as, editor, dataset):
    client = api_as(editor)
    url = f"{T}datasets/{dataset.code}/cases/"
    bad = client.post(
        url,
        {"cases": [{"input": {"ticket": "ok"}}, {"input": {"ticket": ""}}, {"inputs": {}}]},
        format="json",
    )
    assert bad.status_code == 400
    rows = bad.json()["error"]["rows"]
    assert {"row": 2, "field": "input.ticket", "message": "must not be empty"} in rows
    assert any(r["row"] == 3 and "unknown field" in r["message"] for r in rows)
    assert TestCase.objects.filter(dataset=dataset).count() == 2
    good = client.post(
        url,
        {"cases": [{"key": "T-001", "input": {"ticket": "Changed"}}, {"input": {"ticket": "New one"}}]},
        format="json",
    )
    assert good.json() == {"created": 1, "updated": 1, "unchanged": 0}
    listed = client.get(url).json()
    assert listed["count"] == 3
    first = listed["results"][0]
    assert first["key"] == "T-001" and first["version"] == 2 and first["input"] == {"ticket": "Changed"}
    assert client.get(f"{T}datasets/{dataset.code}/").json()["case_count"] == 3


def test_prompt_and_case_lists_use_a_fixed_number_of_queries(
    api_as, team, viewer, owner, django_assert_max_num_queries
):
    dataset = make_dataset(team, cases=30, author=owner)
    for i in range(10):
        make_prompt(team, dataset=dataset, name=f"Prompt {i}", author=owner)
    client = api_as(viewer)
    with django_assert_max_num_queries(6):
        assert client.get(f"{T}prompts/").json()["count"] == 10
    with django_assert_max_num_queries(6):
        assert len(client.get(f"{T}datasets/{dataset.code}/cases/").json()["results"]) == 30
    with django_assert_max_num_queries(6):
        assert client.get(f"{T}datasets/").json()["results"][0]["case_count"] == 30
