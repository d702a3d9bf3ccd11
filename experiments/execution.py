"""What the Celery tasks do: plan runs into batches, generate a batch, finalise runs (scoring is in
scoring.py).

The rules that make a killed worker lose and duplicate nothing:
- a batch is claimed by compare-and-set on its status and attempt counter, never by a lock;
- before generating, a worker re-reads which (case version, repeat) items already have a generation
  and skips them; Generation is unique per (run, case version, repeat) and written with
  ignore_conflicts, so a batch generated twice still stores one output per item;
- the model is called outside any transaction; rows are written after it returns;
- a run is finalised (done / failed) by whichever worker finds no batch left queued or running, again
  by compare-and-set, so two workers finishing together cannot both finalise it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from llmcore import services as llm_services
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import FinishReason, GenerationRequest, GenerationResult, ModelUnavailable
from llmcore.models import ModelConfig

from . import keys
from .guards import apply_outbound_guards
from .models import ACTIVE, FINISHED, Experiment, Generation, Run, RunBatch, SnapshotEntry, Status
from .models import TestCaseVersion as CaseVersion
from .rendering import PromptError, render_prompt
from .signals import send_evidence_changed

log = logging.getLogger(__name__)

# A batch claimed this long ago whose worker never finished is taken over by the next delivery of its
# message, even if the broker did not flag that delivery as a redelivery.
STALE_CLAIM = timedelta(minutes=30)
# Rows per query when looking up many keys at once (SQLite's parameter limit).
CHUNK = 500

Item = tuple[int, int]  # (case version id, repeat index)


# Planning -----------------------------------------------------------------------------------------


@dataclass
class Plan:
    batches: list[tuple[int, str]] = field(default_factory=list)  # (batch id, queue) to enqueue
    copied: dict[int, list[int]] = field(default_factory=dict)  # run id -> reused generation ids to score


def plan_experiment(experiment_id: int) -> Plan:
    """Creates the batches each active run still needs and lists every queued batch to enqueue.
    Safe to run again (a redelivered orchestrator): it plans only items that have neither an output
    nor a batch, and re-sends queued batches (the claim makes a duplicate message a no-op)."""
    plan = Plan()
    experiment = Experiment.objects.filter(pk=experiment_id).select_related("snapshot").first()
    if experiment is None or experiment.status not in ACTIVE or experiment.snapshot is None:
        return plan
    Experiment.objects.filter(pk=experiment.pk, status=Status.QUEUED).update(status=Status.RUNNING)
    case_version_ids = list(
        SnapshotEntry.objects.filter(snapshot=experiment.snapshot)
        .order_by("case_version__case__key")
        .values_list("case_version_id", flat=True)
    )
    if experiment.trial:
        case_version_ids = case_version_ids[: settings.ASSAY_TRIAL_CASES]
    items = [(cv, repeat) for cv in case_version_ids for repeat in range(experiment.repeats)]
    for run in experiment.runs.filter(status__in=ACTIVE).select_related("prompt_version"):
        copied = plan_run(run, experiment, items)
        if copied:
            plan.copied[run.pk] = copied
        plan.batches += [
            (pk, run.queue) for pk in run.batches.filter(status=Status.QUEUED).values_list("pk", flat=True)
        ]
        finalise_run(run.pk)
    return plan


def plan_run(run: Run, experiment: Experiment, items: list[Item]) -> list[int]:
    """Creates batches for the run's items that have no output and no batch yet. Cached outputs are
    reused by the worker that runs each batch, once it knows how it runs the model (precision and
    decoding path are part of what makes an output reusable). Returns the ids of generations copied
    earlier that still await scoring."""
    done = set(Generation.objects.filter(run=run).values_list("case_version_id", "repeat"))
    covered: set[Item] = set()
    for batch_items in run.batches.exclude(status__in=[Status.FAILED, Status.CANCELLED]).values_list(
        "items", flat=True
    ):
        covered.update((cv, repeat) for cv, repeat in batch_items)
    pending = [item for item in items if item not in done and item not in covered]
    copied = list(
        Generation.objects.filter(run=run, reused_from__isnull=False, scored__isnull=True).values_list(
            "pk", flat=True
        )
    )
    now = timezone.now()
    # Items (case version × repeat) generated by one task in one engine call: the one setting
    # ASSAY_EXPERIMENT_BATCH_ITEMS. The engine batches inside the call; larger tasks amortise the
    # per-task overhead, smaller ones let cancel act sooner.
    size = settings.ASSAY_EXPERIMENT_BATCH_ITEMS
    with transaction.atomic():
        start = (run.batches.aggregate(n=Max("number"))["n"] or 0) + 1
        batches = [
            RunBatch(run=run, number=start + i, items=[list(item) for item in pending[at : at + size]])
            for i, at in enumerate(range(0, len(pending), size))
        ]
        RunBatch.objects.bulk_create(batches)
        Run.objects.filter(pk=run.pk, status=Status.QUEUED).update(status=Status.RUNNING, started=now)
    return copied


def item_cache_key(run: Run, item: Item) -> str:
    """Reads run.prompt_version: one query if not loaded."""
    return keys.cache_key(
        run.prompt_version.content_hash, run.model_identity, run.params_hash, item[0], item[1]
    )


def copy_cached_generations(run: Run, experiment: Experiment, items: list[Item]) -> set[Item]:
    """Copies the team's earlier error-free outputs of identical requests into this run."""
    wanted = {item_cache_key(run, item): item for item in items}
    found: dict[str, Generation] = {}
    key_list = list(wanted)
    for at in range(0, len(key_list), CHUNK):
        for generation in (
            Generation.objects.filter(
                cache_key__in=key_list[at : at + CHUNK], error="", run__experiment__team_id=experiment.team_id
            )
            .exclude(run=run)
            .order_by("id")
        ):
            found.setdefault(generation.cache_key, generation)
    copies = [
        Generation(
            run=run,
            case_version_id=wanted[key][0],
            repeat=wanted[key][1],
            text=original.text,
            tokens_in=original.tokens_in,
            tokens_out=original.tokens_out,
            latency_s=original.latency_s,
            cost=original.cost,
            finish_reason=original.finish_reason,
            cache_key=key,
            reused_from_id=original.reused_from_id or original.pk,
        )
        for key, original in found.items()
    ]
    Generation.objects.bulk_create(copies, ignore_conflicts=True, batch_size=CHUNK)
    return {wanted[key] for key in found}


