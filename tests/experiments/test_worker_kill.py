"""THE proof: a real Celery worker, generating with the real engine on a tiny random model, is killed
with SIGKILL in the middle of an experiment; another one starts, and the experiment completes with
exactly one output per run × case × repeat. Each engine call waits 2 s first so the kill lands mid-batch."""

from __future__ import annotations

import time

import pytest

from experiments.models import Generation, RunBatch, Status
from experiments.services import grid
from llmcore.engine.params import InferenceParams
from tests.experiments.factories import make_dataset, make_experiment, make_prompt

pytestmark = pytest.mark.worker

VISIBILITY_TIMEOUT_S = 3
WORKER_ENV = {
    "ASSAY_TEST_ENGINE_DELAY": "2",
    "ASSAY_TEST_BATCH_ITEMS": "4",
    "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
}
INCLUDE = ("tests.worker_tasks", "tests.experiments.worker_engine")


def wait_for(condition, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    log = f"\nworker log:\n{worker.log_tail(60)}" if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{log}")


def test_a_worker_killed_mid_experiment_loses_and_duplicates_nothing(
    celery_worker_process, team, owner, tiny_model
):
    dataset = make_dataset(team, cases=6, author=owner)
    version = make_prompt(team, dataset=dataset, author=owner).versions.get()
    params = [
        grid.ParamSet("greedy", InferenceParams(max_new_tokens=8)),
        grid.ParamSet("sampled", InferenceParams(temperature=0.7, seed=3, max_new_tokens=8)),
    ]
    scorers = [
        {"name": "length_limit", "params": {"unit": "tokens", "max": 8}, "threshold": 1.0, "weight": 1.0}
    ]
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[version], models=[tiny_model], param_sets=params,
        repeats=2, scorers=scorers,
    )  # fmt: skip
    worker = celery_worker_process(queues=("default", "cpu"), include=INCLUDE, env=WORKER_ENV)

    grid.start_experiment(experiment, owner, "admin")
    batches = RunBatch.objects.filter(run__experiment=experiment)
    wait_for(
        lambda: (
            batches.filter(status=Status.DONE).exists() and batches.filter(status=Status.RUNNING).exists()
        ),
        60,
        "a finished batch and one being generated",
        worker,
    )
    worker.kill()  # SIGKILL to the worker and its pool child, mid-batch

    victim = batches.get(status=Status.RUNNING)
    assert victim.attempts == 1
    generated_before = Generation.objects.filter(run__experiment=experiment).count()
    assert 0 < generated_before < 2 * 6 * 2
    # The unacknowledged message returns to the queue once the visibility timeout has passed.
    time.sleep(VISIBILITY_TIMEOUT_S + 0.5)
    worker.start()

    wait_for(
        lambda: (
            experiment.__class__.objects.get(pk=experiment.pk).status not in (Status.QUEUED, Status.RUNNING)
        ),
        120,
        "the experiment to finish",
        worker,
    )
    experiment.refresh_from_db()
    assert experiment.status == Status.DONE, experiment.message
    expected = {
        (run_id, case_version_id, repeat)
        for run_id in experiment.runs.values_list("pk", flat=True)
        for case_version_id in experiment.snapshot.case_versions.values_list("pk", flat=True)
        for repeat in range(2)
    }
    stored = list(
        Generation.objects.filter(run__experiment=experiment).values_list(
            "run_id", "case_version_id", "repeat"
        )
    )
    assert len(stored) == len(expected) == 2 * 6 * 2
    assert set(stored) == expected
    victim.refresh_from_db()
    assert (victim.status, victim.attempts) == (Status.DONE, 2)  # taken over after the redelivery
    assert set(experiment.runs.values_list("status", flat=True)) == {Status.DONE}
    wait_for(
        lambda: not Generation.objects.filter(run__experiment=experiment, scored__isnull=True).exists(),
        60,
        "every output to be scored",
        worker,
    )
    outputs = Generation.objects.filter(run__experiment=experiment)
    assert outputs.filter(passed=True).count() == 24  # the real engine kept to max_new_tokens
    assert not outputs.exclude(error="").exists() and outputs.filter(tokens_out__gt=0).count() == 24
