"""The experiments' batch task, the one way Assay generates: transient model errors are retried with the
batch released between attempts; past the cap, or on a permanent error, the batch fails with a message."""

from __future__ import annotations

from experiments import tasks
from experiments.models import Generation, RunBatch, Status
from experiments.services.grid import start_experiment
from llmcore.engine.types import TransientBackendError
from llmcore.models import InferenceCall
from tests.experiments.factories import make_dataset, make_experiment
from tests.llmcore.registry_fakes import echo_generate, install_fake_engine


def planned_batch(team, owner, django_capture_on_commit_callbacks, monkeypatch) -> RunBatch:
    from experiments import execution

    monkeypatch.setattr(tasks.generate_batch, "apply_async", lambda *a, **kw: None)
    experiment = make_experiment(team, owner, dataset=make_dataset(team, cases=2, author=owner))
    with django_capture_on_commit_callbacks(execute=False):
        start_experiment(experiment, owner, "admin")
    execution.plan_experiment(experiment.pk)
    return RunBatch.objects.get(run__experiment=experiment)


def test_a_transient_model_error_is_retried_until_the_batch_succeeds(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    attempts = []

    def flaky(spec, requests, batch_size=None):
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientBackendError("HTTP 429 Too Many Requests")
        return echo_generate(spec, requests)

    install_fake_engine(monkeypatch, flaky)
    monkeypatch.setattr(tasks, "enqueue_scoring", lambda *a: None)
    batch = planned_batch(team, owner, django_capture_on_commit_callbacks, monkeypatch)
    result = tasks.generate_batch.apply((batch.pk,))
    assert result.successful() and result.result["status"] == "generated"
    assert len(attempts) == 3
    assert Generation.objects.filter(run=batch.run, error="").count() == 2
    # every attempt is logged: two failed calls per request, then the successes
    assert (
        list(InferenceCall.objects.values_list("outcome", flat=True).order_by("id"))
        == ["error"] * 4 + ["ok"] * 2
    )


def test_transient_errors_fail_the_batch_after_the_retry_cap(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    def always_busy(spec, requests, batch_size=None):
        raise TransientBackendError("HTTP 503")

    install_fake_engine(monkeypatch, always_busy)
    batch = planned_batch(team, owner, django_capture_on_commit_callbacks, monkeypatch)
    result = tasks.generate_batch.apply((batch.pk,))
    assert result.result == {"status": "failed"}
    batch.refresh_from_db()
    assert batch.status == Status.FAILED
    assert f"kept failing after {tasks.TRANSIENT_RETRIES} retries" in batch.message
    assert not Generation.objects.filter(run=batch.run).exists()