# Generating ---------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    status: str  # generated | skipped | cancelled | failed
    generation_ids: list[int] = field(default_factory=list)
    run_id: int | None = None
    message: str = ""


def claim_batch(batch: RunBatch, redelivered: bool, worker: str) -> int | None:
    """The attempt number this worker now holds, or None if another worker has the batch."""
    now = timezone.now()
    claimed = RunBatch.objects.filter(pk=batch.pk, status=Status.QUEUED, attempts=batch.attempts).update(
        status=Status.RUNNING, attempts=batch.attempts + 1, claimed=now, worker=worker[:200]
    )
    if claimed:
        return batch.attempts + 1
    batch.refresh_from_db()
    abandoned = batch.status == Status.RUNNING and (
        redelivered or batch.claimed is None or batch.claimed < now - STALE_CLAIM
    )
    if not abandoned:
        return None
    # The worker holding it died (its message came back): take it over.
    taken = RunBatch.objects.filter(pk=batch.pk, status=Status.RUNNING, attempts=batch.attempts).update(
        attempts=batch.attempts + 1, claimed=now, worker=worker[:200]
    )
    return batch.attempts + 1 if taken else None


def generate_batch(
    batch_id: int,
    *,
    redelivered: bool = False,
    worker: str = "",
    on_saved: Callable[[int, list[int]], None] | None = None,
) -> BatchOutcome:
    """Generates one batch. Outputs are saved as the engine finishes them (every few seconds), and
    on_saved(run id, generation ids) is told of each group saved before the batch ends (to score them
    while the rest decodes); the ids returned are the batch's outputs not handed to on_saved. The call
    stops within seconds when the run is cancelled or another worker takes the batch over."""
    batch = (
        RunBatch.objects.select_related("run__experiment", "run__prompt_version").filter(pk=batch_id).first()
    )
    if batch is None or batch.status in FINISHED:
        return BatchOutcome("skipped")
    run = batch.run
    if run.status in FINISHED:
        RunBatch.objects.filter(pk=batch.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished=timezone.now()
        )
        finalise_run(run.pk)
        return BatchOutcome("cancelled", run_id=run.pk)
    attempt = claim_batch(batch, redelivered, worker)
    if attempt is None:
        return BatchOutcome("skipped", run_id=run.pk, message="claimed by another worker")
    saving = _SavingProgress(batch, run, attempt, on_saved)
    try:
        ids = _generate(batch, run, saving)
    except (ModelUnavailable, llm_services.ModelNotAllowed, ModelConfig.DoesNotExist) as exc:
        message = (
            f"The model {run.model_name} was deleted from the registry before this batch ran."
            if isinstance(exc, ModelConfig.DoesNotExist)
            else str(exc)
        )
        fail_run(run.pk, message)
        return BatchOutcome("failed", run_id=run.pk, message=message)
    except SoftTimeLimitExceeded:
        message = "This batch took longer than the time limit; try fewer cases per batch or a faster model."
        fail_batch(batch.pk, message)
        return BatchOutcome("failed", run_id=run.pk, message=message)
    finished = RunBatch.objects.filter(pk=batch.pk, status=Status.RUNNING, attempts=attempt).update(
        status=Status.DONE, finished=timezone.now(), message=""
    )
    finalise_run(run.pk)
    ids = [pk for pk in ids if pk not in saving.handed_over]
    return BatchOutcome("generated" if finished else "cancelled", generation_ids=ids, run_id=run.pk)


