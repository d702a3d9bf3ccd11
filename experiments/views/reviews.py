from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.pages import page_context

from .. import reviewing
from ..access import get_experiment_for_user
from ..forms import AssignReviewsForm, ReviewForm
from ..models import Generation, HumanReview, ReviewAssignment, Score, Status
from ..services.reviews import assign_reviews, next_assignment, record_review


@login_required
def review_queue(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """One output at a time, blind to the model and prompt; accept, minor edit or reject."""
    access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
    form = ReviewForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            assignment = ReviewAssignment.objects.filter(
                code=form.cleaned_data["assignment"],
                reviewer=request.user,
                generation__run__experiment=experiment,
            ).first()
            if assignment is None:
                messages.error(request, "That output is not in your review queue.")
            else:
                record_review(
                    assignment,
                    request.user,
                    form.cleaned_data["verdict"],
                    form.cleaned_data["comment"],
                    form.cleaned_data["edited_text"],
                )
                if not request.htmx:
                    return redirect("experiments:review_queue", team_slug, experiment.code)
                form = ReviewForm()
        elif not request.htmx:
            messages.error(request, "Choose accept, minor edit or reject.")
    mine = ReviewAssignment.objects.filter(reviewer=request.user, generation__run__experiment=experiment)
    counts = mine.aggregate(
        assigned=Count("id"), done=Count("id", filter=Q(generation__reviews__reviewer=request.user))
    )
    assignment = next_assignment(experiment, request.user)
    context = page_context(
        access,
        "experiments",
        experiment=experiment,
        assignment=assignment,
        generation=assignment.generation if assignment else None,
        form=form,
        counts=counts,
        percent=round(100 * counts["done"] / counts["assigned"]) if counts["assigned"] else 0,
    )
    name = "experiments/review_queue.html#item" if request.htmx else "experiments/review_queue.html"
    return render(request, name, context)


@login_required
def review_overview(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    """Who reviews what, how far they are, acceptance per run, and agreement between raters."""
    access, experiment = get_experiment_for_user(request, team_slug, code)
    form = AssignReviewsForm(request.POST or None, team=access.team)
    if request.method == "POST":
        access, experiment = get_experiment_for_user(request, team_slug, code, write=True)
        if experiment.status == Status.DRAFT:
            messages.error(request, "Start the experiment first: there are no outputs to review yet.")
        elif form.is_valid():
            created = assign_reviews(
                experiment,
                list(form.cleaned_data["reviewers"]),
                request.user,
                form.cleaned_data["per_run"],
                form.cleaned_data["per_output"],
            )
            messages.success(request, f"{created} review{'s' if created != 1 else ''} assigned.")
            return redirect("experiments:review_overview", team_slug, experiment.code)
    reviews = list(
        HumanReview.objects.filter(generation__run__experiment=experiment).values_list(
            "generation_id", "generation__run_id", "reviewer_id", "verdict"
        )
    )
    per_reviewer = (
        ReviewAssignment.objects.filter(generation__run__experiment=experiment)
        .values("reviewer_id", "reviewer__username")
        .annotate(assigned=Count("id"))
        .order_by("reviewer__username")
    )
    done = defaultdict(int)
    for _, _, reviewer_id, _ in reviews:
        done[reviewer_id] += 1
    names = dict(
        get_user_model().objects.filter(pk__in={r for _, _, r, _ in reviews}).values_list("pk", "username")
    )
    by_run = defaultdict(list)
    for _, run_id, _, verdict in reviews:
        by_run[run_id].append(verdict)
    runs = list(experiment.runs.select_related("prompt_version__template").order_by("id"))
    verdict_of = {(g, r): v for g, _, r, v in reviews}
    automatic = dict(
        Generation.objects.filter(pk__in={g for g, _, _, _ in reviews}).values_list("pk", "passed")
    )
    judge_position = next((i for i, c in enumerate(experiment.scorers) if c.get("name") == "llm_judge"), None)
    judge = {}
    if judge_position is not None:
        judge = dict(
            Score.objects.filter(
                generation__run__experiment=experiment,
                position=judge_position,
                generation__reviews__isnull=False,
            ).values_list("generation_id", "passed")
        )
    pairs = reviewing.reviewer_agreement([(g, names.get(r, r), v) for (g, r), v in verdict_of.items()])
    context = page_context(
        access,
        "experiments",
        experiment=experiment,
        form=form,
        reviewers=[
            {"name": row["reviewer__username"], "assigned": row["assigned"], "done": done[row["reviewer_id"]]}
            for row in per_reviewer
        ],
        acceptance=[(run, reviewing.acceptance(by_run.get(run.pk, []))) for run in runs],
        pairs=pairs,
        automatic_vs_people=reviewing.scorer_agreement(
            [(automatic.get(g), v) for (g, _), v in verdict_of.items()]
        ),
        judge_vs_people=reviewing.scorer_agreement([(judge.get(g), v) for (g, _), v in verdict_of.items()])
        if judge
        else None,
    )
    return render(request, "experiments/review_overview.html", context)
