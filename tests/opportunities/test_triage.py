"""Exposure pre-screen: learns from the team's human labels (real MiniLM embeddings), predicts the rest,
never touches a human label, explains each prediction with similar labelled tasks, and measures itself
with folds grouped by job."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from django.core.management import call_command

from llmcore.models import TextEmbedding
from opportunities.models import ExposurePrediction, Job, LabelSource, Task, TriageRun
from opportunities.triage import evaluation, service
from opportunities.triage.classifier import ExposureClassifier

WRITING = ["Draft replies to customer emails", "Write a summary of the meeting notes",
           "Translate product descriptions", "Write marketing copy for the newsletter",
           "Proofread reports before they are sent"]  # fmt: skip
DOCUMENTS = ["Search the contract archive for renewal clauses", "Look up order history in the database",
             "Answer questions from the internal policy documents", "Compare invoices against purchase records",
             "Find regulations that apply to a shipment"]  # fmt: skip
PHYSICAL = ["Lift boxes onto delivery trucks", "Repair broken machinery on the factory floor",
            "Clean and sanitise the kitchen equipment", "Drive the forklift between warehouses",
            "Install electrical wiring in new buildings"]  # fmt: skip


@pytest.fixture
def labelled_team(team):
    for j in range(4):
        job = Job.objects.create(team=team, title=f"Job {j}")
        for group, label in ((WRITING, "E1"), (DOCUMENTS, "E2"), (PHYSICAL, "E0")):
            for i, statement in enumerate(group):
                human = i != j % 5  # one task per group and job left for the pre-screen
                Task.objects.create(
                    job=job,
                    statement=f"{statement} ({job.title})",
                    exposure_label=label if human else "",
                    label_source=LabelSource.HUMAN if human else "",
                )
    return team


def test_it_predicts_unlabelled_tasks_and_never_overwrites_a_human_label(labelled_team):
    humans_before = dict(
        Task.objects.filter(label_source=LabelSource.HUMAN).values_list("id", "exposure_label")
    )
    run = TriageRun.objects.create(team=labelled_team)
    run = service.execute(run.pk)

    assert run.status == TriageRun.State.DONE and run.predicted == 12
    assert (
        dict(Task.objects.filter(label_source=LabelSource.HUMAN).values_list("id", "exposure_label"))
        == humans_before
    )
    predicted = Task.objects.filter(label_source=LabelSource.PREDICTED)
    assert predicted.count() == 12
    right = sum(
        t.exposure_label
        == {"Lift": "E0", "Repa": "E0", "Clea": "E0", "Driv": "E0", "Inst": "E0"}.get(
            t.statement[:4], "E1" if any(t.statement.startswith(w) for w in WRITING) else "E2"
        )
        for t in predicted
    )
    assert right >= 10  # clearly separable groups: nearly all right
    prediction = ExposurePrediction.objects.select_related("task").first()
    assert 0.33 < prediction.confidence <= 1 and set(prediction.probabilities) == {"E0", "E1", "E2"}
    neighbour_id, neighbour_label, similarity = prediction.neighbours[0]
    assert Task.objects.get(pk=neighbour_id).label_source == LabelSource.HUMAN and similarity > 0.3
    # Measured with folds grouped by job, with the counts it learned from.
    assert run.quality["labels"] == 48 and run.quality["jobs"] == 4 and run.quality["folds"] == 4
    assert run.quality["accuracy"] > 0.8


def test_a_second_run_embeds_only_what_changed(labelled_team):
    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    stored = TextEmbedding.objects.count()
    task = Task.objects.filter(label_source=LabelSource.PREDICTED).first()
    task.statement = "Write a new statement"
    task.save()
    run = service.execute(TriageRun.objects.create(team=labelled_team).pk)
    assert run.embedded == 1 and TextEmbedding.objects.count() == stored + 1


def test_with_too_few_labels_it_says_what_is_needed(team):
    job = Job.objects.create(team=team, title="Clerk")
    Task.objects.create(job=job, statement="File papers", exposure_label="E0", label_source=LabelSource.HUMAN)
    Task.objects.create(job=job, statement="Write letters")
    run = service.execute(TriageRun.objects.create(team=team).pk)
    assert run.predicted == 0 and "at least 20 tasks labelled by a person" in run.message
    assert Task.objects.get(statement="Write letters").exposure_label == ""


def test_the_command_writes_the_csv_and_prints_the_grouped_figures(labelled_team, tmp_path, capsys):
    task = Task.objects.filter(exposure_label="").first()
    task.statement = '=HYPERLINK("http://x") draft replies'
    task.save()
    out = tmp_path / "triage.csv"
    call_command("triage", team=labelled_team.slug, output=str(out))
    printed = capsys.readouterr().out
    assert "grouped cross-validation on 48 human labels in 4 jobs" in printed and "kappa" in printed
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12 and list(rows[0]) == [
        "task_id",
        "job",
        "task",
        "predicted_label",
        "confidence",
        "method",
    ]
    assert not any(r["task"].startswith("=") for r in rows)  # spreadsheet formulas are escaped


def test_grouped_folds_keep_each_job_on_one_side():
    groups = np.repeat(np.arange(10), 6)
    for train, test in evaluation.grouped_folds(groups):
        assert not set(groups[train]) & set(groups[test])


def test_the_neighbour_vote_follows_the_closest_labelled_tasks():
    rng = np.random.default_rng(1)
    centres = np.eye(3, 8)
    x = np.vstack([c + 0.05 * rng.standard_normal((10, 8)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    model = ExposureClassifier().fit(x, ["E0"] * 10 + ["E1"] * 10 + ["E2"] * 10)
    result = model.predict(centres)
    assert result.labels == ["E0", "E1", "E2"] and (result.confidence > 0.9).all()


def test_the_page_shows_quality_and_label_next_and_a_label_given_there_wins(
    labelled_team, owner, viewer, stranger, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    url = reverse("triage", args=[labelled_team.slug])
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    client.force_login(viewer)
    page = client.get(url)
    assert page.status_code == 200 and "accuracy" in page.text and 'data-testid="label-next"' in page.text
    task = service.label_next(labelled_team)[0]
    label_url = reverse("triage_label", args=[labelled_team.slug, task.code])
    assert client.post(label_url, {"label": "E2"}).status_code == 403
    assert client.post(reverse("triage_start", args=[labelled_team.slug])).status_code == 403

    client.force_login(owner)
    assert client.post(label_url, {"label": "E9"}).status_code == 302
    task.refresh_from_db()
    assert task.label_source == LabelSource.PREDICTED  # nothing saved from a bad label
    client.post(label_url, {"label": "E2"})
    task.refresh_from_db()
    assert (task.exposure_label, task.label_source) == ("E2", LabelSource.HUMAN)
    assert not ExposurePrediction.objects.filter(task=task).exists()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("triage_start", args=[labelled_team.slug]))
    assert len(callbacks) == 1 and TriageRun.objects.filter(status="queued").count() == 1
    client.post(reverse("triage_start", args=[labelled_team.slug]))  # already queued: not twice
    assert TriageRun.objects.filter(status="queued").count() == 1
