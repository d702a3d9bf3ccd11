"""Model registry, usage and budget pages, for every persona."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from llmcore import views
from llmcore.models import InferenceCall, ModelConfig, TeamBudget, ThroughputSample
from tests.factories import make_model_config, make_team

VALID_MODEL = {
    "name": "Qwen 0.5B",
    "modality": "text",
    "parameter_count": "500000000",
    "context_window": "32768",
    "licence": "Apache-2.0",
    "open_weights": "on",
    "is_active": "on",
    "backend": "transformers",
    "source": "/models/qwen",
    "revision": "",
    "dtype": "bfloat16",
    "device": "cpu",
    "remote_model": "",
    "api_key_env": "",
    "request_timeout_s": "60",
    "max_retries": "3",
    "cost_per_1k_input": "0",
    "cost_per_1k_output": "0",
    "cost_per_hour": "0.10",
    "notes": "",
}


@pytest.fixture
def ours(team):
    return make_model_config(team, name="Team tiny", parameter_count=1_000_000)


@pytest.fixture
def hosted(team):
    return make_model_config(
        team,
        name="Hosted GPT",
        backend="openai-compatible",
        source="https://api.example.com/v1",
        remote_model="gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
        external=True,
        open_weights=False,
        allowed_roles="admin",
        cost_per_1k_input=Decimal("0.15"),
        cost_per_1k_output=Decimal("0.60"),
    )


@pytest.fixture
def theirs(db):
    return make_model_config(make_team("Other Co", "other-co"), name="Their model")


def url(name, team, *args):
    return reverse(name, args=[team.slug, *args])


# -- comparison table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "editor", "viewer", "auditor"])
def test_every_member_sees_the_comparison_table(persona, request, as_user, team, ours, hosted, theirs):
    response = as_user(request.getfixturevalue(persona)).get(url("model_list", team))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Team tiny" in body and "SmolLM2-135M-Instruct" in body and "Hosted GPT" in body
    assert "Their model" not in body
    assert "external: data leaves the organisation" in body
    assert "135M" in body and "Apache-2.0" in body


def test_a_stranger_gets_404_on_every_registry_page(stranger_client, team, ours):
    for name, args in [
        ("model_list", []),
        ("model_create", []),
        ("model_detail", [ours.code]),
        ("model_edit", [ours.code]),
        ("model_delete", [ours.code]),
        ("usage", []),
        ("budget_edit", []),
    ]:
        assert stranger_client.get(url(name, team, *args)).status_code == 404, name
    assert stranger_client.post(url("model_measure", team, ours.code)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, team):
    response = client.get(url("model_list", team))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_table_sorts_by_size_and_htmx_gets_only_the_table(viewer_client, team, ours):
    make_model_config(team, name="Huge", parameter_count=70_000_000_000)
    response = viewer_client.get(url("model_list", team), {"sort": "size"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'id="model-table"' in body
    assert body.index("Team tiny") < body.index("SmolLM2-135M-Instruct") < body.index("Huge")


def test_the_table_takes_a_fixed_number_of_queries(viewer_client, team, django_assert_max_num_queries):
    for i in range(30):
        make_model_config(team, name=f"Model {i}", external=bool(i % 2))
    with django_assert_max_num_queries(6):
        response = viewer_client.get(url("model_list", team))
    assert response.content.decode().count("Model ") >= 30


def test_the_nav_links_to_models(viewer_client, team):
    assert url("model_list", team) in viewer_client.get(url("model_list", team)).content.decode()


# -- adding, editing, deleting ---------------------------------------------------------------------------


def test_a_team_admin_adds_a_model(owner_client, team):
    response = owner_client.post(url("model_create", team), VALID_MODEL)
    model = ModelConfig.objects.get(team=team, name="Qwen 0.5B")
    assert response["Location"] == url("model_detail", team, model.code)
    assert (model.dtype, model.parameter_count, model.cost_per_hour) == (
        "bfloat16",
        500_000_000,
        Decimal("0.10"),
    )


@pytest.mark.parametrize("persona", ["editor", "viewer", "auditor"])
def test_members_who_are_not_admins_cannot_add_models(persona, request, as_user, team):
    client = as_user(request.getfixturevalue(persona))
    assert client.get(url("model_create", team)).status_code == 403
    assert client.post(url("model_create", team), VALID_MODEL).status_code == 403
    assert not ModelConfig.objects.filter(team=team).exists()


def test_8bit_on_cpu_is_refused_in_the_form_and_the_input_is_kept(owner_client, team):
    response = owner_client.post(url("model_create", team), {**VALID_MODEL, "load_in_8bit": "on"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "8-bit loading needs a CUDA GPU" in body
    assert 'value="/models/qwen"' in body  # nothing typed is lost
    assert not ModelConfig.objects.filter(team=team).exists()


def test_a_pasted_api_key_is_refused_and_not_shown_back(owner_client, team):
    key = "sk-live-9f8e7d6c5b4a39281706"
    response = owner_client.post(
        url("model_create", team),
        {
            **VALID_MODEL,
            "backend": "openai-compatible",
            "source": "https://api.example.com/v1",
            "remote_model": "gpt-4o-mini",
            "api_key_env": key,
        },
    )
    body = response.content.decode()
    assert "Pick one of the API keys this instance offers" in body
    assert key not in body
    assert not ModelConfig.objects.filter(team=team).exists()


def test_a_duplicate_name_is_refused_with_a_message(owner_client, team, ours):
    response = owner_client.post(url("model_create", team), {**VALID_MODEL, "name": "Team tiny"})
    assert "This team already has a model called &#x27;Team tiny&#x27;" in response.content.decode()
    response = owner_client.post(url("model_create", team), {**VALID_MODEL, "name": "SmolLM2-135M-Instruct"})
    assert "An instance-wide model is already called" in response.content.decode()


def test_roles_are_chosen_with_checkboxes_and_kept_for_external_models(owner_client, team):
    data = {**VALID_MODEL, "external": "on", "allowed_roles": ["admin", "editor"]}
    owner_client.post(url("model_create", team), data)
    model = ModelConfig.objects.get(team=team, name="Qwen 0.5B")
    assert model.allowed_roles == "editor,admin"
    form_page = owner_client.get(url("model_edit", team, model.code)).content.decode()
    assert 'value="admin" id="id_allowed_roles_3" checked' in form_page
    assert 'value="viewer" id="id_allowed_roles_0">' in form_page


def test_a_team_admin_edits_a_team_model(owner_client, team, ours):
    response = owner_client.post(url("model_edit", team, ours.code), {**VALID_MODEL, "name": "Renamed"})
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.name == "Renamed"


@pytest.mark.parametrize("persona", ["editor", "viewer"])
def test_non_admins_cannot_edit_or_delete_models(persona, request, as_user, team, ours):
    client = as_user(request.getfixturevalue(persona))
    assert client.post(url("model_edit", team, ours.code), {**VALID_MODEL, "name": "X"}).status_code == 403
    assert client.post(url("model_delete", team, ours.code)).status_code == 403
    assert client.post(url("model_measure", team, ours.code)).status_code == 403
    assert ModelConfig.objects.filter(pk=ours.pk, name="Team tiny").exists()


def test_instance_wide_models_cannot_be_changed_by_team_admins(owner_client, team):
    smol = ModelConfig.objects.get(name="SmolLM2-135M-Instruct")
    assert owner_client.get(url("model_detail", team, smol.code)).status_code == 200
    response = owner_client.post(url("model_edit", team, smol.code), VALID_MODEL)
    assert response.status_code == 403
    assert owner_client.post(url("model_delete", team, smol.code)).status_code == 403


def test_another_teams_model_does_not_exist_for_this_team(owner_client, team, theirs):
    assert owner_client.get(url("model_detail", team, theirs.code)).status_code == 404
    assert owner_client.post(url("model_delete", team, theirs.code)).status_code == 404


def test_an_instance_model_not_enabled_for_the_team_is_hidden(owner_client, team):
    hidden = make_model_config(None, name="Not for you")
    assert owner_client.get(url("model_detail", team, hidden.code)).status_code == 404


def test_deleting_a_model_keeps_its_usage(owner_client, team, ours):
    InferenceCall.objects.create(team=team, model=ours, model_name=ours.name, tokens_in=10)
    assert "Delete Team tiny?" in owner_client.get(url("model_delete", team, ours.code)).content.decode()
    response = owner_client.post(url("model_delete", team, ours.code))
    assert response["Location"] == url("model_list", team)
    assert not ModelConfig.objects.filter(pk=ours.pk).exists()
    assert InferenceCall.objects.get().model_name == "Team tiny"


# -- detail and measuring --------------------------------------------------------------------------------


def test_the_detail_page_shows_this_teams_usage_only(viewer_client, team, viewer, theirs):
    smol = ModelConfig.objects.get(name="SmolLM2-135M-Instruct")
    InferenceCall.objects.create(team=team, model=smol, model_name=smol.name, tokens_in=1234, user=viewer)
    InferenceCall.objects.create(team=theirs.team, model=smol, model_name=smol.name, tokens_in=999_999)
    body = viewer_client.get(url("model_detail", team, smol.code)).content.decode()
    assert "1,234" in body and "999,999" not in body
    assert "<svg" in body and "victor" in body


def test_the_detail_page_warns_that_external_data_leaves_and_who_may_use_it(viewer_client, team, hosted):
    body = viewer_client.get(url("model_detail", team, hosted.code)).content.decode()
    assert "leave the organisation" in body and "Only these roles may use it: admin" in body
    assert "You cannot run this model with your role" in body
    assert "OPENAI_API_KEY" in body


def test_model_text_is_escaped(viewer_client, team):
    model = make_model_config(team, name="<script>alert(1)</script>", notes="<b>bold</b>")
    body = viewer_client.get(url("model_detail", team, model.code)).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;b&gt;bold&lt;/b&gt;" in body


def test_a_team_admin_queues_a_measurement(owner_client, team, ours, monkeypatch):
    queued = []
    monkeypatch.setattr(views.tasks, "enqueue_measurement", lambda config, **kw: queued.append((config, kw)))
    response = owner_client.post(url("model_measure", team, ours.code), follow=True)
    assert queued[0][0] == ours and queued[0][1]["team"] == team
    assert "Measuring Team tiny on the cpu queue" in response.content.decode()


def test_measuring_without_a_reachable_queue_says_so(owner_client, team, ours, monkeypatch):
    from kombu.exceptions import OperationalError

    def unreachable(config, **kw):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.tasks, "enqueue_measurement", unreachable)
    response = owner_client.post(url("model_measure", team, ours.code), follow=True)
    assert "The task queue cannot be reached" in response.content.decode()


# -- usage and budget ------------------------------------------------------------------------------------


def calls_this_month(team, model, count=3, tokens=100):
    now = timezone.now()
    InferenceCall.objects.bulk_create(
        InferenceCall(
            team=team,
            model=model,
            model_name=model.name,
            tokens_in=tokens,
            tokens_out=tokens,
            cost=Decimal("0.01"),
            created=now - timedelta(minutes=i),
        )
        for i in range(count)
    )


@pytest.mark.parametrize("persona", ["owner", "viewer", "auditor"])
def test_members_see_the_usage_report(persona, request, as_user, team, ours):
    calls_this_month(team, ours)
    body = as_user(request.getfixturevalue(persona)).get(url("usage", team)).content.decode()
    assert "Team tiny" in body and "600" in body and "<svg" in body
    assert "No monthly limit" in body


def test_the_usage_report_takes_a_fixed_number_of_queries(viewer_client, team, django_assert_max_num_queries):
    for i in range(10):
        calls_this_month(team, make_model_config(team, name=f"M{i}"), count=20)
    with django_assert_max_num_queries(9):
        response = viewer_client.get(url("usage", team))
    assert response.status_code == 200


def test_the_usage_report_shows_the_budget_bar_and_the_refusal(viewer_client, team, ours):
    TeamBudget.objects.create(team=team, monthly_token_limit=500)
    calls_this_month(team, ours)  # 600 tokens
    body = viewer_client.get(url("usage", team)).content.decode()
    assert 'style="width: 100%"' in body
    assert "This team has used 600 of its 500 tokens" in body


def test_an_earlier_month_is_shown_as_an_htmx_fragment(viewer_client, team):
    response = viewer_client.get(url("usage", team), {"month": "2025-01"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and "January 2025" in body and "No model calls in January 2025" in body


def test_a_team_admin_sets_the_budget(owner_client, team):
    response = owner_client.post(
        url("budget_edit", team), {"monthly_token_limit": "2000000", "monthly_cost_limit": ""}
    )
    assert response["Location"] == url("usage", team)
    budget = TeamBudget.objects.get(team=team)
    assert (budget.monthly_token_limit, budget.monthly_cost_limit) == (2_000_000, None)


def test_a_negative_budget_is_refused_with_a_message(owner_client, team):
    response = owner_client.post(
        url("budget_edit", team), {"monthly_token_limit": "-5", "monthly_cost_limit": ""}
    )
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0" in response.content.decode()
    assert not TeamBudget.objects.exists()


@pytest.mark.parametrize("persona", ["editor", "viewer", "auditor"])
def test_only_team_admins_change_the_budget(persona, request, as_user, team):
    client = as_user(request.getfixturevalue(persona))
    assert client.get(url("budget_edit", team)).status_code == 403
    assert client.post(url("budget_edit", team), {"monthly_token_limit": "1"}).status_code == 403
    assert not TeamBudget.objects.exists()


# -- Django admin (site administrators manage instance-wide models) -----------------------------------


@pytest.fixture
def admin_client_(client, db):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_site_admins_see_the_registry_in_the_admin(admin_client_, team, ours, hosted):
    InferenceCall.objects.create(team=team, model=ours, model_name=ours.name)
    TeamBudget.objects.create(team=team, monthly_token_limit=10)
    for path in [
        "/admin/llmcore/modelconfig/",
        "/admin/llmcore/modelconfig/add/",
        f"/admin/llmcore/modelconfig/{hosted.pk}/change/",
        "/admin/llmcore/teambudget/",
        "/admin/llmcore/inferencecall/",
        f"/admin/llmcore/inferencecall/{InferenceCall.objects.get().pk}/change/",
    ]:
        assert admin_client_.get(path).status_code == 200, path


def test_site_admins_add_an_instance_model_enabled_for_one_team(admin_client_, team):
    data = {
        **VALID_MODEL,
        "name": "Shared Qwen",
        "team": "",
        "allowed_roles": [],
        "team_links-TOTAL_FORMS": "1",
        "team_links-INITIAL_FORMS": "0",
        "team_links-0-team": str(team.pk),
    }
    response = admin_client_.post("/admin/llmcore/modelconfig/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    model = ModelConfig.objects.get(name="Shared Qwen")
    assert model.team is None and list(model.team_links.values_list("team__slug", flat=True)) == ["acme"]
    assert model in ModelConfig.objects.available_models(team, "viewer")


def test_the_usage_log_cannot_be_edited_in_the_admin(admin_client_, team, ours):
    call = InferenceCall.objects.create(team=team, model=ours, model_name=ours.name, tokens_in=5)
    admin_client_.post(f"/admin/llmcore/inferencecall/{call.pk}/change/", {"tokens_in": "0"})
    assert admin_client_.get(f"/admin/llmcore/inferencecall/{call.pk}/delete/").status_code == 403
    call.refresh_from_db()
    assert call.tokens_in == 5


def test_the_detail_page_takes_a_fixed_number_of_queries(
    viewer_client, team, viewer, ours, django_assert_max_num_queries
):
    for _ in range(3):
        calls_this_month(team, ours, count=30)
    InferenceCall.objects.filter(team=team).update(user=viewer)
    for seconds in (
        3.0,
        2.0,
        2.5,
    ):  # measured calls: the speed summary and the recent calls are one query each
        ThroughputSample.objects.create(model=ours, batch_size=32, tokens_out=200, seconds=seconds)
    with django_assert_max_num_queries(10):
        response = viewer_client.get(url("model_detail", team, ours.code))
    assert response.content.decode().count("victor") >= 20
