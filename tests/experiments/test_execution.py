"""Running experiments in-process against a stand-in engine: planning, idempotency, cancel, cache."""

from __future__ import annotations

import pytest

from experiments import execution, scoring
from experiments.importing import CaseData
from experiments.models import Generation, Run, RunBatch, Score, Status
from experiments.services import datasets, grid
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import FinishReason, GenerationResult, ModelUnavailable
from llmcore.models import InferenceCall, TeamBudget
from llmcore.services import BudgetExceeded
from tests.experiments.factories import drive, make_dataset, make_experiment, make_model, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine


@pytest.fixture
def engine(monkeypatch):
    return install_fake_engine(monkeypatch)


def start(experiment, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grid.start_experiment(experiment, user, "admin")
    assert len(callbacks) == 1  # the orchestrator, enqueued once the runs are committed
    return experiment


def items_per_run(run) -> list[tuple[int, int]]:
    return sorted(Generation.objects.filter(run=run).values_list("case_version_id", "repeat"))


def test_starting_creates_one_queued_run_per_cell_of_the_grid(
    team, owner, django_capture_on_commit_callbacks
):
    dataset = make_dataset(team, cases=5, author=owner)
    v1 = make_prompt(team, dataset=dataset, author=owner).versions.get()
    v2 = make_prompt(team, dataset=dataset, name="Other", instruction="Label: {{ticket}}").versions.get()
    models = [make_model(team, "A"), make_model(team, "B", device="cuda")]
    params = [
        grid.ParamSet("greedy", InferenceParams()),
        grid.ParamSet("warm", InferenceParams(temperature=0.7)),
    ]
    experiment = make_experiment(team, owner, dataset, [v1, v2], models, params, repeats=3)

    start(experiment, owner, django_capture_on_commit_callbacks)

    runs = Run.objects.filter(experiment=experiment)
    assert runs.count() == 2 * 2 * 2
    assert set(runs.values_list("status", flat=True)) == {Status.QUEUED}
    assert set(runs.values_list("total", flat=True)) == {5 * 3}
    assert set(runs.values_list("queue", flat=True)) == {"cpu", "gpu"}
    experiment.refresh_from_db()
    assert experiment.status == Status.QUEUED and experiment.snapshot.case_count == 5


def test_a_run_generates_one_output_per_case_and_repeat_and_finishes(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner, repeats=2), owner, django_capture_on_commit_callbacks)
    drive(experiment.pk)

    run = experiment.runs.get()
    assert run.status == Status.DONE
    assert Generation.objects.filter(run=run).count() == 3 * 2
    assert len(engine) == 1  # one engine call for the whole batch
    text = Generation.objects.filter(run=run).order_by("id").first().text
    assert text.startswith("echo: Topic of this ticket: Ticket number")
    experiment.refresh_from_db()
    assert experiment.status == Status.DONE and experiment.finished is not None
    assert InferenceCall.objects.filter(team=team, purpose="experiment").count() == 6


def test_running_the_batch_task_twice_keeps_exactly_one_output_per_item(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner, repeats=2), owner, django_capture_on_commit_callbacks)
    plan = execution.plan_experiment(experiment.pk)
    ((batch_id, _),) = plan.batches

    first = execution.generate_batch(batch_id, worker="w1")
    second = execution.generate_batch(batch_id, worker="w2", redelivered=True)

    assert (first.status, second.status) == ("generated", "skipped")
    run = experiment.runs.get()
    assert len(items_per_run(run)) == len(set(items_per_run(run))) == 6
    assert len(engine) == 1


def test_a_redelivered_batch_whose_worker_died_is_taken_over_and_skips_what_was_written(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner, repeats=2), owner, django_capture_on_commit_callbacks)
    ((batch_id, _),) = execution.plan_experiment(experiment.pk).batches
    batch = RunBatch.objects.get(pk=batch_id)
    # The first worker claimed the batch, wrote two outputs, then was killed.
    assert execution.claim_batch(batch, redelivered=False, worker="dead") == 1
    run = experiment.runs.get()
    cv, repeat = batch.items[0]
    Generation.objects.create(
        run=run, case_version_id=cv, repeat=repeat, text="before the crash", cache_key="x"
    )

    # A duplicate message that is not a redelivery leaves the claimed batch alone...
    assert execution.generate_batch(batch_id, worker="other").status == "skipped"
    # ...the broker's redelivery takes it over and generates only the missing items.
    outcome = execution.generate_batch(batch_id, worker="new", redelivered=True)

    assert outcome.status == "generated"
    assert len(engine[0][1]) == 5
    assert len(items_per_run(run)) == len(set(items_per_run(run))) == 6
    assert Generation.objects.get(run=run, case_version_id=cv, repeat=repeat).text == "before the crash"
    batch.refresh_from_db()
    assert (batch.status, batch.attempts, batch.worker) == (Status.DONE, 2, "new")
    assert Run.objects.get(pk=run.pk).status == Status.DONE


