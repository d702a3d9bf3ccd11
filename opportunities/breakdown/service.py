"""Running a task breakdown: one model call per run, on a worker, never inside a transaction.

start() checks the team's budget and that the member may use the model (the same rules as experiments),
then queues a run for the job (one active run per job) and sends it to the model's queue on commit.
execute() claims the run by compare-and-set, asks the model, parses its answer into TaskProposals and
keeps the raw answer whole. Nothing becomes a Task here: a person accepts each proposal (accept()).
"""

from __future__ import annotations

import logging
import statistics
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from llmcore import services as llm_services
from llmcore.engine.types import GenerationRequest, GenerationResult, ModelUnavailable, TransientBackendError
from llmcore.models import Modality, ModelConfig

from ..models import BreakdownRun, Job, Task, TaskProposal
from . import parsing, prompt

log = logging.getLogger(__name__)
State, Stage, Decision = BreakdownRun.State, BreakdownRun.Stage, TaskProposal.Decision
PURPOSE = "task breakdown"
ESTIMATE_FROM_RUNS = 5
# Longer than the Celery task's time limit (tasks.break_down_job): an active run this old is lost.
STALE_AFTER = timedelta(minutes=20)


class BreakdownError(Exception):
    """Why a breakdown cannot start (the message is for the person who asked)."""


def start(job: Job, model: ModelConfig, user, role: str | None) -> tuple[BreakdownRun, bool]:
    """The job's queued or running breakdown, or a new one (True) sent to a worker on commit.
    Raises BreakdownError, llmcore's BudgetExceeded or ModelNotAllowed with a message to show."""
    from experiments import broker

    team = job.team
    if model.modality != Modality.TEXT:
        raise BreakdownError(f"{model.name} is not a text generation model; pick one that writes text.")
    llm_services.check_model_allowed(model, team, role)
    llm_services.check_budget(team)
    try:
        broker.check_broker()  # fails in about a second, before anything is queued
    except broker.BrokerUnavailable as error:
        raise BreakdownError(
            f"The task queue is not answering, so nothing was started; try again once it is back ({error})."
        ) from error
    with transaction.atomic():
        Job.objects.select_for_update().filter(pk=job.pk).first()  # one start at a time per job
        active = BreakdownRun.objects.filter(job=job, status__in=(State.QUEUED, State.RUNNING)).first()
        if active is not None and active.created > timezone.now() - STALE_AFTER:
            return active, False
        if active is not None:  # its worker died or its message was lost: let a new run replace it
            BreakdownRun.objects.filter(pk=active.pk).update(
                status=State.FAILED, message="No worker finished this run in time.", finished=timezone.now()
            )
        run = BreakdownRun.objects.create(
            team=team,
            job=job,
            model=model,
            model_name=model.name,
            created_by=user,
            estimated_s=estimate_seconds(model),
        )
        from ..tasks import break_down_job

        queue = model.queue
        transaction.on_commit(lambda: break_down_job.apply_async((run.pk,), queue=queue))
    return run, True


def estimate_seconds(model: ModelConfig) -> float | None:
    """The median time of the model's last finished breakdowns, else the longest answer at its measured
    speed, else None (the page then says it has no estimate yet)."""
    recent = list(
        BreakdownRun.objects.filter(model=model, status=State.DONE, elapsed_s__isnull=False)
        .order_by("-finished")
        .values_list("elapsed_s", flat=True)[:ESTIMATE_FROM_RUNS]
    )
    if recent:
        return round(statistics.median(recent), 1)
    if model.measured_tokens_per_s:
        return round(prompt.MAX_NEW_TOKENS / model.measured_tokens_per_s, 1)
    return None


class _Stages:
    """engine.types.Progress for one call: the backend first asks `cancelled()` from its decoding loop,
    which is when loading is over and generation has begun."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.generating = False

    def report(self, results: list[GenerationResult]) -> None:
        pass

    def cancelled(self) -> bool:
        if not self.generating:
            self.generating = True
            BreakdownRun.objects.filter(pk=self.run_id, stage=Stage.LOADING).update(stage=Stage.GENERATING)
        return False


def execute(run_id: int, *, max_new_tokens: int = prompt.MAX_NEW_TOKENS) -> BreakdownRun | None:
    claimed = BreakdownRun.objects.filter(pk=run_id, status=State.QUEUED).update(
        status=State.RUNNING, stage=Stage.LOADING, started=timezone.now()
    )
    run = BreakdownRun.objects.select_related("job", "model").filter(pk=run_id).first()
    if run is None or not claimed:
        return run  # gone, or another worker has it
    try:
        _execute(run, max_new_tokens)
    except Exception as error:
        BreakdownRun.objects.filter(pk=run.pk).update(
            status=State.FAILED, message=_failure_message(error), finished=timezone.now()
        )
        if not isinstance(error, _MODEL_ERRORS):
            log.exception("breakdown run %s failed", run_id)
            raise
    run.refresh_from_db()
    return run


class ModelFailed(Exception):
    """The model's call came back with an error result (logged by run_inference)."""


