"""The exposure pre-screen over the API, read only: the latest run and its predictions."""

from __future__ import annotations

import pytest

from opportunities.models import ExposurePrediction, LabelSource, TriageRun
from opportunities.triage import classifier, rubric
from tests.experiments.factories import make_model
from tests.factories import make_job, make_task

pytestmark = pytest.mark.django_db

T = "/api/v1/teams/acme/"
QUALITY = {"labels": 12, "accuracy": 0.75, "macro_f1": 0.7}


@pytest.fixture
def predicted(team):
    """Two human-labelled tasks and four predicted ones from the latest of two runs (one by a model)."""
    job = make_job(team)
    human = [
        make_task(
            job, "Answer <script>x()</script> emails", exposure_label="E1", label_source=LabelSource.HUMAN
        ),
        make_task(job, "Carry boxes", exposure_label="E0", label_source=LabelSource.HUMAN),
    ]
    TriageRun.objects.create(team=team, status="done", stage="Done", done=1, total=1)
    model = make_model(team, "Judge model")
    run = TriageRun.objects.create(
        team=team, status="done", stage="Done", done=4, total=4, method=classifier.METHOD, quality=QUALITY,
        predicted=4, model=model,
    )  # fmt: skip
    rows = []
    for number, (label, confidence) in enumerate([("E1", 0.9), ("E0", 0.4), ("E1", 0.6), ("E2", 0.5)]):
        task = make_task(job, f"Task {number}", exposure_label=label, label_source=LabelSource.PREDICTED)
        method = rubric.METHOD_CODE if number == 3 else classifier.METHOD_CODE
        rows.append(
            ExposurePrediction.objects.create(
                task=task,
                run=run,
                label=label,
                confidence=confidence,
                method=method,
                probabilities={"E0": 0.1, "E1": confidence, "E2": 0.9 - confidence},
                neighbours=[[human[0].id, "E1", 0.83], [999_999, "E0", 0.5], [human[1].id, "E0", 0.41]],
                rationale="Drafts <b>text</b>" if number == 3 else "",
            )  # fmt: skip
        )
    return run, human, rows


def test_personas_on_triage(api_as, stranger, viewer, editor, predicted):
    for url in [f"{T}triage/", f"{T}triage/predictions/"]:
        assert api_as(stranger).get(url).status_code == 404, url
        assert api_as(viewer).get(url).status_code == 200, url
        assert api_as(editor).get(url).status_code == 200, url
        assert api_as(viewer).post(url, {}, format="json").status_code == 405, url
        assert api_as(stranger).post(url, {}, format="json").status_code in (404, 405), url


def test_the_latest_run_with_its_quality(api_as, viewer, predicted):
    run = api_as(viewer).get(f"{T}triage/").json()
    assert (run["status"], run["stage"], run["done"], run["total"], run["percent"]) == (
        "done",
        "Done",
        4,
        4,
        100,
    )
    assert run["quality"] == QUALITY and run["model"] == "Judge model" and run["predicted"] == 4


def test_a_team_that_never_ran_it_gets_a_clear_404(api_as, viewer):
    response = api_as(viewer).get(f"{T}triage/")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "This team has not run the exposure pre-screen yet."
    assert api_as(viewer).get(f"{T}triage/predictions/").json()["count"] == 0


def test_predictions_least_confident_first_with_their_neighbours(api_as, viewer, predicted):
    _, human, rows = predicted
    listed = api_as(viewer).get(f"{T}triage/predictions/").json()
    assert [p["confidence"] for p in listed["results"]] == [0.4, 0.5, 0.6, 0.9]
    first = listed["results"][0]
    assert first["task"] == str(rows[1].task.code) and first["label"] == "E0"
    assert first["method"] == classifier.METHOD_CODE and first["method_name"] == classifier.METHOD
    # The deleted neighbour is left out; the others are named by their codes.
    assert first["neighbours"] == [
        {"task": str(human[0].code), "label": "E1", "similarity": 0.83},
        {"task": str(human[1].code), "label": "E0", "similarity": 0.41},
    ]
    by_model = listed["results"][1]
    assert by_model["method_name"] == "Judge model" and by_model["rationale"] == "Drafts <b>text</b>"


def test_predictions_filter_by_label_and_skip_tasks_a_person_labelled_since(api_as, viewer, predicted):
    _, _, rows = predicted
    client = api_as(viewer)
    e1 = client.get(f"{T}triage/predictions/", {"label": "E1"}).json()["results"]
    assert sorted(p["task"] for p in e1) == sorted(str(rows[i].task.code) for i in (0, 2))
    type(rows[0].task).objects.filter(pk=rows[0].task.pk).update(label_source=LabelSource.HUMAN)
    assert client.get(f"{T}triage/predictions/", {"label": "E1"}).json()["count"] == 1
    bad = client.get(f"{T}triage/predictions/", {"label": "E9"})
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"label"}


def test_the_prediction_list_uses_a_fixed_number_of_queries(
    api_as, viewer, predicted, django_assert_max_num_queries
):
    run, human, _ = predicted
    job = human[0].job
    for number in range(10):
        task = make_task(job, f"More {number}", exposure_label="E2", label_source=LabelSource.PREDICTED)
        ExposurePrediction.objects.create(
            task=task, run=run, label="E2", confidence=0.7, method=classifier.METHOD_CODE,
            neighbours=[[human[0].id, "E1", 0.5]],
        )  # fmt: skip
    client = api_as(viewer)
    with django_assert_max_num_queries(8):
        listed = client.get(f"{T}triage/predictions/").json()
    assert listed["count"] == 14 and all(p["neighbours"] for p in listed["results"])
