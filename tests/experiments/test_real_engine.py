"""Experiments on the real engine with a tiny random llama: real chat templates, tokens and batching."""

from __future__ import annotations

from experiments.models import Generation, Status
from experiments.services import grid
from llmcore.engine.params import InferenceParams
from tests.experiments.factories import drive, make_dataset, make_experiment


def run(experiment, user, capture):
    with capture(execute=False):
        grid.start_experiment(experiment, user, "admin")
    drive(experiment.pk)
    experiment.refresh_from_db()
    return experiment


def test_an_experiment_generates_with_the_engine_and_greedy_outputs_repeat_exactly(
    team, owner, tiny_model, django_capture_on_commit_callbacks
):
    dataset = make_dataset(team, cases=5, author=owner)
    params = [grid.ParamSet("greedy", InferenceParams(max_new_tokens=6))]
    first = make_experiment(
        team, owner, dataset=dataset, models=[tiny_model], param_sets=params, reuse_cached=False
    )
    run(first, owner, django_capture_on_commit_callbacks)

    assert first.status == Status.DONE
    outputs = list(Generation.objects.filter(run__experiment=first).order_by("case_version__case__key"))
    assert len(outputs) == 5
    assert all(g.error == "" and 0 < g.tokens_out <= 6 and g.tokens_in > 5 for g in outputs)
    assert all(g.finish_reason in ("stop", "length") for g in outputs)

    again = make_experiment(
        team, owner, dataset=dataset, prompts=list(first.prompt_versions.all()), models=[tiny_model],
        param_sets=params, reuse_cached=False, name="Again",
    )  # fmt: skip
    run(again, owner, django_capture_on_commit_callbacks)
    repeated = list(Generation.objects.filter(run__experiment=again).order_by("case_version__case__key"))
    assert [g.text for g in repeated] == [g.text for g in outputs]
    assert all(g.reused_from_id is None for g in repeated)
