"""A fairness assessment of a stored run: outputs mapped to labels by the label-extraction scorer,
figures stored as a versioned JSON document."""

from __future__ import annotations

import pytest

from audits.fairness import groupfair, services
from audits.fairness.models import RESULT_SCHEMA, FairnessAssessment


def test_the_user_guide_example_through_a_run_gives_the_published_figures(team, owner, label_run):
    options = groupfair.Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=20)
    assessment = services.assess_run(team, owner, label_run, options)
    doc = assessment.result
    assert doc["schema"] == RESULT_SCHEMA and doc["kind"] == "fairness_assessment"
    (item,) = doc["figures"]["per_label"]
    rates = {g["group"]: g["selection_rate"] for g in item["groups"]}
    assert rates == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.5})
    assert item["figures"]["demographic_parity_difference"] == pytest.approx(0.25)
    assert item["figures"]["demographic_parity_ratio"] == pytest.approx(0.667, abs=1e-3)
    assert item["figures"]["equalized_odds_difference"] == pytest.approx(1.0)
    assert item["figures"]["true_positive_rate_difference"] == pytest.approx(0.2)
    # The output that named no label is counted in its group.
    assert {g["group"]: g["unparsed"] for g in doc["figures"]["groups"]}["a"] == 1
    assert assessment.passed is False
    assert doc["inputs"]["run"] == str(label_run.code) and len(doc["inputs"]["sha256"]) == 64
    assert doc["libraries"]["fairlearn"].startswith("0.15")
    assert doc["parameters"]["rule"] == {"metric": "selection_rate_ratio", "threshold": 0.8}


def test_an_experiments_own_label_scorer_and_synonyms_are_used(
    team, owner, django_capture_on_commit_callbacks
):
    from llmcore.scoring import build_scorer
    from tests.fairness.conftest import make_label_run

    scorer = build_scorer(
        "label_match", {"labels": ["approve", "reject"], "synonyms": {"approve": ["yes"]}}, threshold=None
    )
    rows = [("approve", "yes", {"g": "a"}), ("approve", "yes", {"g": "b"}), ("reject", "reject", {"g": "b"})]
    with django_capture_on_commit_callbacks(execute=False):
        run = make_label_run(team, owner, rows, scorers=[scorer.config()])
    assessment = services.assess_run(
        team,
        owner,
        run,
        groupfair.Options(attributes=["g"], positive_label="approve", min_group_size=1, n_boot=0),
    )
    rates = {g["group"]: g["selection_rate"] for g in assessment.result["figures"]["per_label"][0]["groups"]}
    assert rates == pytest.approx({"a": 1.0, "b": 0.5})


def test_a_run_without_labels_stores_nothing(team, owner, django_capture_on_commit_callbacks):
    from tests.fairness.conftest import make_label_run

    with django_capture_on_commit_callbacks(execute=False):
        run = make_label_run(team, owner, [("", "x", {"g": "a"}), ("", "y", {"g": "b"})])
    with pytest.raises(groupfair.AssessmentError, match="expected labels"):
        services.assess_run(team, owner, run, groupfair.Options(attributes=["g"]))
    assert not FairnessAssessment.objects.exists()


def test_an_assessment_asked_for_while_the_run_runs_is_computed_when_it_finishes(
    team, owner, label_run, as_user, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from audits.fairness.receivers import finished_probes
    from audits.fairness.tasks import analyse
    from experiments.models import Experiment, Run, Status

    Run.objects.filter(pk=label_run.pk).update(status=Status.RUNNING)
    Experiment.objects.filter(pk=label_run.experiment_id).update(status=Status.RUNNING)
    label_run.refresh_from_db()
    options = groupfair.Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=10)
    pending = services.request_assessment(team, owner, label_run, options)
    assert pending.status == "queued" and pending.result == {}
    page = as_user(owner).get(reverse("fairness:assessment_detail", args=[team.slug, pending.code]))
    assert "Waiting for the run to finish" in page.content.decode()
    assert finished_probes([label_run.experiment_id]) == []  # nothing to compute while it runs

    Run.objects.filter(pk=label_run.pk).update(status=Status.DONE)
    Experiment.objects.filter(pk=label_run.experiment_id).update(status=Status.DONE)
    assert finished_probes([label_run.experiment_id]) == [("assessment", pending.pk)]
    assert analyse("assessment", pending.pk) == "done"
    pending.refresh_from_db()
    (item,) = pending.result["figures"]["per_label"]
    assert item["figures"]["demographic_parity_difference"] == pytest.approx(0.25)
    assert pending.result["parameters"]["labels"] == ["approve", "reject"]


def test_a_pending_assessment_of_a_cancelled_run_fails_with_the_reason(team, owner, label_run):
    from experiments.models import Run, Status

    Run.objects.filter(pk=label_run.pk).update(status=Status.RUNNING)
    label_run.refresh_from_db()
    options = groupfair.Options(attributes=["group"], min_group_size=1, n_boot=0)
    pending = services.request_assessment(team, owner, label_run, options)
    Run.objects.filter(pk=label_run.pk).update(status=Status.CANCELLED)
    pending.refresh_from_db()
    pending = services.compute_pending_assessment(pending)
    assert pending.status == "failed" and "cancelled" in pending.message