_MODEL_ERRORS = (ModelUnavailable, TransientBackendError, llm_services.ModelNotAllowed, ModelFailed)


def _failure_message(error: Exception) -> str:
    if isinstance(error, _MODEL_ERRORS):
        return f"The model could not answer: {error}"
    return f"The breakdown failed ({type(error).__name__}: {error}). Try again, or pick another model."


def _execute(run: BreakdownRun, max_new_tokens: int) -> None:
    job, model = run.job, run.model
    if model is None:
        raise llm_services.ModelNotAllowed(f"{run.model_name} was deleted after the run was queued.")
    existing = list(job.tasks.order_by("id").values_list("statement", flat=True))
    built = prompt.build(
        job.title,
        job.description,
        existing,
        small=prompt.is_small(model.parameter_count, model.is_local),
        max_new_tokens=max_new_tokens,
        attempt=BreakdownRun.objects.filter(job=job, model=model, pk__lt=run.pk).count(),
    )
    BreakdownRun.objects.filter(pk=run.pk).update(prompt=built.text)
    request = GenerationRequest.from_prompt(built.text, built.params, key=f"breakdown:{run.pk}")
    started = time.perf_counter()
    result = llm_services.run_inference(
        model.pk,
        [request],
        team_id=run.team_id,
        user_id=run.created_by_id,
        purpose=PURPOSE,
        progress=_Stages(run.pk),
    )[0]
    elapsed = round(time.perf_counter() - started, 2)
    BreakdownRun.objects.filter(pk=run.pk).update(
        stage=Stage.PARSING,
        raw_output=result.text,
        finish_reason=str(result.finish_reason),
        tokens_out=max(result.tokens_out, 0),
        elapsed_s=elapsed,
    )
    if not result.ok:
        raise ModelFailed(result.error or f"it stopped with {result.finish_reason}")
    proposals = parsing.parse(result.text, job_title=job.title, existing=existing)
    with transaction.atomic():
        TaskProposal.objects.bulk_create(
            TaskProposal(
                run=run,
                position=i,
                statement=p.statement,
                kind=p.kind,
                kind_guessed=p.kind_guessed,
                hours_per_week=p.hours_per_week,
            )
            for i, p in enumerate(proposals)
        )
        BreakdownRun.objects.filter(pk=run.pk).update(
            status=State.DONE,
            stage=Stage.DONE,
            finished=timezone.now(),
            message=_done_message(result, proposals),
        )


def _done_message(result: GenerationResult, proposals: list[parsing.Proposal]) -> str:
    if proposals:
        return ""
    if not result.text.strip():
        return "The model gave an empty answer, so there is nothing to propose. Ask again or pick a larger model."
    return (
        "Nothing in the model's answer reads as a task (its answer is shown below). Small models often "
        "wander; ask again (each new try gives another list), add a job description, or pick a larger model."
    )


def accept(proposal_id: int, job: Job, fields: dict, user) -> Task | None:
    """Creates the task from the (possibly edited) fields and marks the proposal accepted; None if
    someone decided it meanwhile (the row is locked, so a double click creates one task)."""
    with transaction.atomic():
        proposal = TaskProposal.objects.select_for_update().filter(pk=proposal_id).first()
        if proposal is None or proposal.status != Decision.PROPOSED:
            return None
        task = Task.objects.create(job=job, label_source="", **fields)
        proposal.status, proposal.task, proposal.decided_by, proposal.decided = (
            Decision.ACCEPTED, task, user, timezone.now()
        )  # fmt: skip
        proposal.save(update_fields=["status", "task", "decided_by", "decided"])
    return task


def discard(proposal_id: int, user) -> bool:
    return bool(
        TaskProposal.objects.filter(pk=proposal_id, status=Decision.PROPOSED).update(
            status=Decision.DISCARDED, decided_by=user, decided=timezone.now()
        )
    )


def latest(job: Job) -> BreakdownRun | None:
    return BreakdownRun.objects.filter(job=job).select_related("created_by").first()
