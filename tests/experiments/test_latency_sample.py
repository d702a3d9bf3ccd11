"""Single-request latency: a sample of a finished run's cases generated one at a time, which the latency
limit reads, next to each output's time inside its batch."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import reverse

from experiments import latency, tasks
from experiments.evidence import evidence_by_run
from experiments.models import Run, Status
from experiments.services import grid
from llmcore.engine.types import FinishReason, GenerationResult
from llmcore.models import InferenceCall
from opportunities.feasibility import Thresholds, verdict
from tests.experiments.factories import drive, make_dataset, make_experiment
from tests.llmcore.registry_fakes import install_fake_engine


def timed_generate(spec, requests, batch_size=None):
    """A batch of n takes 0.1 s per output for everyone in it; a single request 0.1 s per new token."""
    results = []
    for request in requests:
        tokens = request.params.max_new_tokens
        seconds = 0.1 * len(requests) if len(requests) > 1 else 0.1 * min(tokens, 8)
        results.append(GenerationResult(request.key, "billing", FinishReason.STOP, 10, tokens, seconds, 0.0))
    return results


def with_reviews(evidence):
    """The run's latency figures with enough scored and reviewed outputs for the rules to judge them."""
    return dataclasses.replace(evidence, cases_scored=60, cases_passed=60, reviews_accepted=60, reviewers=2)


@pytest.fixture
def engine(monkeypatch):
    return install_fake_engine(monkeypatch, generate=timed_generate)


@pytest.fixture
def finished_run(team, owner, engine, settings, django_capture_on_commit_callbacks):
    settings.ASSAY_LATENCY_SAMPLE = 3
    experiment = make_experiment(team, owner, dataset=make_dataset(team, cases=6, author=owner))
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    run = experiment.runs.get()
    assert run.status == Status.DONE
    return run


def test_the_sample_runs_cases_one_at_a_time_and_feeds_the_latency_limit(finished_run, engine, team):
    engine.clear()
    figures = latency.measure_run(finished_run.pk)

    # 3 cases x (first token, whole answer), every call a batch of one.
    assert len(engine) == 6 and all(len(requests) == 1 for _, requests, _ in engine)
    assert figures["cases"] == 3 and figures["errors"] == 0
    assert figures["first_token_p50_s"] == pytest.approx(0.1)
    assert figures["p95_s"] == pytest.approx(0.8)  # 8 new tokens alone, not 0.6 s as one of 6 in a batch
    assert InferenceCall.objects.filter(team=team, purpose="latency sample").count() == 6

    evidence = evidence_by_run([finished_run.pk])[finished_run.pk]
    assert evidence.p95_latency_s == pytest.approx(0.8)
    assert evidence.batch_p95_latency_s == pytest.approx(0.6)
    judged = verdict(with_reviews(evidence), Thresholds(max_p95_latency_s=0.7))
    assert any(
        "p95 latency of a single request 0.8 s is over the limit of 0.7 s" in r for r in judged.reasons
    )


def test_a_run_is_measured_once_even_when_two_batches_finish_together(finished_run, engine):
    assert latency.claim(finished_run.pk)
    assert latency.measure_run(finished_run.pk) is None  # claimed by the other worker
    assert not engine[1:]  # only the experiment's own batch ran


def test_without_a_sample_the_limit_is_not_checked_and_says_so(finished_run):
    evidence = evidence_by_run([finished_run.pk])[finished_run.pk]
    assert evidence.p95_latency_s is None and evidence.batch_p95_latency_s == pytest.approx(0.6)
    judged = verdict(with_reviews(evidence), Thresholds(max_p95_latency_s=0.7))
    assert any("p95 latency of a single request is unknown" in r for r in judged.reasons)


def test_the_batch_task_asks_for_the_sample_once_the_run_is_done(
    finished_run, settings, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(tasks.measure_latency, "apply_async", lambda args, queue: sent.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_latency_sample(finished_run.pk)
    assert sent == [((finished_run.pk,), "cpu")]
    settings.ASSAY_LATENCY_SAMPLE = 0
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_latency_sample(finished_run.pk)
    assert len(sent) == 1


def test_pages_say_which_figure_is_which(finished_run, team, owner, client):
    client.force_login(owner)
    run_page = client.get(reverse("experiments:run_detail", args=[team.slug, finished_run.code])).text
    assert "single-request latency: not measured" in run_page
    assert "inside a batch of up to 6: p50 0.60 s" in run_page

    latency.measure_run(finished_run.pk)
    run_page = client.get(reverse("experiments:run_detail", args=[team.slug, finished_run.code])).text
    assert (
        "a single request takes p50 0.80 s, p95 0.80 s (first token p50 0.10 s; 3 cases run one at a time)"
        in run_page
    )
    experiment = finished_run.experiment
    page = client.get(reverse("experiments:experiment_detail", args=[team.slug, experiment.code])).text
    assert "0.80 / 0.80 s" in page and "in a batch of ≤6: 0.60 / 0.60 s" in page
    assert Run.objects.get(pk=finished_run.pk).single_request["cases"] == 3


def second_experiment(finished_run, team, owner):
    """Another experiment on the same model (so on the same queue)."""
    first = finished_run.experiment
    return make_experiment(
        team,
        owner,
        dataset=make_dataset(team, cases=4, author=owner, name="Second"),
        models=list(first.model_configs.all()),
        name="Second",
    )


def test_the_sample_gives_way_while_another_experiments_batches_wait(
    finished_run, engine, team, owner, django_capture_on_commit_callbacks, monkeypatch
):
    waiting = second_experiment(finished_run, team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(waiting, owner, "admin")
    from experiments import execution

    execution.plan_experiment(waiting.pk)  # its batches are queued on the same "cpu" queue
    engine.clear()
    assert latency.measure_run(finished_run.pk) is latency.DEFERRED
    assert not engine and Run.objects.get(pk=finished_run.pk).single_latency is None  # not claimed

    sent = []
    monkeypatch.setattr(
        tasks.measure_latency, "apply_async", lambda args, queue, countdown: sent.append((args, countdown))
    )
    assert tasks.measure_latency(finished_run.pk) == {"status": "deferred"}
    assert sent == [((finished_run.pk, 1), tasks.LATENCY_RETRY_S)]
    # It does not wait for ever: after enough deferrals it measures anyway.
    figures = tasks.measure_latency(finished_run.pk, tasks.LATENCY_MAX_DEFERRALS)
    assert figures["cases"] == 3 and len(sent) == 1


def test_the_sample_runs_once_the_queue_is_free(
    finished_run, engine, team, owner, django_capture_on_commit_callbacks
):
    waiting = second_experiment(finished_run, team, owner)
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(waiting, owner, "admin")
    drive(waiting.pk)  # the other experiment ran to its end: nothing waits any more
    assert latency.measure_run(finished_run.pk)["cases"] == 3


def test_a_sample_under_way_stops_when_an_experiment_is_started(finished_run, engine, monkeypatch):
    # Before claiming, then before each call: the third call finds a new experiment's batches queued.
    checks = iter([False, False, False, True])
    monkeypatch.setattr(latency, "batches_waiting", lambda queue: next(checks))
    engine.clear()
    assert latency.measure_run(finished_run.pk) is latency.DEFERRED
    assert len(engine) == 2  # two calls made, then it gave way
    assert Run.objects.get(pk=finished_run.pk).single_latency is None  # released: measured again later
