from __future__ import annotations

import re

import pytest
from django.urls import reverse

from experiments.importing import CaseData
from experiments.models import Experiment, Generation, Run, Status
from experiments.services.datasets import edit_case
from experiments.services.grid import start_experiment
from llmcore.models import TeamBudget
from tests.experiments.factories import drive, make_dataset, make_experiment, make_model, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine


def url(name, team, *args):
    return reverse(f"experiments:{name}", args=[team.slug, *args])


@pytest.fixture
def grid(team, owner):
    dataset = make_dataset(team, cases=3, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    model = make_model(team, measured_tokens_per_s=50.0)
    return dataset, version, model


def builder_post(grid, **overrides):
    dataset, version, model = grid
    data = {
        "name": "Ticket topics",
        "description": "",
        "dataset": dataset.pk,
        "prompt_versions": [version.pk],
        "model_configs": [model.pk],
        "repeats": 2,
        "reuse_cached": "on",
        "params-TOTAL_FORMS": 3,
        "params-INITIAL_FORMS": 0,
        "params-0-label": "greedy",
        "params-0-temperature": "0",
        "params-0-max_new_tokens": "10",
        "scorers-TOTAL_FORMS": 3,
        "scorers-INITIAL_FORMS": 0,
        "scorers-0-name": "label_match",
        "scorers-0-params": '{"labels": ["billing", "bug"]}',
        "scorers-0-threshold": "",
        "scorers-0-weight": "1",
    }
    data.update(overrides)
    return data


@pytest.fixture
def started(team, owner, grid, monkeypatch, django_capture_on_commit_callbacks):
    install_fake_engine(monkeypatch)
    dataset, version, model = grid
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model])
    with django_capture_on_commit_callbacks(execute=False):
        start_experiment(experiment, owner, "admin")
    return experiment


def test_the_experiment_list_is_for_members_only(
    team, started, as_user, viewer, stranger, django_assert_max_num_queries
):
    client = as_user(viewer)
    with django_assert_max_num_queries(6):
        response = client.get(url("experiment_list", team))
    assert response.status_code == 200 and "Ticket topics" in response.text
    assert as_user(stranger).get(url("experiment_list", team)).status_code == 404
    assert as_user(stranger).get(url("experiment_detail", team, started.code)).status_code == 404
    assert as_user(stranger).get(url("run_detail", team, started.runs.get().code)).status_code == 404


def test_an_editor_saves_a_grid_as_a_draft_with_its_parameter_sets_and_scorers(team, grid, editor, as_user):
    response = as_user(editor).post(url("experiment_create", team), builder_post(grid))
    experiment = Experiment.objects.get()
    assert response.status_code == 302
    assert experiment.status == Status.DRAFT and experiment.repeats == 2
    assert experiment.param_sets[0]["label"] == "greedy"
    assert experiment.param_sets[0]["params"]["max_new_tokens"] == 10
    assert experiment.scorers[0]["name"] == "label_match" and experiment.scorers[0]["params"]["labels"] == [
        "billing",
        "bug",
    ]


def test_viewers_get_403_and_strangers_404_on_every_experiment_write(
    team, grid, started, viewer, stranger, as_user
):
    for user, status in ((viewer, 403), (stranger, 404)):
        client = as_user(user)
        assert client.post(url("experiment_create", team), builder_post(grid)).status_code in {
            status,
            403 if user == viewer else 404,
        }
        for name in (
            "experiment_start",
            "experiment_cancel",
            "experiment_copy",
            "experiment_delete",
            "experiment_edit",
        ):
            assert client.post(url(name, team, started.code)).status_code == status, name
    assert Experiment.objects.count() == 1
    assert Run.objects.get().status == Status.QUEUED


def test_invalid_parameters_are_shown_on_their_field(team, grid, owner, as_user):
    response = as_user(owner).post(
        url("experiment_create", team),
        builder_post(
            grid, **{"params-0-temperature": "hot", "params-0-top_p": "0", "params-1-max_new_tokens": "9999"}
        ),
    )
    assert response.status_code == 200
    assert "must be a number between 0 and 2, got &#x27;hot&#x27;" in response.text
    assert "must be a number greater than 0 (at most 1), got &#x27;0&#x27;" in response.text
    assert "between 1 and 4096, got &#x27;9999&#x27;" in response.text
    assert "Name this parameter set" in response.text
    assert not Experiment.objects.exists()


