"""`manage.py experiment run|export`: create-or-reuse by content, start, wait, --fail-under, export.

The experiment runs in this process on the stand-in echo engine (`drive`, as test_execution does) right
after the command starts it, so `--wait` finds it generated and scored."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from experiments.models import Dataset, Experiment, PromptTemplate, Status, TestCase
from experiments.services import grid
from tests.experiments.factories import drive, make_model
from tests.factories import make_team, make_user
from tests.llmcore.registry_fakes import install_fake_engine

CASES = [
    {"key": "A", "input": {"ticket": "Please refund my order"}, "expected_label": "billing"},
    {"key": "B", "input": {"ticket": "The app crashes on start"}, "expected_label": "bug"},
]


@pytest.fixture
def engine(monkeypatch):
    return install_fake_engine(monkeypatch)


@pytest.fixture
def eager(monkeypatch, engine):
    """Starting an experiment also runs it here, to the end."""
    real = grid.start_experiment

    def start_and_drive(experiment, user, role):
        started = real(experiment, user, role)
        drive(started.pk)
        return started

    monkeypatch.setattr(grid, "start_experiment", start_and_drive)


@pytest.fixture
def model(team):
    return make_model(team, "Tiny test model")


def write_grid(tmp_path, **overrides):
    data = {
        "name": "Refunds",
        "dataset": {"name": "Refund tickets", "cases": CASES},
        "prompts": [{"name": "Refund?", "instruction": "Topic of: {{ticket}}"}],
        "models": ["Tiny test model"],
        "params": [{"label": "greedy", "temperature": 0, "max_new_tokens": 8}],
        "scorers": [{"name": "contains", "params": {"strings": ["refund"]}}],
    }
    data.update(overrides)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("experiment", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_an_unknown_team_is_named_with_the_teams_there_are(team, tmp_path):
    with pytest.raises(CommandError, match='No team with the slug "nope" \\(teams: acme\\)'):
        run("run", write_grid(tmp_path), "--team", "nope")


def test_run_creates_the_dataset_prompt_and_experiment_and_starts_it(team, model, tmp_path):
    out, _ = run("run", write_grid(tmp_path), "--team", "acme")

    experiment = Experiment.objects.get(team=team)
    assert experiment.status == Status.QUEUED and experiment.runs.count() == 1
    assert experiment.dataset.name == "Refund tickets" and experiment.dataset.cases.count() == 2
    assert list(experiment.model_configs.all()) == [model]
    assert experiment.scorers[0]["name"] == "contains" and experiment.param_sets[0]["label"] == "greedy"
    assert "dataset 'Refund tickets': created (2 new" in out
    assert "prompt Refund? v1: created" in out
    assert f"experiment {experiment.code} started: 1 run, 2 outputs" in out


def test_running_the_same_file_again_reuses_the_dataset_and_prompt_version_and_makes_a_new_experiment(
    team, model, tmp_path
):
    path = write_grid(tmp_path)
    run("run", path, "--team", "acme")
    out, _ = run("run", path, "--team", "acme")

    assert Dataset.objects.filter(team=team).count() == 1
    template = PromptTemplate.objects.get(team=team)
    assert template.versions.count() == 1
    first, second = Experiment.objects.filter(team=team).order_by("id")
    assert first.snapshot_id == second.snapshot_id  # nothing changed: the same snapshot of the cases
    assert set(first.prompt_versions.all()) == set(second.prompt_versions.all())
    assert "dataset 'Refund tickets': reused (0 new, 0 changed, 2 unchanged, 0 removed cases)" in out
    assert "prompt Refund? v1: reused" in out


def test_a_changed_file_versions_what_changed_and_removes_cases_it_no_longer_lists(team, model, tmp_path):
    run("run", write_grid(tmp_path), "--team", "acme")
    cases = [
        {"key": "A", "input": {"ticket": "Please refund my order now"}},
        {"key": "C", "input": {"ticket": "Where is my parcel"}},
    ]
    prompts = [{"name": "Refund?", "instruction": "Topic or not? {{ticket}}"}]
    out, _ = run(
        "run", write_grid(tmp_path, dataset={"name": "Refund tickets", "cases": cases}, prompts=prompts),
        "--team", "acme",
    )  # fmt: skip

    assert "(1 new, 1 changed, 0 unchanged, 1 removed cases)" in out
    assert "prompt Refund? v2: created" in out
    dataset = Dataset.objects.get(team=team)
    assert set(
        TestCase.objects.filter(dataset=dataset, removed__isnull=True).values_list("key", flat=True)
    ) == {
        "A",
        "C",
    }
    first, second = Experiment.objects.filter(team=team).order_by("id")
    assert first.snapshot.case_count == second.snapshot.case_count == 2
    assert first.snapshot_id != second.snapshot_id


def test_an_unknown_model_saves_nothing_and_lists_the_models_there_are(team, model, tmp_path):
    with pytest.raises(CommandError, match="1 error in .*grid.yaml; nothing was saved"):
        call_command(
            "experiment", "run", str(write_grid(tmp_path, models=["GPT-9"])), "--team", "acme",
            stderr=(err := io.StringIO()),
        )  # fmt: skip
    assert "models[0]: unknown model 'GPT-9' for the team acme (its models: " in err.getvalue()
    assert "Tiny test model" in err.getvalue()
    assert not Dataset.objects.filter(team=team).exists()
    assert not Experiment.objects.filter(team=team).exists()


def test_file_errors_are_each_printed_with_the_path(team, model, tmp_path):
    path = write_grid(tmp_path, scorers=[{"name": "vibes"}], repeats=11)
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 errors in"):
        call_command("experiment", "run", str(path), "--team", "acme", stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{path}: scorers[0].name: unknown scorer")
    assert lines[1] == f"{path}: repeats: must be a whole number from 1 to 10, got 11"


def test_a_model_of_another_team_is_unknown_here(team, tmp_path):
    make_model(make_team("Other", "other"), "Tiny test model")
    with pytest.raises(CommandError, match="nothing was saved"):
        run("run", write_grid(tmp_path), "--team", "acme")


def test_wait_prints_the_results_table(team, model, eager, tmp_path):
    out, _ = run("run", write_grid(tmp_path), "--team", "acme", "--wait", "--poll", "0.01")

    assert "done: 2/2 outputs (100%)" in out
    header, row = out.splitlines()[-2:]
    assert header.split()[:4] == ["run", "status", "outputs", "errors"]
    assert "Refund? v1 × Tiny test model × greedy" in row
    assert "2/2" in row and "50% (1/2)" in row


def test_fail_under_exits_non_zero_when_a_run_passes_less(team, model, eager, tmp_path):
    path = write_grid(tmp_path)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 runs below --fail-under 0.9") as caught:
        call_command(
            "experiment", "run", str(path), "--team", "acme", "--wait", "--fail-under", "0.9", stderr=err,
            stdout=io.StringIO(),
        )  # fmt: skip
    assert caught.value.returncode == 1
    assert "Refund? v1 × Tiny test model × greedy: pass rate 50.0% is below 90.0%" in err.getvalue()


def test_fail_under_passes_when_every_run_reaches_it(team, model, eager, tmp_path):
    out, _ = run("run", write_grid(tmp_path), "--team", "acme", "--wait", "--fail-under", "0.5")
    assert out.rstrip().endswith("every run passes at least 50%")


def test_fail_under_fails_a_run_nothing_decided(team, model, eager, tmp_path):
    with pytest.raises(CommandError, match="below --fail-under"):
        run("run", write_grid(tmp_path, scorers=[]), "--team", "acme", "--wait", "--fail-under", "0.1")


def test_fail_under_needs_wait_and_a_rate_between_0_and_1(team, model, tmp_path):
    with pytest.raises(CommandError, match="--fail-under needs --wait"):
        run("run", write_grid(tmp_path), "--team", "acme", "--fail-under", "0.9")
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("run", write_grid(tmp_path), "--team", "acme", "--wait", "--fail-under", "90")
    assert not Experiment.objects.exists()


def test_wait_gives_up_after_the_timeout_and_says_the_experiment_goes_on(team, model, tmp_path):
    with pytest.raises(CommandError, match="is not finished after 0 s"):
        run("run", write_grid(tmp_path), "--team", "acme", "--wait", "--timeout", "0", "--poll", "0")
    assert Experiment.objects.get().status == Status.QUEUED


def test_acting_as_a_member_needs_an_editor_or_admin(team, model, tmp_path):
    make_user("vic", team=team, role="viewer")
    editor = make_user("eddie", team=team, role="editor")
    make_user("stan")
    with pytest.raises(CommandError, match="vic is a viewer of acme: only editors and admins"):
        run("run", write_grid(tmp_path), "--team", "acme", "--user", "vic")
    with pytest.raises(CommandError, match='No member "stan" in the team acme'):
        run("run", write_grid(tmp_path), "--team", "acme", "--user", "stan")
    run("run", write_grid(tmp_path), "--team", "acme", "--user", "eddie")
    experiment = Experiment.objects.get()
    assert experiment.created_by == experiment.started_by == editor


def test_export_json_has_the_grid_the_run_summaries_and_every_output(team, model, eager, tmp_path):
    run("run", write_grid(tmp_path), "--team", "acme", "--wait")
    experiment = Experiment.objects.get()
    out, _ = run("export", experiment.code, "--format", "json")

    document = json.loads(out)
    assert document["schema"] == "assay.experiment-results/1"
    assert document["experiment"]["code"] == str(experiment.code)
    assert document["experiment"]["status"] == "done"
    assert document["experiment"]["scorers"][0]["name"] == "contains"
    (summary,) = document["runs"]
    assert (summary["generated"], summary["passed"], summary["decided"], summary["pass_rate"]) == (
        2,
        1,
        2,
        0.5,
    )
    assert 0 < summary["pass_low"] < 0.5 < summary["pass_high"] < 1
    assert summary["label"] == "Refund? v1 × Tiny test model × greedy"
    outputs = {g["case"]: g for g in document["generations"]}
    assert set(outputs) == {"A", "B"}
    assert outputs["A"]["passed"] is True and outputs["B"]["passed"] is False
    assert outputs["A"]["output"].startswith("echo: Topic of: Please refund my order")
    assert outputs["A"]["scores"][0]["scorer"] == "contains"
    assert outputs["A"]["schema"] == "assay.generations/1"


def test_export_writes_a_file_in_each_format(team, model, eager, tmp_path):
    run("run", write_grid(tmp_path), "--team", "acme", "--wait")
    code = Experiment.objects.get().code
    for fmt in ("json", "jsonl", "csv"):
        target = tmp_path / f"results.{fmt}"
        _, err = run("export", code, "--team", "acme", "--format", fmt, "--output", target)
        assert err.strip() == f"wrote {target}"
    assert len(json.loads((tmp_path / "results.json").read_text())["generations"]) == 2
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].endswith("input.ticket,score.1.contains")


def test_export_refuses_an_unknown_code_and_an_experiment_of_another_team(team, model, tmp_path):
    run("run", write_grid(tmp_path), "--team", "acme")
    code = Experiment.objects.get().code
    make_team("Other", "other")
    with pytest.raises(CommandError, match=f"No experiment {code} in the team other"):
        run("export", code, "--team", "other")
    with pytest.raises(CommandError, match="is not an experiment code"):
        run("export", "not-a-code")
    with pytest.raises(CommandError, match='No team with the slug "nope"'):
        run("export", code, "--team", "nope")


def test_an_llm_judge_must_name_a_model_of_the_team(team, model, tmp_path):
    judge = {"name": "llm_judge", "params": {"judge_model": "Nobody", "rubric": "It is polite."}}
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was saved"):
        call_command(
            "experiment", "run", str(write_grid(tmp_path, scorers=[judge])), "--team", "acme", stderr=err
        )
    assert "scorers[0].params.judge_model: unknown model 'Nobody' for the team acme" in err.getvalue()


def test_the_default_model_is_used_when_the_file_names_none(team, tmp_path):
    from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models

    enable_default_models(team)
    run("run", write_grid(tmp_path, models=None), "--team", "acme")
    assert [m.name for m in Experiment.objects.get().model_configs.all()] == [DEFAULT_GENERATOR_NAME]


def test_wait_exits_non_zero_when_the_experiment_failed(team, model, monkeypatch, tmp_path):
    from llmcore.engine.types import ModelUnavailable

    def missing(spec, requests, batch_size=None):
        raise ModelUnavailable(
            "No model files in /models/tiny: register a folder that exists on the workers."
        )

    install_fake_engine(monkeypatch, missing)
    real = grid.start_experiment
    monkeypatch.setattr(grid, "start_experiment", lambda e, u, r: (real(e, u, r), drive(e.pk))[0])
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="ended failed: Every run failed"):
        call_command(
            "experiment", "run", str(write_grid(tmp_path)), "--team", "acme", "--wait", stdout=out, stderr=err
        )
    assert "failed" in out.getvalue().splitlines()[-1]  # the table is printed first
    assert "Refund? v1 × Tiny test model × greedy: failed: No model files in /models/tiny" in err.getvalue()
