from __future__ import annotations

import pytest
from django.urls import reverse

from experiments.evidence import evidence_by_run
from experiments.models import HumanReview, ReviewAssignment
from experiments.reviewing import acceptance, reviewer_agreement, scorer_agreement, share_out
from experiments.run_evidence import RunEvidence
from experiments.services import grid, reviews
from tests.experiments.factories import drive, make_dataset, make_experiment
from tests.llmcore.registry_fakes import install_fake_engine


def url(name, team, *args):
    return reverse(f"experiments:{name}", args=[team.slug, *args])


def test_acceptance_counts_accepted_and_usable_outputs():
    result = acceptance(["accept", "accept", "minor_edit", "reject"])
    assert (result.accepted.successes, result.usable.successes, result.reviews) == (2, 3, 4)
    assert (result.accepted_percent, result.usable_percent) == ("50%", "75%")


def test_reviewer_agreement_uses_the_outputs_both_reviewed():
    reviews = [
        (1, "ann", "accept"),
        (2, "ann", "reject"),
        (3, "ann", "accept"),
        (1, "bob", "accept"),
        (2, "bob", "reject"),
        (4, "bob", "reject"),
    ]
    (pair,) = reviewer_agreement(reviews)
    assert (pair.first, pair.second, pair.result.n, pair.result.kappa) == ("ann", "bob", 2, 1.0)


def test_scorer_agreement_counts_minor_edits_as_passes_and_skips_undecided():
    result = scorer_agreement([(True, "accept"), (True, "minor_edit"), (False, "reject"), (None, "accept")])
    assert result.n == 3 and result.kappa == 1.0
    assert scorer_agreement([(None, "accept")]) is None


def test_outputs_are_shared_out_evenly_with_overlap():
    assert share_out([1, 2, 3], ["a", "b"], 1) == [(1, "a"), (2, "b"), (3, "a")]
    assert share_out([1, 2], ["a", "b", "c"], 2) == [(1, "a"), (1, "b"), (2, "b"), (2, "c")]
    assert share_out([1], ["a"], 2) == [(1, "a")]


@pytest.fixture
def finished(team, owner, editor, monkeypatch, django_capture_on_commit_callbacks):
    install_fake_engine(monkeypatch)
    experiment = make_experiment(
        team,
        owner,
        dataset=make_dataset(team, cases=4, author=owner),
        scorers=[
            {
                "name": "contains",
                "params": {"strings": ["number 1", "number 2"], "mode": "any"},
                "threshold": 1.0,
                "weight": 1,
            }
        ],
    )
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    return experiment


def test_an_owner_assigns_outputs_to_two_reviewers_each(team, finished, owner, editor, as_user):
    response = as_user(owner).post(
        url("review_overview", team, finished.code),
        {"reviewers": [owner.pk, editor.pk], "per_run": 3, "per_output": 2},
        follow=True,
    )
    assert "6 reviews assigned." in response.text
    assert ReviewAssignment.objects.filter(reviewer=editor).count() == 3


def test_the_queue_shows_one_output_at_a_time_and_records_verdicts(team, finished, owner, editor, as_user):
    reviews.assign_reviews(finished, [editor], owner, per_run=2)
    client = as_user(editor)
    page = client.get(url("review_queue", team, finished.code))
    assert "0 of 2 reviewed" in page.text and "Ticket number 1" in page.text
    first = (
        ReviewAssignment.objects.filter(reviewer=editor)
        .order_by("generation__case_version__case__key")
        .first()
    )

    response = client.post(
        url("review_queue", team, finished.code),
        {"assignment": first.code, "verdict": "minor_edit", "comment": "too long"},
    )
    assert response.status_code == 302
    review = HumanReview.objects.get()
    assert (review.reviewer, review.verdict, review.comment) == (editor, "minor_edit", "too long")

    fragment = client.post(
        url("review_queue", team, finished.code),
        {
            "assignment": ReviewAssignment.objects.exclude(pk=first.pk).get(reviewer=editor).code,
            "verdict": "accept",
        },
        HTTP_HX_REQUEST="true",
    )
    assert fragment.text.strip().startswith('<div id="review-item">')
    assert "All done" in fragment.text