def test_invalid_scorer_parameters_name_the_parameter(team, grid, owner, as_user):
    response = as_user(owner).post(
        url("experiment_create", team), builder_post(grid, **{"scorers-0-params": "{}"})
    )
    assert "labels: is required" in response.text
    assert not Experiment.objects.exists()


def test_the_builder_shows_the_count_time_and_cost_before_saving(team, grid, owner, as_user):
    response = as_user(owner).post(
        url("experiment_create", team), {**builder_post(grid), "estimate": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.text.strip().startswith('<div id="estimate"')
    # 1 prompt × 1 model × 1 parameter set × 3 cases × 2 repeats; 60 tokens at 50 tokens/s
    assert (
        "1 run (prompt versions × models × parameter sets) × 3 cases × 2 repeats = 6 generations"
        in response.text
    )
    assert "about 1 s" in response.text
    assert not Experiment.objects.exists()


def test_the_draft_page_shows_the_estimate_and_a_start_button(
    team, grid, owner, as_user, django_assert_max_num_queries
):
    dataset, version, model = grid
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model], repeats=2)
    client = as_user(owner)
    with django_assert_max_num_queries(12):
        response = client.get(url("experiment_detail", team, experiment.code))
    assert "= 6 generations" in response.text
    assert "Start experiment" in response.text


def test_starting_from_the_page_queues_the_runs(
    team, grid, owner, as_user, django_capture_on_commit_callbacks
):
    dataset, version, model = grid
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = as_user(owner).post(url("experiment_start", team, experiment.code), follow=True)
    assert "Started: 1 run queued." in response.text
    assert len(callbacks) == 1
    assert Run.objects.get().status == Status.QUEUED


def test_a_spent_budget_is_explained_when_starting(team, grid, owner, as_user):
    TeamBudget.objects.create(team=team, monthly_token_limit=0)
    dataset, version, model = grid
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model])
    response = as_user(owner).post(url("experiment_start", team, experiment.code), follow=True)
    assert "ask an admin to raise the budget" in response.text
    assert not Run.objects.exists()


