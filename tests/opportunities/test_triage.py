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
    # The label queued a retraining by itself; pressing Run then does not queue a second one.
    retrain = TriageRun.objects.get(status="queued")
    assert retrain.started_by is None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("triage_start", args=[labelled_team.slug]))
    assert callbacks == [] and TriageRun.objects.filter(status="queued").count() == 1
    retrain.delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("triage_start", args=[labelled_team.slug]))
    assert len(callbacks) == 1 and TriageRun.objects.filter(status="queued").count() == 1
    client.post(reverse("triage_start", args=[labelled_team.slug]))  # already queued: not twice
    assert TriageRun.objects.filter(status="queued").count() == 1


def test_the_page_explains_predictions_with_similar_tasks_and_charts_the_learning_curve(
    labelled_team, owner_client
):
    from django.urls import reverse

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    page = owner_client.get(reverse("triage", args=[labelled_team.slug])).text
    assert '<svg class="learning-curve"' in page and "Accuracy:" in page
    first = service.label_next(labelled_team)[0]
    similar = Task.objects.get(pk=first.exposure_prediction.neighbours[0][0])
    assert similar.statement in page  # the most similar labelled task, by its words
    assert 'data-label-row class="selected"' in page and "opportunities/triage.js" in page


def test_one_key_labelling_swaps_in_the_list_without_the_task(labelled_team, owner_client):
    from django.urls import reverse

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    first, second = service.label_next(labelled_team)[:2]
    response = owner_client.post(
        reverse("triage_label", args=[labelled_team.slug, first.code]),
        {"label": "E1"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="label-next",
    )
    body = response.text
    assert response.status_code == 200 and body.lstrip().startswith('<div id="label-next">')
    assert "Labelled E1" in body and "labels-changed" in response.headers["HX-Trigger"]
    assert str(first.code) not in body and str(second.code) in body
    bad = owner_client.post(
        reverse("triage_label", args=[labelled_team.slug, second.code]),
        {"label": "<b>E7</b>"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="label-next",
    )
    assert "is not a label: choose E0, E1 or E2" in bad.text and "<b>E7" not in bad.text
    second.refresh_from_db()
    assert second.label_source == LabelSource.PREDICTED


def test_the_run_panel_polls_while_a_run_is_active(labelled_team, owner_client):
    from django.urls import reverse

    url = reverse("triage", args=[labelled_team.slug])
    TriageRun.objects.create(team=labelled_team, status="running", stage="Predicting", done=3, total=12)
    panel = owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="triage-run").text
    assert panel.lstrip().startswith('<section class="card" id="triage-run"')
    assert "every 2s" in panel and "3 of 12" in panel
    TriageRun.objects.update(status="done")
    assert "every 2s" not in owner_client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="triage-run").text


# --- retraining when people change labels ------------------------------------------------------------


def test_a_label_given_on_the_task_form_retrains_a_team_that_uses_the_pre_screen(labelled_team, owner_client):
    from django.urls import reverse

    task = Task.objects.filter(exposure_label="").first()
    edit = reverse("task_edit", args=[labelled_team.slug, task.code])
    form = {"statement": task.statement, "kind": "other", "hours_per_week": "1", "people_share": "100",
            "mode": "augment", "time_saved": "30", "revenue_upside": "0", "model_cost_per_year": "0"}  # fmt: skip
    owner_client.post(edit, {**form, "exposure_label": "E1"})
    assert not TriageRun.objects.exists()  # never ran for this team: nothing to retrain

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    task = Task.objects.filter(label_source=LabelSource.PREDICTED).first()
    edit = reverse("task_edit", args=[labelled_team.slug, task.code])
    same = {"exposure_label": task.exposure_label, "label_source": "predicted"}
    owner_client.post(edit, {**form, "statement": task.statement, **same})
    assert not TriageRun.objects.filter(status="queued").exists()  # the label did not change
    owner_client.post(
        edit, {**form, "statement": task.statement, "exposure_label": "E0", "label_source": "predicted"}
    )
    task.refresh_from_db()
    assert (task.exposure_label, task.label_source) == ("E0", LabelSource.HUMAN)
    assert not ExposurePrediction.objects.filter(task=task).exists()
    assert TriageRun.objects.filter(status="queued", started_by=None).count() == 1


def test_labels_given_while_a_run_works_queue_its_successor(labelled_team, monkeypatch):
    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    evaluate = evaluation.evaluate

    def a_person_labels_meanwhile(*args, **kwargs):
        Task.objects.filter(label_source=LabelSource.PREDICTED).update(
            exposure_label="E1", label_source=LabelSource.HUMAN
        )
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", a_person_labels_meanwhile)
    run = service.execute(TriageRun.objects.create(team=labelled_team).pk)
    assert run.status == "done"
    assert TriageRun.objects.filter(status="queued").count() == 1

    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    TriageRun.objects.filter(status="queued").delete()
    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    assert not TriageRun.objects.filter(status="queued").exists()  # nothing changed meanwhile


