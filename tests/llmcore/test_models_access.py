"""Which models a team, and a role within it, may use."""

from __future__ import annotations

from llmcore.models import ModelConfig, TeamModel
from tests.factories import make_model_config, make_team


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


def restrict_defaults_to_chosen_teams() -> None:
    ModelConfig.objects.filter(team=None).update(available_to_all_teams=False)


def test_a_team_sees_its_own_models_and_the_instance_models_enabled_for_it(team):
    restrict_defaults_to_chosen_teams()
    other = make_team("Other", "other")
    make_model_config(team, name="Ours")
    make_model_config(other, name="Theirs")
    enabled = make_model_config(None, name="Enabled for us")
    make_model_config(None, name="Not enabled")
    make_model_config(None, name="For everyone", available_to_all_teams=True)
    TeamModel.objects.create(team=team, model=enabled)

    assert names(ModelConfig.objects.available_models(team, "viewer")) == {
        "Ours",
        "Enabled for us",
        "For everyone",
    }
    assert names(ModelConfig.objects.available_models(other, "viewer")) == {"Theirs", "For everyone"}


def test_inactive_models_are_listed_for_the_team_but_not_available(team):
    restrict_defaults_to_chosen_teams()
    make_model_config(team, name="Retired", is_active=False)
    assert names(ModelConfig.objects.for_team(team)) == {"Retired"}
    assert names(ModelConfig.objects.available_models(team, "admin")) == set()


def test_external_models_honour_their_role_list(team):
    restrict_defaults_to_chosen_teams()
    make_model_config(
        team, name="Hosted for admins", external=True, allowed_roles="editor,admin", open_weights=False
    )
    make_model_config(team, name="Hosted for all", external=True)
    make_model_config(team, name="Local")

    assert names(ModelConfig.objects.available_models(team, "admin")) == {
        "Hosted for admins",
        "Hosted for all",
        "Local",
    }
    assert names(ModelConfig.objects.available_models(team, "editor")) == {
        "Hosted for admins",
        "Hosted for all",
        "Local",
    }
    assert names(ModelConfig.objects.available_models(team, "viewer")) == {"Hosted for all", "Local"}
    assert names(ModelConfig.objects.available_models(team, "auditor")) == {"Hosted for all", "Local"}


def test_an_instance_model_enabled_for_many_teams_is_listed_once(team):
    restrict_defaults_to_chosen_teams()
    shared = make_model_config(None, name="Shared")
    for i in range(3):
        TeamModel.objects.create(team=make_team(f"T{i}", f"t{i}"), model=shared)
    TeamModel.objects.create(team=team, model=shared)
    assert list(ModelConfig.objects.available_models(team, "viewer").values_list("name", flat=True)) == [
        "Shared"
    ]


def test_available_models_is_one_query(team, django_assert_num_queries):
    for i in range(5):
        make_model_config(team, name=f"M{i}", external=True, allowed_roles="admin")
    with django_assert_num_queries(1):
        list(ModelConfig.objects.available_models(team, "editor"))