def test_progress_polls_while_running_and_reloads_the_page_once_finished(
    team, started, viewer, as_user, django_assert_max_num_queries
):
    client = as_user(viewer)
    running = client.get(url("experiment_detail", team, started.code), HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert 'hx-trigger="every 2s"' in running.text and "0 / 3" in running.text
    assert "<html" not in running.text
    assert "badge-status-queued" in running.text  # the status lives in the polled fragment
    assert "<title>0% · " in running.text  # the browser tab says how far it is

    drive(started.pk)
    with django_assert_max_num_queries(6):
        finished = client.get(url("experiment_detail", team, started.code), HTTP_HX_REQUEST="true")
    # Status badge, Cancel button and results all change: the whole page is loaded again, once.
    assert finished.status_code == 200 and finished.headers["HX-Refresh"] == "true"
    page = client.get(url("experiment_detail", team, started.code)).text
    assert "hx-trigger" not in page and "3 / 3" in page and "<title>Done · " in page
    assert ">Cancel</button>" not in page


def test_the_page_keeps_polling_until_every_output_is_scored(
    team, owner, grid, as_user, monkeypatch, django_capture_on_commit_callbacks
):
    from experiments import execution, scoring

    install_fake_engine(monkeypatch)
    dataset, version, model = grid
    experiment = make_experiment(
        team,
        owner,
        dataset=dataset,
        prompts=[version],
        models=[model],
        scorers=[{"name": "contains", "params": {"strings": ["echo"]}, "threshold": 1.0, "weight": 1.0}],
    )
    with django_capture_on_commit_callbacks(execute=False):
        start_experiment(experiment, owner, "admin")
    plan = execution.plan_experiment(experiment.pk)
    outcomes = [execution.generate_batch(batch_id, worker="test") for batch_id, _ in plan.batches]
    client = as_user(owner)
    fragment = client.get(url("experiment_detail", team, experiment.code), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "HX-Refresh" not in fragment.headers
    assert (
        "0 / 3" in fragment.text and "scoring…" in fragment.text and 'hx-trigger="every 2s"' in fragment.text
    )

    for outcome in outcomes:
        scoring.score_generations(outcome.run_id, outcome.generation_ids)
    done = client.get(url("experiment_detail", team, experiment.code), HTTP_HX_REQUEST="true")
    assert done.headers["HX-Refresh"] == "true"


def test_the_run_page_shows_outputs_while_running_and_polls(team, owner, started, viewer, as_user):
    from experiments import execution

    plan = execution.plan_experiment(started.pk)
    run = started.runs.get()
    Generation.objects.create(
        run=run,
        case_version=started.snapshot.case_versions.first(),
        repeat=0,
        text="first output",
        cache_key="k",
    )
    client = as_user(viewer)
    page = client.get(url("run_detail", team, run.code))
    assert "first output" in page.text and 'hx-trigger="every 2s"' in page.text
    fragment = client.get(url("run_detail", team, run.code), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "first output" in fragment.text
    assert plan.batches


def test_model_output_is_escaped_on_the_run_page(
    team, owner, grid, monkeypatch, as_user, django_capture_on_commit_callbacks
):
    from llmcore.engine.types import FinishReason, GenerationResult

    install_fake_engine(
        monkeypatch,
        lambda spec, requests, batch_size=None: [
            GenerationResult(r.key, "<script>alert('x')</script>", FinishReason.STOP, 3, 3, 0.1)
            for r in requests
        ],
    )
    dataset, version, model = grid
    experiment = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model])
    with django_capture_on_commit_callbacks(execute=False):
        start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    response = as_user(owner).get(url("run_detail", team, experiment.runs.get().code))
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in response.text


def test_an_old_run_shows_the_case_version_it_ran_on(
    team, owner, started, as_user, django_assert_max_num_queries
):
    drive(started.pk)
    case = started.dataset.cases.get(key="T-001")
    edit_case(case, owner, CaseData(key="T-001", inputs={"ticket": "Edited after the run"}))
    client = as_user(owner)
    with django_assert_max_num_queries(13):  # a constant; ambiguous outputs add one
        response = client.get(url("run_detail", team, started.runs.get().code))
    assert "Ticket number 1" in response.text
    assert "Edited after the run" not in response.text


def test_cancel_and_copy_from_the_page(team, owner, started, as_user):
    client = as_user(owner)
    response = client.post(url("experiment_cancel", team, started.code), follow=True)
    assert "Cancelled 1 run" in response.text
    assert Run.objects.get().status == Status.CANCELLED
    response = client.post(url("experiment_copy", team, started.code))
    copy = Experiment.objects.exclude(pk=started.pk).get()
    assert copy.status == Status.DRAFT and copy.name == "Ticket topics (again)"
    assert response.url == url("experiment_detail", team, copy.code)


def test_only_drafts_can_be_edited_or_deleted(team, owner, grid, started, as_user):
    client = as_user(owner)
    assert client.get(url("experiment_edit", team, started.code)).status_code == 302
    client.post(url("experiment_delete", team, started.code))
    assert Experiment.objects.filter(pk=started.pk).exists()
    dataset, version, model = grid
    draft = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model], name="Draft")
    assert client.get(url("experiment_edit", team, draft.code)).status_code == 200
    client.post(url("experiment_delete", team, draft.code))
    assert not Experiment.objects.filter(pk=draft.pk).exists()


def test_editing_a_draft_keeps_its_grid_in_the_form(team, owner, grid, as_user):
    dataset, version, model = grid
    draft = make_experiment(team, owner, dataset=dataset, prompts=[version], models=[model], repeats=4)
    response = as_user(owner).get(url("experiment_edit", team, draft.code))
    assert 'name="repeats" value="4"' in response.text
    assert 'value="greedy"' in response.text
    response = as_user(owner).post(url("experiment_edit", team, draft.code), builder_post(grid, repeats=5))
    draft.refresh_from_db()
    assert draft.repeats == 5 and Experiment.objects.count() == 1