def test_an_import_with_human_labels_retrains(labelled_team, django_capture_on_commit_callbacks):
    from opportunities.importing import apply_import, parse_rows, read_upload

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    upload = read_upload("t.csv", b"job,task,exposure_label\nJob 0,Write the minutes,E1\n")
    with django_capture_on_commit_callbacks(execute=True):
        apply_import(labelled_team, parse_rows(upload.rows, upload.headers))
    assert TriageRun.objects.filter(status="queued").count() == 1


def test_the_task_page_explains_a_prediction_with_the_labelled_tasks_it_resembles(
    labelled_team, owner_client
):
    from django.urls import reverse

    service.execute(TriageRun.objects.create(team=labelled_team).pk)
    task = Task.objects.filter(label_source=LabelSource.PREDICTED).first()
    page = owner_client.get(reverse("task_detail", args=[labelled_team.slug, task.code])).text
    nearest = Task.objects.get(pk=task.exposure_prediction.neighbours[0][0])
    assert 'data-testid="prediction-explanation"' in page and "<em>predicted</em>" in page
    assert reverse("task_detail", args=[labelled_team.slug, nearest.code]) in page
    human = Task.objects.filter(label_source=LabelSource.HUMAN).first()
    page = owner_client.get(reverse("task_detail", args=[labelled_team.slug, human.code])).text
    assert "prediction-explanation" not in page


# --- labels from a model, by the rubric, for teams with few labels --------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "reason"),
    [
        ("Label: E1\nReason: Drafting text is what a chat model does.", "E1", "Drafting text is what a chat"),
        ("label: e2 reason: needs the document archive", "E2", "needs the document archive"),
        ("**Label:** E0 — physical work.\nReason: lifting boxes", "E0", "lifting boxes"),
        ("E 1", "E1", "E 1"),
        ("I cannot decide.", None, "I cannot decide."),
        ("Label: E7", None, "Label: E7"),
    ],
)
def test_the_rubric_answer_is_parsed_into_a_label_and_its_reason(text, label, reason):
    from opportunities.triage import rubric

    answer = rubric.parse(text)
    assert answer.label == label and answer.rationale.startswith(reason)


def test_the_rubric_prompt_carries_the_rubric_and_the_most_similar_labelled_examples():
    from opportunities.triage import rubric

    request = rubric.request_for("Write <b>letters</b>", "Clerk", [rubric.Example("Draft memos", "E1")] * 6)
    system, user = request.messages
    assert "E2 - exposure through LLM-powered software" in system.content
    assert (
        user.content.count("Draft memos") == rubric.MAX_EXAMPLES
        and "Task: Write <b>letters</b>" in user.content
    )
    assert request.params.temperature == 0 and request.params.max_new_tokens == rubric.MAX_TOKENS


def test_the_start_form_offers_only_the_teams_models(labelled_team, owner_client, stranger):
    from django.urls import reverse

    from tests.factories import make_model_config

    other = make_model_config(stranger.teams.get(), name="Their model")
    response = owner_client.post(reverse("triage_start", args=[labelled_team.slug]), {"model": other.pk})
    assert response.status_code == 302 and not TriageRun.objects.exists()
    page = owner_client.get(reverse("triage", args=[labelled_team.slug])).text
    assert "Pick one of the team" in page


@pytest.mark.realmodel
def test_with_few_labels_a_chosen_model_labels_tasks_by_the_rubric_with_its_reason(
    team, settings, owner_client
):
    """The real default model, two tasks: whatever it answers is stored as a marked prediction with the
    model's words, or the run says how many answers had no label. A human label is never touched."""
    from django.urls import reverse

    from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models

    settings.ASSAY_TRIAGE_RUBRIC_MAX_TASKS = 2
    model = next(m for m in enable_default_models(team) if m.name == DEFAULT_GENERATOR_NAME)
    job = Job.objects.create(team=team, title="Clerk")
    human = Task.objects.create(job=job, statement="File papers", exposure_label="E0", label_source="human")
    for statement in ("Write letters to customers", "Lift boxes onto the truck", "Sweep the floor"):
        Task.objects.create(job=job, statement=statement)
    run = service.execute(TriageRun.objects.create(team=team, model=model).pk)

    assert run.status == "done" and "tasks by the rubric" in run.message
    predictions = list(ExposurePrediction.objects.filter(run=run))
    assert len(predictions) == 2 or f"({2 - len(predictions)} answers had no label)" in run.message
    for prediction in predictions:
        assert (
            prediction.method == "rubric" and prediction.rationale and prediction.neighbours[0][0] == human.pk
        )
        task = Task.objects.get(pk=prediction.task_id)
        assert (task.exposure_label, task.label_source) == (prediction.label, LabelSource.PREDICTED)
        page = owner_client.get(reverse("task_detail", args=[team.slug, task.code])).text
        assert f"Labelled by {DEFAULT_GENERATOR_NAME} following the rubric" in page
    human.refresh_from_db()
    assert (human.exposure_label, human.label_source) == ("E0", LabelSource.HUMAN)