class _SavingProgress:
    """The engine's progress hook for one batch: saves outputs as they are reported (so the progress
    bar moves while a large batch decodes) and stops the call once the batch is no longer this worker's
    to finish (its run was cancelled, or another worker took it over)."""

    def __init__(self, batch: RunBatch, run: Run, attempt: int, on_saved):
        self.batch, self.run, self.attempt, self.on_saved = batch, run, attempt, on_saved
        self.handed_over: set[int] = set()
        self.saved_keys: set[str] = set()

    def report(self, results: list[GenerationResult]) -> None:
        rows = [_row(self.run, _item(result.key), result=result) for result in results]
        Generation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
        self.saved_keys.update(result.key for result in results)
        if self.on_saved is None:
            return
        ids = [
            pk
            for pk in Generation.objects.filter(
                run=self.run, cache_key__in=[row.cache_key for row in rows], scored__isnull=True
            ).values_list("pk", flat=True)
            if pk not in self.handed_over
        ]
        if ids:
            self.handed_over.update(ids)
            self.on_saved(self.run.pk, ids)

    def cancelled(self) -> bool:
        return not RunBatch.objects.filter(
            pk=self.batch.pk, status=Status.RUNNING, attempts=self.attempt, run__status__in=ACTIVE
        ).exists()


def _generate(batch: RunBatch, run: Run, saving: _SavingProgress | None = None) -> list[int]:
    experiment = run.experiment
    items: list[Item] = [(cv, repeat) for cv, repeat in batch.items]
    case_version_ids = sorted({cv for cv, _ in items})
    done = set(
        Generation.objects.filter(run=run, case_version_id__in=case_version_ids).values_list(
            "case_version_id", "repeat"
        )
    )
    todo = [item for item in items if item not in done]
    if not todo:
        return _unscored(run, case_version_ids)
    record_profile(run)
    if experiment.reuse_cached:
        reused = copy_cached_generations(run, experiment, todo)
        todo = [item for item in todo if item not in reused]
    versions = {v.pk: v for v in CaseVersion.objects.filter(pk__in={cv for cv, _ in todo})}
    content = run.prompt_version.content()
    params = InferenceParams.from_dict(run.params)
    rows: list[Generation] = []
    requests: list[GenerationRequest] = []
    for item in todo:
        try:
            rendered = render_prompt(content, versions[item[0]].inputs)
        except PromptError as exc:
            rows.append(_row(run, item, error=str(exc)))
            continue
        requests.append(
            GenerationRequest(
                messages=rendered.messages, params=params_for_repeat(params, item[1]), key=_key(item)
            )
        )
    if requests:
        guarded = apply_outbound_guards(run, requests)
        rows += [_row(run, _item(key), error=reason) for key, reason in guarded.refused.items()]
        requests = guarded.requests
    Generation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    if requests:
        # Never inside a transaction: this call takes seconds to minutes. The progress hook saves
        # outputs as the engine reports them; whatever it did not report is saved here.
        results = llm_services.run_inference(
            run.model_id,
            requests,
            team_id=experiment.team_id,
            user_id=experiment.started_by_id,
            purpose="experiment",
            progress=saving,
        )
        saved = saving.saved_keys if saving is not None else set()
        rows = [
            _row(run, _item(result.key), result=result)
            for result in results
            if result.finish_reason != FinishReason.CANCELLED and result.key not in saved
        ]
        Generation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    return _unscored(run, case_version_ids)


def _unscored(run: Run, case_version_ids: list[int]) -> list[int]:
    return list(
        Generation.objects.filter(
            run=run, case_version_id__in=case_version_ids, scored__isnull=True
        ).values_list("pk", flat=True)
    )


def record_profile(run: Run) -> None:
    """Puts how this worker runs the model (precision, decoding path) into the run's identity, so
    outputs are reused only between runs that computed them the same way. Updates `run` in place."""
    config = ModelConfig.objects.get(pk=run.model_id)  # DoesNotExist: deleted from the registry
    profile = llm_services.execution_profile(config)
    identity = keys.model_identity(config.to_spec().cache_key, profile.precision, profile.decoding)
    if (run.precision, run.decoding) == (profile.precision, profile.decoding) or run.precision == "mixed":
        run.model_identity = identity
        return
    if run.precision:
        # Another kind of worker ran earlier batches: each output keeps its own key; the run says so.
        Run.objects.filter(pk=run.pk).update(precision="mixed", decoding="mixed")
        run.precision = run.decoding = "mixed"
    else:
        Run.objects.filter(pk=run.pk).update(
            precision=profile.precision, decoding=profile.decoding, model_identity=identity
        )
        run.precision, run.decoding = profile.precision, profile.decoding
    run.model_identity = identity


