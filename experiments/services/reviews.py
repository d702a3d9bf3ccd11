"""Human review: assigning outputs to reviewers, the next one to judge, and recording a verdict."""

from __future__ import annotations

from ..models import Experiment, Generation, HumanReview, ReviewAssignment
from ..reviewing import share_out
from ..signals import send_evidence_changed


def assign_reviews(
    experiment: Experiment, reviewers: list, assigned_by, per_run: int, per_output: int = 1
) -> int:
    """Asks reviewers to judge up to `per_run` outputs of each run (the first repeat of each case, in
    case order, errors left out), each output by `per_output` of them. Returns new assignments."""
    pairs = []
    for run in experiment.runs.order_by("id"):
        outputs = list(
            Generation.objects.filter(run=run, repeat=0, error="")
            .order_by("case_version__case__key")
            .values_list("pk", flat=True)[:per_run]
        )
        pairs += share_out(outputs, [r.pk for r in reviewers], per_output)
    before = ReviewAssignment.objects.filter(generation__run__experiment=experiment).count()
    ReviewAssignment.objects.bulk_create(
        [ReviewAssignment(generation_id=g, reviewer_id=r, assigned_by=assigned_by) for g, r in pairs],
        ignore_conflicts=True,
        batch_size=500,
    )
    return ReviewAssignment.objects.filter(generation__run__experiment=experiment).count() - before


def next_assignment(experiment: Experiment, reviewer) -> ReviewAssignment | None:
    return (
        ReviewAssignment.objects.filter(reviewer=reviewer, generation__run__experiment=experiment)
        .exclude(generation__reviews__reviewer=reviewer)
        .select_related("generation__case_version__case", "generation__run")
        .order_by("generation__run_id", "generation__case_version__case__key", "generation_id")
        .first()
    )


def record_review(
    assignment: ReviewAssignment, reviewer, verdict: str, comment: str = "", edited_text: str = ""
) -> HumanReview:
    """Stores the reviewer's verdict; a minor edit keeps the corrected output when it differs from the
    model's (what the edit was is the evidence of how minor it is)."""
    if verdict == "minor_edit":
        original = (
            Generation.objects.filter(pk=assignment.generation_id).values_list("text", flat=True).first()
        )
        edited = (
            edited_text if edited_text.strip() and edited_text.strip() != (original or "").strip() else ""
        )
    else:
        edited = ""
    review, _ = HumanReview.objects.update_or_create(
        generation_id=assignment.generation_id,
        reviewer=reviewer,
        defaults={"verdict": verdict, "comment": comment, "edited_text": edited},
    )
    send_evidence_changed(
        Generation.objects.filter(pk=assignment.generation_id)
        .values_list("run__experiment_id", flat=True)
        .first()
    )
    return review
