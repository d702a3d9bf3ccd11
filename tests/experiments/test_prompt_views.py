from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.models import PromptTemplate, PromptVersion
from tests.experiments.factories import make_dataset, make_prompt

PROMPT_POST = {
    "name": "Ticket topic",
    "technique": "zero-shot",
    "instruction": "Classify: {{ticket}}",
    "system_prompt": "",
    "examples": "",
    "output_format": "one word",
    "change_note": "",
    "description": "",
}


@pytest.fixture
def prompt(team, owner):
    dataset = make_dataset(team, author=owner)
    return make_prompt(team, dataset=dataset, author=owner)


def url(name, team, *args):
    return reverse(f"experiments:{name}", args=[team.slug, *args])


def test_members_see_the_prompt_list_and_strangers_get_404(
    team, prompt, as_user, viewer, stranger, django_assert_max_num_queries
):
    client = as_user(viewer)
    with django_assert_max_num_queries(6):
        response = client.get(url("prompt_list", team))
    assert response.status_code == 200
    assert "Ticket topic" in response.text
    assert as_user(stranger).get(url("prompt_list", team)).status_code == 404
    assert as_user(stranger).get(url("prompt_detail", team, prompt.code)).status_code == 404


def test_an_editor_creates_a_prompt_as_version_one(team, editor, as_user):
    response = as_user(editor).post(url("prompt_create", team), PROMPT_POST)
    template = PromptTemplate.objects.get(team=team)
    assert response.status_code == 302
    version = template.versions.get()
    assert (version.number, version.instruction, version.author) == (1, "Classify: {{ticket}}", editor)


def test_a_viewer_cannot_create_or_edit_prompts(team, prompt, viewer, as_user):
    client = as_user(viewer)
    assert client.get(url("prompt_create", team)).status_code == 403
    assert client.post(url("prompt_create", team), PROMPT_POST).status_code == 403
    assert client.post(url("prompt_edit", team, prompt.code), PROMPT_POST).status_code == 403
    assert PromptTemplate.objects.count() == 1


def test_a_stranger_cannot_edit_a_prompt(team, prompt, stranger, as_user):
    assert as_user(stranger).post(url("prompt_edit", team, prompt.code), PROMPT_POST).status_code == 404


def test_editing_creates_a_new_version_and_keeps_the_old_one(team, prompt, owner, as_user):
    response = as_user(owner).post(
        url("prompt_edit", team, prompt.code),
        {**PROMPT_POST, "instruction": "Topic? {{ticket}}", "change_note": "shorter"},
    )
    assert response.status_code == 302
    versions = list(prompt.versions.order_by("number").values_list("number", "instruction", "change_note"))
    assert versions == [
        (1, "Topic of this ticket: {{ticket}}", "First version"),
        (2, "Topic? {{ticket}}", "shorter"),
    ]


def test_saving_identical_content_creates_no_version(team, prompt, owner, as_user):
    client = as_user(owner)
    post = {
        **PROMPT_POST,
        "instruction": "Topic of this ticket: {{ticket}}",
        "output_format": "",
        "dataset": prompt.dataset.pk,
    }
    response = client.post(url("prompt_edit", team, prompt.code), post, follow=True)
    assert prompt.versions.count() == 1
    assert "identical to version 1" in response.text


def test_a_variable_no_test_case_provides_is_refused_by_name(team, prompt, owner, as_user):
    response = as_user(owner).post(
        url("prompt_edit", team, prompt.code),
        {**PROMPT_POST, "instruction": "{{ticket}} from {{customer_tier}}", "dataset": prompt.dataset.pk},
    )
    assert response.status_code == 200
    assert "provides the variable {{customer_tier}}" in response.text
    assert prompt.versions.count() == 1


def test_invalid_few_shot_examples_are_explained(team, owner, as_user):
    response = as_user(owner).post(
        url("prompt_create", team), {**PROMPT_POST, "technique": "few-shot", "examples": '[{"input": "a"}]'}
    )
    assert response.status_code == 200
    assert "example 1: needs exactly the keys" in response.text
    response = as_user(owner).post(url("prompt_create", team), {**PROMPT_POST, "examples": "[{oops"})
    assert "Not valid JSON" in response.text


def test_preview_renders_a_version_with_a_chosen_case(team, prompt, viewer, as_user):
    case = prompt.dataset.cases.get(key="T-002")
    response = as_user(viewer).get(url("prompt_detail", team, prompt.code), {"case": case.code})
    assert response.status_code == 200
    assert "Topic of this ticket: Ticket number 2" in response.text


def test_the_htmx_preview_returns_only_the_fragment(team, prompt, viewer, as_user):
    case = prompt.dataset.cases.get(key="T-001")
    response = as_user(viewer).get(
        url("prompt_detail", team, prompt.code), {"case": case.code, "v": 1}, HTTP_HX_REQUEST="true"
    )
    assert response.text.strip().startswith('<div id="preview">')
    assert "Ticket number 1" in response.text
    assert "<html" not in response.text


def test_preview_escapes_case_text(team, owner, as_user):
    from experiments.importing import CaseData
    from experiments.services.datasets import add_case

    dataset = make_dataset(team, cases=0)
    add_case(dataset, owner, CaseData(key="x", inputs={"ticket": "<script>alert(1)</script>"}))
    prompt = make_prompt(team, dataset=dataset)
    response = as_user(owner).get(url("prompt_detail", team, prompt.code), {"case": dataset.cases.get().code})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_an_old_version_can_be_shown(team, prompt, owner, viewer, as_user):
    from experiments.rendering import PromptContent
    from experiments.services.prompts import save_prompt_version

    save_prompt_version(prompt, owner, PromptContent(instruction="New wording {{ticket}}"))
    response = as_user(viewer).get(url("prompt_detail", team, prompt.code), {"v": 1})
    assert "Topic of this ticket:" in response.text
    assert as_user(viewer).get(url("prompt_detail", team, prompt.code), {"v": 9}).status_code == 404
    assert PromptVersion.objects.filter(template=prompt).count() == 2
