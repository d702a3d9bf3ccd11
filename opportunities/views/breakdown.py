"""Task breakdown of a job: pick a model, let it propose tasks on a worker (the page polls its stage),
then accept (as proposed or edited), or discard, each proposal. Nothing is added without a click."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from accounts.access import PORTFOLIO, READ, TeamAccess, get_object_for_team
from accounts.pages import page_context, wants_fragment
from llmcore import services as llm_services
from llmcore.seed import DEFAULT_GENERATOR_NAME

from ..access import get_job_for_user
from ..breakdown import service
from ..breakdown.forms import BreakdownStartForm, ProposalForm
from ..models import BreakdownRun, Job, TaskProposal

TEMPLATE = "opportunities/breakdown.html"


def get_proposal_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, TaskProposal]:
    return get_object_for_team(
        request,
        slug,
        TaskProposal.objects.select_related("run__job"),
        PORTFOLIO if write else READ,
        code=code,
        team_field="run__team",
    )


def _proposal_form(proposal: TaskProposal, data=None) -> ProposalForm:
    initial = {"statement": proposal.statement, "kind": proposal.kind}
    if proposal.hours_per_week is not None:
        initial["hours_per_week"] = proposal.hours_per_week
    return ProposalForm(data, initial=initial, auto_id=f"proposal-{proposal.code}-%s")


def _rows(run: BreakdownRun | None, bound: dict[int, ProposalForm] | None = None) -> list:
    if run is None:
        return []
    bound = bound or {}
    return [
        (p, bound.get(p.pk) or _proposal_form(p)) for p in run.proposals.select_related("task", "decided_by")
    ]


def _context(access: TeamAccess, job: Job, run: BreakdownRun | None, **extra) -> dict:
    counts = dict.fromkeys(TaskProposal.Decision.values, 0)
    if run is not None:
        for proposal in extra.get("rows", []):
            counts[proposal[0].status] += 1
    running_s = None
    if run is not None and run.active and run.started is not None:
        running_s = (timezone.now() - run.started).total_seconds()
    return page_context(
        access,
        "jobs",
        job=job,
        run=run,
        counts=counts,
        running_s=running_s,
        default_model_name=DEFAULT_GENERATOR_NAME,
        **extra,
    )


def _page(request, access, job, *, form=None, bound=None, status=200) -> HttpResponse:
    run = service.latest(job)
    if form is None and access.can_edit_portfolio:
        form = BreakdownStartForm(team=access.team, role=access.role)
    context = _context(access, job, run, rows=_rows(run, bound), form=form)
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_GET
def breakdown(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code)
    if wants_fragment(request) and request.htmx.target == "breakdown-run":
        run = service.latest(job)
        context = _context(access, job, run, rows=_rows(run))
        response = render(request, f"{TEMPLATE}#run", context)
        return response if run is not None and run.active else HttpResponseStopPolling(response.content)
    return _page(request, access, job)


@login_required
@require_POST
def breakdown_start(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, job = get_job_for_user(request, team_slug, code, write=True)
    form = BreakdownStartForm(request.POST, team=access.team, role=access.role)
    if not form.is_valid():
        return _page(request, access, job, form=form, status=400)
    try:
        _, started = service.start(job, form.cleaned_data["model"], request.user, access.role)
    except (service.BreakdownError, llm_services.BudgetExceeded, llm_services.ModelNotAllowed) as error:
        form.add_error("model", str(error))
        return _page(request, access, job, form=form, status=400)
    if started:
        messages.success(request, "The model is proposing tasks on a worker; this page follows it.")
    else:
        messages.info(request, "A breakdown of this job is already running; this page follows it.")
    return redirect("job_breakdown", team_slug=team_slug, code=job.code)


def _decided(request, team_slug: str, access, proposal: TaskProposal) -> HttpResponse:
    """After a decision: the proposal's row for htmx, the page otherwise."""
    if wants_fragment(request):
        proposal.refresh_from_db()
        context = _context(access, proposal.run.job, proposal.run, proposal=proposal)
        context["form"] = None
        context["row_form"] = _proposal_form(proposal)
        return render(request, f"{TEMPLATE}#proposal", context)
    return redirect("job_breakdown", team_slug=team_slug, code=proposal.run.job.code)


@login_required
@require_POST
def proposal_accept(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, proposal = get_proposal_for_user(request, team_slug, code, write=True)
    job = proposal.run.job
    form = _proposal_form(proposal, request.POST)
    if proposal.status != TaskProposal.Decision.PROPOSED:
        messages.info(request, f"This proposal was already {proposal.get_status_display().lower()}.")
        return _decided(request, team_slug, access, proposal)
    if not form.is_valid():
        if wants_fragment(request):
            context = _context(access, job, proposal.run, proposal=proposal, row_form=form)
            return render(request, f"{TEMPLATE}#proposal", context, status=400)
        return _page(request, access, job, bound={proposal.pk: form}, status=400)
    task = service.accept(proposal.pk, job, form.cleaned_data, request.user)
    if task is None:
        messages.info(request, "Someone decided this proposal a moment ago; nothing was added.")
    else:
        messages.success(request, f"Added the task “{task.statement[:80]}”.")
    return _decided(request, team_slug, access, proposal)


@login_required
@require_POST
def proposal_discard(request: HttpRequest, team_slug: str, code) -> HttpResponse:
    access, proposal = get_proposal_for_user(request, team_slug, code, write=True)
    if not service.discard(proposal.pk, request.user):
        messages.info(request, f"This proposal was already {proposal.get_status_display().lower()}.")
    return _decided(request, team_slug, access, proposal)