def test_the_orchestrator_can_run_again_without_duplicating_batches(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    first = execution.plan_experiment(experiment.pk)
    second = execution.plan_experiment(experiment.pk)
    assert first.batches == second.batches  # the queued batch is re-sent, not re-planned
    assert RunBatch.objects.count() == 1


def test_cancel_stops_between_batches(
    team, owner, engine, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ASSAY_EXPERIMENT_BATCH_ITEMS = 2
    experiment = start(
        make_experiment(team, owner, dataset=make_dataset(team, cases=6, author=owner)),
        owner,
        django_capture_on_commit_callbacks,
    )
    batches = execution.plan_experiment(experiment.pk).batches
    assert len(batches) == 3
    execution.generate_batch(batches[0][0], worker="w")

    assert grid.cancel_experiment(experiment, owner) == 1
    later = [execution.generate_batch(batch_id, worker="w").status for batch_id, _ in batches[1:]]

    assert later == ["skipped", "skipped"]  # their batches were cancelled while queued
    assert len(engine) == 1
    run = experiment.runs.get()
    assert run.status == Status.CANCELLED and Generation.objects.filter(run=run).count() == 2
    experiment.refresh_from_db()
    assert experiment.status == Status.CANCELLED and "Cancelled by olivia" in experiment.message


def one_at_a_time(during=None):
    """A stand-in engine that finishes one request at a time and reports each as it finishes, asking
    about a cancel in between, as the real engine does every step; during(n) runs after the n-th."""
    from tests.llmcore.registry_fakes import echo_generate

    def generate(spec, requests, batch_size=None, progress=None):
        results = []
        for number, request in enumerate(requests, start=1):
            if progress is not None and progress.cancelled():
                results.append(GenerationResult(request.key, "", FinishReason.CANCELLED))
                continue
            (result,) = echo_generate(spec, [request])
            results.append(result)
            if progress is not None:
                progress.report([result])
            if during is not None:
                during(number)
        return results

    return generate


def test_outputs_are_saved_and_handed_to_scoring_while_the_batch_is_still_generating(
    team, owner, engine, monkeypatch, django_capture_on_commit_callbacks
):
    from llmcore.engine import runtime

    experiment = start(
        make_experiment(team, owner, dataset=make_dataset(team, cases=4, author=owner)),
        owner,
        django_capture_on_commit_callbacks,
    )
    ((batch_id, _queue),) = execution.plan_experiment(experiment.pk).batches
    saved_while_running: list[int] = []
    monkeypatch.setattr(
        runtime,
        "generate",
        one_at_a_time(
            lambda n: saved_while_running.append(
                Generation.objects.filter(run__experiment=experiment).count()
            )
        ),
    )
    handed: list[list[int]] = []

    outcome = execution.generate_batch(batch_id, worker="w", on_saved=lambda run_id, ids: handed.append(ids))

    assert saved_while_running == [1, 2, 3, 4]  # the progress bar moves inside the batch
    assert [len(ids) for ids in handed] == [1, 1, 1, 1]
    assert outcome.status == "generated" and outcome.generation_ids == []  # each handed over once
    assert experiment.runs.get().status == Status.DONE


def test_a_cancel_stops_the_batch_that_is_generating_and_keeps_what_it_finished(
    team, owner, engine, monkeypatch, django_capture_on_commit_callbacks
):
    from llmcore.engine import runtime

    experiment = start(
        make_experiment(team, owner, dataset=make_dataset(team, cases=6, author=owner)),
        owner,
        django_capture_on_commit_callbacks,
    )
    ((batch_id, _queue),) = execution.plan_experiment(experiment.pk).batches

    def user_cancels_after_the_second(number):
        if number == 2:
            grid.cancel_experiment(experiment, owner)

    monkeypatch.setattr(runtime, "generate", one_at_a_time(user_cancels_after_the_second))
    handed: list[int] = []
    outcome = execution.generate_batch(batch_id, worker="w", on_saved=lambda run_id, ids: handed.extend(ids))

    run = experiment.runs.get()
    assert outcome.status == "cancelled"
    assert sorted(handed) == sorted(Generation.objects.filter(run=run).values_list("pk", flat=True))
    assert len(handed) == 2 and not Generation.objects.filter(run=run, finish_reason="cancelled").exists()
    assert run.status == Status.CANCELLED and RunBatch.objects.get(pk=batch_id).status == Status.CANCELLED
    assert InferenceCall.objects.filter(team=team, purpose="experiment").count() == 2


def test_an_unchanged_cell_run_again_reuses_its_outputs_and_keeps_repeats_apart(
    team, owner, engine, django_capture_on_commit_callbacks
):
    first = start(make_experiment(team, owner, repeats=2), owner, django_capture_on_commit_callbacks)
    drive(first.pk)
    assert len(engine) == 1

    again = start(grid.copy_experiment(first, owner), owner, django_capture_on_commit_callbacks)
    drive(again.pk)

    assert len(engine) == 1  # nothing generated again
    run = again.runs.get()
    assert run.status == Status.DONE
    copies = Generation.objects.filter(run=run)
    assert copies.count() == 6
    originals = {g.pk: g for g in Generation.objects.filter(run__experiment=first)}
    for copy in copies:
        original = originals[copy.reused_from_id]
        assert (copy.case_version_id, copy.repeat, copy.text) == (
            original.case_version_id,
            original.repeat,
            original.text,
        )


def test_a_changed_case_is_generated_again_while_unchanged_ones_are_reused(
    team, owner, engine, django_capture_on_commit_callbacks
):
    first = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(first.pk)
    case = first.dataset.cases.get(key="T-002")
    datasets.edit_case(case, owner, CaseData(key="T-002", inputs={"ticket": "Edited ticket"}))

    again = start(grid.copy_experiment(first, owner), owner, django_capture_on_commit_callbacks)
    drive(again.pk)

    assert [len(call[1]) for call in engine] == [3, 1]
    fresh = Generation.objects.get(run__experiment=again, reused_from__isnull=True)
    assert fresh.text == "echo: Topic of this ticket: Edited ticket"


def test_turning_reuse_off_generates_everything_again(
    team, owner, engine, django_capture_on_commit_callbacks
):
    first = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(first.pk)
    again = make_experiment(
        team,
        owner,
        dataset=first.dataset,
        prompts=list(first.prompt_versions.all()),
        models=list(first.model_configs.all()),
        reuse_cached=False,
    )
    drive(start(again, owner, django_capture_on_commit_callbacks).pk)
    assert len(engine) == 2


def test_a_missing_model_fails_the_run_with_the_engines_message(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    def missing(spec, requests, batch_size=None):
        raise ModelUnavailable(
            "No model files in /models/tiny: register a folder that exists on the workers."
        )

    install_fake_engine(monkeypatch, missing)
    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(experiment.pk)

    run = experiment.runs.get()
    assert run.status == Status.FAILED
    assert "No model files in /models/tiny" in run.message
    experiment.refresh_from_db()
    assert experiment.status == Status.FAILED


def test_one_failing_item_is_stored_with_its_error_apart_from_the_others(
    team, owner, engine, django_capture_on_commit_callbacks
):
    dataset = make_dataset(team, cases=0)
    datasets.import_cases(
        dataset,
        owner,
        [CaseData(key="a", inputs={"ticket": "fine"}), CaseData(key="b", inputs={"ticket": "FAIL me"})],
    )
    experiment = start(
        make_experiment(team, owner, dataset=dataset), owner, django_capture_on_commit_callbacks
    )
    drive(experiment.pk)

    bad = Generation.objects.get(case_version__case__key="b")
    good = Generation.objects.get(case_version__case__key="a")
    assert (bad.error, bad.finish_reason, bad.text) == ("prompt too long", "error", "")
    assert good.error == "" and good.text == "echo: Topic of this ticket: fine"
    assert experiment.runs.get().status == Status.DONE


def test_outputs_are_scored_and_errors_are_not_scored(
    team, owner, engine, django_capture_on_commit_callbacks
):
    dataset = make_dataset(team, cases=0)
    datasets.import_cases(
        dataset,
        owner,
        [CaseData(key="a", inputs={"ticket": "refund"}), CaseData(key="b", inputs={"ticket": "FAIL"})],
    )
    scorers = [{"name": "contains", "params": {"strings": ["refund"]}, "threshold": 1.0, "weight": 1.0}]
    experiment = start(
        make_experiment(team, owner, dataset=dataset, scorers=scorers),
        owner,
        django_capture_on_commit_callbacks,
    )
    stats = drive(experiment.pk)

    assert stats["scored"] == 1
    good = Generation.objects.get(case_version__case__key="a")
    assert (good.passed, good.weighted_score) == (True, 1.0)
    score = Score.objects.get(generation=good)
    assert (score.scorer, score.status, score.passed) == ("contains", "scored", True)
    bad = Generation.objects.get(case_version__case__key="b")
    assert bad.passed is None and bad.scored is not None and not bad.scores.exists()


def test_a_seeded_sampled_run_gives_each_repeat_its_own_seed(
    team, owner, engine, django_capture_on_commit_callbacks
):
    params = [grid.ParamSet("sampled", InferenceParams(temperature=0.8, seed=7))]
    experiment = start(
        make_experiment(team, owner, param_sets=params, repeats=3), owner, django_capture_on_commit_callbacks
    )
    drive(experiment.pk)
    seeds = sorted({request.params.seed for request in engine[0][1]})
    assert seeds == [7, 8, 9]


def test_a_spent_budget_refuses_the_start_and_queues_nothing(team, owner, django_capture_on_commit_callbacks):
    TeamBudget.objects.create(team=team, monthly_token_limit=0)
    experiment = make_experiment(team, owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(BudgetExceeded):
        grid.start_experiment(experiment, owner, "admin")
    assert not callbacks and not Run.objects.exists()
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT


def test_a_case_without_a_prompt_variable_refuses_the_start_naming_both(
    team, owner, django_capture_on_commit_callbacks
):
    dataset = make_dataset(team, cases=2, author=owner)
    datasets.add_case(dataset, owner, CaseData(key="Z-1", inputs={"notes": "no ticket here"}))
    experiment = make_experiment(team, owner, dataset=dataset)
    with pytest.raises(grid.ExperimentError, match=r"Test case Z-1 has no input \{\{ticket\}\}"):
        grid.start_experiment(experiment, owner, "admin")
    assert not Run.objects.exists()


def test_old_runs_keep_the_case_versions_they_ran_on(team, owner, engine, django_capture_on_commit_callbacks):
    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(experiment.pk)
    case = experiment.dataset.cases.get(key="T-001")
    datasets.edit_case(case, owner, CaseData(key="T-001", inputs={"ticket": "Rewritten later"}))

    generation = Generation.objects.get(run__experiment=experiment, case_version__case=case)
    assert generation.case_version.inputs == {"ticket": "Ticket number 1"}
    assert generation.case_version.number == 1


def test_stalled_batches_can_be_put_back_and_finished_by_another_worker(
    team, owner, engine, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    ((batch_id, _),) = execution.plan_experiment(experiment.pk).batches
    batch = RunBatch.objects.get(pk=batch_id)
    execution.claim_batch(batch, redelivered=False, worker="lost")
    assert execution.release_stalled_batches(timezone.now() - timedelta(minutes=5)) == 0  # claimed just now

    assert execution.release_stalled_batches(timezone.now() + timedelta(seconds=1)) == 1
    replanned = execution.plan_experiment(experiment.pk)

    assert replanned.batches == [(batch_id, "cpu")]
    assert execution.generate_batch(batch_id, worker="new").status == "generated"
    assert experiment.runs.get().status == Status.DONE


def test_a_model_deleted_after_start_fails_its_run_with_a_clear_message(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    experiment.runs.get().model.delete()
    drive(experiment.pk)
    run = experiment.runs.get()
    assert run.status == Status.FAILED
    assert run.message == "The model Tiny test model was deleted from the registry before this batch ran."


def test_an_llm_judge_scores_with_its_own_model_and_unreadable_judgments_stay_unparsed(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from llmcore.engine.types import FinishReason, GenerationResult

    def generate(spec, requests, batch_size=None):
        replies = []
        for request in requests:
            prompt = request.messages[-1].content
            if spec.name == "Judge":
                text = (
                    "I cannot tell." if "Ticket number 3" in prompt else '{"score": 4, "reason": "on topic"}'
                )
            else:
                text = "billing"
            replies.append(GenerationResult(request.key, text, FinishReason.STOP, 5, 2, 0.1))
        return replies

    calls = install_fake_engine(monkeypatch, generate)
    judge = make_model(team, "Judge")
    scorers = [
        {
            "name": "llm_judge",
            "params": {"rubric": "Names the right topic.", "judge_model": "Judge"},
            "threshold": 0.75,
            "weight": 1,
        }
    ]
    experiment = start(
        make_experiment(team, owner, scorers=scorers), owner, django_capture_on_commit_callbacks
    )
    assert scoring.scoring_queue(experiment) == judge.queue == "cpu"
    drive(experiment.pk)

    assert [spec.name for spec, _, _ in calls] == ["Tiny test model", "Judge"]
    scores = {
        s.generation.case_version.case.key: s
        for s in Score.objects.select_related("generation__case_version__case")
    }
    assert (scores["T-001"].value, scores["T-001"].passed, scores["T-001"].status) == (0.75, True, "scored")
    assert scores["T-003"].status == "unparsed" and scores["T-003"].value is None
    assert Generation.objects.get(case_version__case__key="T-003").passed is None
    assert InferenceCall.objects.filter(purpose="judge").count() == 3


def test_batches_take_their_size_from_the_one_setting(
    team, owner, engine, settings, django_capture_on_commit_callbacks
):
    settings.ASSAY_EXPERIMENT_BATCH_ITEMS = 3
    experiment = start(
        make_experiment(team, owner, dataset=make_dataset(team, cases=7, author=owner)),
        owner,
        django_capture_on_commit_callbacks,
    )
    execution.plan_experiment(experiment.pk)
    sizes = sorted(len(b.items) for b in RunBatch.objects.filter(run__experiment=experiment))
    assert sizes == [1, 3, 3]


def test_a_run_records_the_precision_and_decoding_path_its_worker_used(
    team, owner, engine, django_capture_on_commit_callbacks
):
    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    planned = experiment.runs.get().model_identity
    drive(experiment.pk)
    run = experiment.runs.get()
    assert (run.precision, run.decoding) == ("float32", "fake")
    assert run.model_identity != planned  # "auto" resolved: the identity names what ran


def test_outputs_are_reused_only_between_workers_that_run_the_model_the_same_way(
    team, owner, engine, monkeypatch, django_capture_on_commit_callbacks
):
    from llmcore.engine import runtime

    monkeypatch.setattr(
        runtime, "execution_profile", lambda spec: runtime.ExecutionProfile("bfloat16", "kernel")
    )
    first = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(first.pk)
    assert len(engine) == 1

    # A worker on a CPU without native bf16 computes in float32: nothing of the bf16 run is reused.
    monkeypatch.setattr(
        runtime, "execution_profile", lambda spec: runtime.ExecutionProfile("float32", "kernel")
    )
    second = start(grid.copy_experiment(first, owner), owner, django_capture_on_commit_callbacks)
    drive(second.pk)
    assert len(engine) == 2
    assert not Generation.objects.filter(run__experiment=second, reused_from__isnull=False).exists()
    assert second.runs.get().precision == "float32"

    # Another float32 worker reuses the float32 outputs.
    third = start(grid.copy_experiment(second, owner), owner, django_capture_on_commit_callbacks)
    drive(third.pk)
    assert len(engine) == 2
    reused_from = set(
        Generation.objects.filter(run__experiment=third).values_list(
            "reused_from__run__experiment", flat=True
        )
    )
    assert reused_from == {second.pk}


def test_the_run_page_says_which_precision_the_run_used(
    team, owner, engine, as_user, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    experiment = start(make_experiment(team, owner), owner, django_capture_on_commit_callbacks)
    drive(experiment.pk)
    run = experiment.runs.get()
    page = as_user(owner).get(reverse("experiments:run_detail", args=[team.slug, run.code]))
    assert "ran in float32" in page.text
