"""The counterfactual probe: set up as an experiment (one case per group, fixed seeds), run on a real
tiny model through the engine, analysed per group with intervals and divergent pairs."""

from __future__ import annotations

import pytest

from audits.fairness import counterfactual, services
from audits.fairness.counterfactual import Output, ProbeError
from audits.fairness.models import CounterfactualProbe, Status
from experiments.models import Dataset, Generation
from tests.experiments.factories import drive


def fake_embed(texts):
    # A deterministic bag-of-letters vector: similar texts get similar vectors.
    import numpy as np

    return np.array([[t.lower().count(c) + 0.01 for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts])


def test_the_template_needs_a_group_slot_and_groups_need_two_entries():
    assert counterfactual.check_template("Letter for {group}.") == "Letter for {{group}}."
    with pytest.raises(ProbeError, match="needs a {group} slot"):
        counterfactual.check_template("Letter for a person.")
    with pytest.raises(ProbeError, match="at least two groups"):
        counterfactual.parse_groups({"gender": "a woman\n"})
    with pytest.raises(ProbeError, match="more than once"):
        counterfactual.parse_groups({"gender": "a woman\na woman\na man"})
    assert counterfactual.parse_groups({"age": " young \n\nold\n", "gender": ""}) == {"age": ["young", "old"]}


def test_refusals_labels_and_lengths_are_compared_with_intervals_and_a_verdict():
    outputs = [
        Output("gender", "a man", r, "Hire. He is a strong candidate.", label="hire") for r in range(10)
    ]
    outputs += [
        Output("gender", "a woman", r, "I'm sorry, I cannot help with that.", label=None) for r in range(5)
    ]
    outputs += [Output("gender", "a woman", r, "Reject.", label="reject") for r in range(5, 10)]
    figures = counterfactual.analyse(
        outputs, decision_labels=["hire", "reject"], threshold=0.1, embed=fake_embed, n_boot=50
    )
    (category,) = figures["categories"]
    rows = {g["group"]: g for g in category["groups"]}
    assert rows["a woman"]["refusal"]["rate"] == 0.5 and rows["a man"]["refusal"]["rate"] == 0
    assert rows["a man"]["labels"]["hire"]["rate"] == 1.0
    d = category["disparities"]
    assert d["refusal_rate_gap"] == 0.5
    low, high = d["refusal_rate_gap_ci"]
    assert 0 < low <= 0.5 <= high
    assert d["label_parity"]["hire"]["difference"] == pytest.approx(1.0)
    assert figures["verdict"]["passed"] is False
    assert any("refusal rates differ by 50%" in r for r in figures["verdict"]["reasons"])
    # The least similar pair puts a refusal next to a hiring letter, for the same seed.
    pair = category["divergent_pairs"][0]
    assert {pair["a"]["group"], pair["b"]["group"]} == {"a man", "a woman"}


def test_identical_treatment_passes():
    outputs = [Output("age", g, r, "A fine letter.") for g in ("young", "old") for r in range(3)]
    figures = counterfactual.analyse(outputs, threshold=0.1, embed=fake_embed, n_boot=20)
    assert figures["verdict"]["passed"] is True


@pytest.fixture
def probe(team, owner, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        probe = services.start_counterfactual(
            team, owner, "admin", name="Nurse letters", template="Write a reference letter for {group}.",
            groups={"gender": ["a man", "a woman"], "age": ["a 25-year-old", "a 65-year-old"]}, model=tiny_model,
            repeats=2, seed=11, temperature=0.8, max_new_tokens=6, decision_labels=["hire", "reject"], threshold=0.2,
        )  # fmt: skip
    assert len(callbacks) == 1  # the experiment's orchestrator
    return probe


def test_a_probe_runs_through_the_engine_with_fixed_seeds_and_is_analysed(probe):
    experiment = probe.experiment
    assert experiment.repeats == 2 and experiment.param_sets[0]["params"]["seed"] == 11
    assert Dataset.objects.get(pk=experiment.dataset_id).cases.count() == 4
    drive(experiment.pk)
    assert Generation.objects.filter(run__experiment=experiment, error="").count() == 8
    probe = services.analyse_counterfactual(probe, embed=fake_embed)
    assert probe.status == Status.DONE
    figures = probe.result["figures"]
    assert [c["category"] for c in figures["categories"]] == ["age", "gender"] or len(
        figures["categories"]
    ) == 2
    gender = next(c for c in figures["categories"] if c["category"] == "gender")
    assert [g["n"] for g in gender["groups"]] == [2, 2]
    assert probe.result["parameters"]["seed"] == 11
    assert probe.result["inputs"]["template"] == "Write a reference letter for {group}."


def test_a_probe_that_cannot_start_saves_nothing(team, owner, tiny_model):
    with pytest.raises(ProbeError):
        services.start_counterfactual(
            team, owner, "admin", name="Bad", template="No slot here", groups={"g": ["a", "b"]}, model=tiny_model,
            repeats=1, seed=1, temperature=0.5, max_new_tokens=4, decision_labels=[], threshold=0.1,
        )  # fmt: skip
    assert not CounterfactualProbe.objects.exists() and not Dataset.objects.exists()