def test_whoever_started_a_long_experiment_is_told_on_the_next_page_when_it_ends(
    team, owner, viewer, grid, as_user, monkeypatch, django_capture_on_commit_callbacks
):
    install_fake_engine(monkeypatch)
    dataset, version, model = grid
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[version], models=[model], name="<b>Long</b>"
    )
    client = as_user(owner)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(url("experiment_start", team, experiment.code))
    home = client.get(reverse("team_home", args=[team.slug])).text
    assert "finished" not in home  # still running: no notice

    drive(experiment.pk)
    home = client.get(reverse("team_home", args=[team.slug])).text
    link = url("experiment_detail", team, experiment.code)
    assert f'Experiment <a href="{link}">&lt;b&gt;Long&lt;/b&gt;</a> finished.' in home
    assert "finished." not in client.get(reverse("team_home", args=[team.slug])).text  # told once
    # Someone who did not start it is not told.
    assert "finished." not in as_user(viewer).get(reverse("team_home", args=[team.slug])).text


def test_the_builder_names_parameters_as_people_know_them_with_presets_and_the_default_model_ticked(
    team, grid, owner, as_user
):
    from llmcore.seed import enable_default_models

    default = next(m for m in enable_default_models(team) if m.name == "SmolLM2-135M-Instruct")
    page = as_user(owner).get(url("experiment_create", team)).text
    for label in (
        "Temperature",
        "Max new tokens",
        "Top-p",
        "Top-k",
        "Repetition penalty",
        "Seed",
        "Timeout (s)",
    ):
        assert f">{label}</label>" in page
    assert "maxnewtokens" not in page.lower() and "longest output, 1–4096 tokens" in page
    assert ">Deterministic</button>" in page and ">Creative</button>" in page
    ticked = re.findall(r'<input type="checkbox" name="model_configs" value="(\d+)"[^>]* checked>', page)
    assert ticked == [str(default.pk)]
    assert "uses {{ticket}}" in page  # each prompt version says which inputs it needs


def test_a_prompt_version_the_dataset_cannot_fill_is_refused_when_saving(team, grid, owner, as_user):
    dataset, version, model = grid
    notes = make_dataset(team, name="Call notes", cases=2, author=owner)
    from experiments.models import TestCaseVersion

    TestCaseVersion.objects.filter(case__dataset=notes).update(inputs={"notes": "called about a bill"})
    response = as_user(owner).post(url("experiment_create", team), builder_post(grid, dataset=notes.pk))
    assert response.status_code == 200
    assert (
        "Ticket topic v1 uses {{ticket}}, which not every case of “Call notes” has (their inputs: notes)"
        in response.text
    )
    assert not Experiment.objects.exists()


def test_a_try_out_runs_a_few_cases_and_shows_their_outputs_and_scores_before_saving(
    team, grid, owner, viewer, stranger, as_user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from experiments import execution, scoring

    install_fake_engine(monkeypatch)
    settings.ASSAY_TRIAL_CASES = 2
    client = as_user(owner)
    data = builder_post(
        grid, **{"trial": "1", "scorers-0-name": "contains", "scorers-0-params": '{"strings": ["echo"]}'}
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url("experiment_create", team), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response.text.strip().startswith('<div id="trial"')
    assert "running on a worker" in response.text and 'hx-trigger="every 1s"' in response.text
    trial = Experiment.objects.get()
    assert trial.trial and trial.runs.get().total == 2  # 2 of the 3 cases, one repeat

    plan = execution.plan_experiment(trial.pk)
    for batch_id, _ in plan.batches:
        outcome = execution.generate_batch(batch_id, worker="test")
        scoring.score_generations(outcome.run_id, outcome.generation_ids)
    polled = client.get(url("experiment_trial", team, trial.code), HTTP_HX_REQUEST="true")
    assert polled.status_code == 286  # done: polling stops
    assert polled.text.count("echo: Topic of this ticket") == 2 and "pass" in polled.text

    # Not an experiment of the team's list, and not for strangers or viewers.
    assert "Try-out" not in client.get(url("experiment_list", team)).text
    assert as_user(stranger).get(url("experiment_trial", team, trial.code)).status_code == 404
    viewer_response = as_user(viewer).post(url("experiment_create", team), data, HTTP_HX_REQUEST="true")
    assert viewer_response.status_code == 403 and Experiment.objects.count() == 1


def test_a_try_out_with_an_invalid_grid_says_so_in_its_place(team, grid, owner, as_user):
    data = builder_post(grid, **{"trial": "1", "params-0-temperature": "hot"})
    response = as_user(owner).post(url("experiment_create", team), data, HTTP_HX_REQUEST="true")
    assert (
        response.text.strip().startswith('<div id="trial"') and "The grid above has errors" in response.text
    )
    assert not Experiment.objects.exists()