def params_for_repeat(params: InferenceParams, repeat: int) -> InferenceParams:
    """A seeded sampled run gives each repeat its own seed (seed + repeat): reproducible, yet the
    repeats are distinct samples rather than copies of the first."""
    if params.seed is None or repeat == 0:
        return params
    return dataclasses.replace(params, seed=(params.seed + repeat) % 2**32)


def _key(item: Item) -> str:
    return f"{item[0]}:{item[1]}"


def _item(key: str) -> Item:
    cv, repeat = key.split(":")
    return int(cv), int(repeat)


def _row(run: Run, item: Item, result: GenerationResult | None = None, error: str = "") -> Generation:
    row = Generation(
        run=run,
        case_version_id=item[0],
        repeat=item[1],
        cache_key=item_cache_key(run, item),
        finish_reason="error",
        error=error,
    )
    if result is not None:
        row.text = result.text
        row.tokens_in = max(result.tokens_in, 0)
        row.tokens_out = max(result.tokens_out, 0)
        row.latency_s = result.latency_s
        row.cost = Decimal(str(round(result.cost, 6)))
        row.finish_reason = str(result.finish_reason)
        row.error = result.error if not result.ok else ""
        if not result.ok and not row.error:
            row.error = "the model returned an error without a message"
    return row


def release_batch(batch_id: int) -> None:
    """Puts a batch back in the queue before a retry (a transient model error)."""
    RunBatch.objects.filter(pk=batch_id, status=Status.RUNNING).update(status=Status.QUEUED)


def release_stalled_batches(claimed_before) -> int:
    """Running batches claimed before this time (their worker presumably died) go back to the queue.
    If the worker was only slow, both finish: outputs stay one per item, only work is wasted."""
    return RunBatch.objects.filter(
        status=Status.RUNNING, claimed__lt=claimed_before, run__status__in=ACTIVE
    ).update(status=Status.QUEUED)


def fail_batch(batch_id: int, message: str) -> None:
    batch = RunBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return
    RunBatch.objects.filter(pk=batch_id, status__in=ACTIVE).update(
        status=Status.FAILED, finished=timezone.now(), message=message[:2000]
    )
    finalise_run(batch.run_id)


def fail_run(run_id: int, message: str) -> None:
    """A permanent failure (model files missing, model no longer allowed): stop the whole run."""
    now = timezone.now()
    with transaction.atomic():
        RunBatch.objects.filter(run_id=run_id, status__in=ACTIVE).update(
            status=Status.FAILED, finished=now, message=message[:2000]
        )
        Run.objects.filter(pk=run_id, status__in=ACTIVE).update(
            status=Status.FAILED, finished=now, message=message
        )
    finalise_experiment(Run.objects.values_list("experiment_id", flat=True).get(pk=run_id))


# Finalising ---------------------------------------------------------------------------------------


def finalise_run(run_id: int) -> str | None:
    """Done when every item has an output, failed when a batch failed; no-op while batches remain."""
    if RunBatch.objects.filter(run_id=run_id, status__in=ACTIVE).exists():
        return None
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    if run.status in ACTIVE:
        generated = Generation.objects.filter(run_id=run_id).count()
        failed = RunBatch.objects.filter(run_id=run_id, status=Status.FAILED).order_by("number").first()
        if generated >= run.total:
            status, message = Status.DONE, ""
        elif failed is not None:
            status, message = Status.FAILED, failed.message or "A batch failed."
        else:
            status = Status.FAILED
            message = f"{run.total - generated} of {run.total} outputs are missing and no batch is left to make them."
        Run.objects.filter(pk=run_id, status__in=ACTIVE).update(
            status=status, finished=timezone.now(), message=message
        )
    finalise_experiment(run.experiment_id)
    send_evidence_changed(run.experiment_id)
    return run.status


def finalise_experiment(experiment_id: int) -> None:
    if Run.objects.filter(experiment_id=experiment_id, status__in=ACTIVE).exists():
        return
    counts = dict(
        Run.objects.filter(experiment_id=experiment_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    total = sum(counts.values())
    failed = counts.get(Status.FAILED, 0)
    if counts.get(Status.CANCELLED):
        status, message = Status.CANCELLED, ""
    elif total and failed == total:
        status, message = Status.FAILED, "Every run failed."
    else:
        status = Status.DONE
        message = f"{failed} of {total} runs failed." if failed else ""
    update = {"status": status, "finished": timezone.now()}
    if message:
        update["message"] = message
    Experiment.objects.filter(pk=experiment_id, status__in=ACTIVE).update(**update)
