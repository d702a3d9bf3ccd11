"""The demo team's reviews, so a newcomer sees verdicts without setting anything up.

Once a demo experiment linked to a task has finished and every output is scored, its two demo reviewers (demo-editor and
demo-auditor) each review its first outputs. Their verdicts follow the automatic scorer (pass: accept,
fail: reject, undecided: minor edit) and every review says so in its comment: they show how reviews
turn into verdicts; a real team's reviews come from people, in the review queue.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from experiments.models import Experiment, Generation, HumanReview, ReviewAssignment, Status
from experiments.services.reviews import assign_reviews
from experiments.signals import send_evidence_changed

from .demo import DEMO_TEAM_SLUG

DEMO_REVIEWERS = ("demo-editor", "demo-auditor")
OUTPUTS_PER_RUN = 40
COMMENT = "Demo review: follows the automatic scorer, to show how reviews feed verdicts."


def review_demo_experiments(experiment_ids) -> int:
    """Reviews the given experiments if they are the demo team's, finished, scored and not yet reviewed.
    Returns the number of reviews written."""
    written = 0
    experiments = (
        Experiment.objects.filter(
            pk__in=list(experiment_ids), team__slug=DEMO_TEAM_SLUG, status=Status.DONE, trial=False
        )
        .filter(tasks__isnull=False)  # the experiments that are a task's evidence, not the probes
        .distinct()
        .select_related("team")
    )
    for experiment in experiments:
        outputs = Generation.objects.filter(run__experiment=experiment, error="")
        if not experiment.scorers or outputs.filter(scored__isnull=True).exists():
            continue  # not scored yet: the scorer's last batch sends the signal again
        if HumanReview.objects.filter(generation__run__experiment=experiment).exists():
            continue
        reviewers = list(
            get_user_model()
            .objects.filter(username__in=DEMO_REVIEWERS, memberships__team=experiment.team)
            .order_by("username")
        )
        if len(reviewers) < len(DEMO_REVIEWERS):
            continue
        assign_reviews(experiment, reviewers, None, per_run=OUTPUTS_PER_RUN, per_output=len(reviewers))
        assignments = ReviewAssignment.objects.filter(generation__run__experiment=experiment).select_related(
            "generation"
        )
        reviews = [
            HumanReview(
                generation=a.generation,
                reviewer_id=a.reviewer_id,
                verdict={True: "accept", False: "reject"}.get(a.generation.passed, "minor_edit"),
                comment=COMMENT,
            )
            for a in assignments
        ]
        HumanReview.objects.bulk_create(reviews, ignore_conflicts=True)
        written += len(reviews)
        send_evidence_changed(experiment.pk)
    return written