def test_a_minor_edit_keeps_the_corrected_output_and_the_page_offers_it_for_editing(
    team, finished, owner, editor, as_user
):
    reviews.assign_reviews(finished, [editor], owner, per_run=2)
    client = as_user(editor)
    page = client.get(url("review_queue", team, finished.code)).text
    assert 'name="edited_text"' in page and "Ctrl</kbd>+<kbd>Enter</kbd>" in page and "<kbd>Esc</kbd>" in page
    first, second = ReviewAssignment.objects.filter(reviewer=editor).order_by(
        "generation__case_version__case__key"
    )
    original = first.generation.text
    client.post(
        url("review_queue", team, finished.code),
        {"assignment": first.code, "verdict": "minor_edit", "edited_text": "billing"},
    )
    # Unchanged text (or any text with another verdict) is not stored as an edit.
    client.post(
        url("review_queue", team, finished.code),
        {"assignment": second.code, "verdict": "accept", "edited_text": "something else"},
    )
    edited = HumanReview.objects.get(generation=first.generation)
    assert (edited.verdict, edited.edited_text) == ("minor_edit", "billing") and original != "billing"
    assert HumanReview.objects.get(generation=second.generation).edited_text == ""


def test_a_reviewer_cannot_review_someone_elses_assignment(team, finished, owner, editor, as_user):
    reviews.assign_reviews(finished, [owner], owner, per_run=1)
    assignment = ReviewAssignment.objects.get()
    as_user(editor).post(
        url("review_queue", team, finished.code), {"assignment": assignment.code, "verdict": "accept"}
    )
    assert not HumanReview.objects.exists()


def test_viewers_cannot_review_or_assign_and_strangers_see_nothing(
    team, finished, owner, viewer, stranger, as_user
):
    reviews.assign_reviews(finished, [owner], owner, per_run=1)
    assignment = ReviewAssignment.objects.get()
    client = as_user(viewer)
    assert client.get(url("review_overview", team, finished.code)).status_code == 200
    assert client.get(url("review_queue", team, finished.code)).status_code == 403
    assert (
        client.post(
            url("review_queue", team, finished.code), {"assignment": assignment.code, "verdict": "accept"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url("review_overview", team, finished.code),
            {"reviewers": [viewer.pk], "per_run": 1, "per_output": 1},
        ).status_code
        == 403
    )
    stranger_client = as_user(stranger)
    assert stranger_client.get(url("review_overview", team, finished.code)).status_code == 404
    assert stranger_client.get(url("review_queue", team, finished.code)).status_code == 404


def test_the_overview_shows_acceptance_and_agreement(
    team, finished, owner, editor, as_user, django_assert_max_num_queries
):
    reviews.assign_reviews(finished, [owner, editor], owner, per_run=4, per_output=2)
    for assignment in ReviewAssignment.objects.select_related("generation__case_version__case"):
        key = assignment.generation.case_version.case.key
        verdict = "accept" if key in ("T-001", "T-002") else "reject"
        reviews.record_review(assignment, assignment.reviewer, verdict)
    client = as_user(owner)
    with django_assert_max_num_queries(14):
        page = client.get(url("review_overview", team, finished.code))
    assert "50% <span" in page.text  # accepted as is: 4 of 8 reviews
    assert "κ = (observed 1.000" in page.text
    assert "Automatic pass/fail vs people" in page.text


def test_run_evidence_has_the_feasibility_verdicts_inputs(team, finished, owner):
    reviews.assign_reviews(finished, [owner], owner, per_run=4)
    for i, assignment in enumerate(ReviewAssignment.objects.order_by("id")):
        reviews.record_review(assignment, owner, ["accept", "accept", "minor_edit", "reject"][i])
    run = finished.runs.get()
    evidence = evidence_by_run([run.pk])[run.pk]
    assert isinstance(evidence, RunEvidence)
    assert (evidence.cases_scored, evidence.cases_passed) == (4, 2)
    assert (evidence.reviews_accepted, evidence.reviews_minor_edit, evidence.reviews_rejected) == (2, 1, 1)
    assert evidence.reviews == 4
    assert evidence.cost_per_1k_cases == pytest.approx(1.5)
    assert evidence.batch_p95_latency_s == pytest.approx(0.25)  # inside the batch
    assert evidence.p95_latency_s is None  # no single-request sample measured yet
    run.single_latency = {"cases": 4, "p50_s": 0.4, "p95_s": 0.9}
    run.save(update_fields=["single_latency"])
    assert evidence_by_run([run.pk])[run.pk].p95_latency_s == pytest.approx(0.9)
