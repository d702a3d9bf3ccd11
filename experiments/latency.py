"""What a user waits for one call: a sample of a run's cases generated one request at a time.

An experiment's outputs are generated in batches of up to ASSAY_EXPERIMENT_BATCH_ITEMS; each output's
`latency_s` is its time inside that batch (all the outputs of a batch that stop at the same step read the
same figure). That is kept and labelled as such. What the team's latency limit and a product decision
need is the time of a single request, so once a run has finished, the worker that ran it takes the first
ASSAY_LATENCY_SAMPLE cases (by case key, one output each) and generates each alone, twice: with one new
token (time to first token: the prompt's prefill) and with the run's parameters (time to the last
token). Their p50 and p95 are stored on the run (`Run.single_latency`) and feed the latency limit.

The sample calls go through the same guards (PII policy) and usage log as the run's own calls.

A sample gives way to experiments: while batches wait on the run's queue, `measure_run` returns DEFERRED
without claiming (or, between its calls, releases its claim), and the task tries again later, so a second experiment started right after the first
does not wait behind the first one's latency sample.
"""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.utils import timezone

from llmcore import services as llm_services
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import GenerationRequest
from llmcore.stats import latency_percentiles

from .guards import apply_outbound_guards
from .models import Generation, Run, RunBatch, Status
from .rendering import PromptError, render_prompt
from .signals import send_evidence_changed

log = logging.getLogger(__name__)

MEASURING = "measuring"
DEFERRED = {"status": "deferred"}


def sample_size() -> int:
    return max(0, int(settings.ASSAY_LATENCY_SAMPLE))


def claim(run_id: int) -> bool:
    """Only one worker measures a run (two last batches may finish at once)."""
    return bool(
        Run.objects.filter(pk=run_id, status=Status.DONE, single_latency__isnull=True).update(
            single_latency={"status": MEASURING}
        )
    )


def batches_waiting(queue: str) -> bool:
    """Are batches of some run queued on this queue (work a person is waiting for)?"""
    return RunBatch.objects.filter(
        status=Status.QUEUED, run__queue=queue, run__status__in=(Status.QUEUED, Status.RUNNING)
    ).exists()


def measure_run(run_id: int, give_way: bool = True) -> dict | None:
    """Measures and stores the run's single-request latency; None when there is nothing to measure,
    DEFERRED while experiments' batches wait on the run's queue (when `give_way`)."""
    size = sample_size()
    if size == 0:
        return None
    if give_way:
        queue = Run.objects.filter(pk=run_id).values_list("queue", flat=True).first()
        if queue is not None and batches_waiting(queue):
            return DEFERRED
    if not claim(run_id):
        return None
    run = Run.objects.select_related("experiment", "prompt_version").get(pk=run_id)
    outputs = (
        Generation.objects.filter(run=run, error="", repeat=0)
        .select_related("case_version__case")
        .order_by("case_version__case__key")[:size]
    )
    content = run.prompt_version.content()
    params = InferenceParams.from_dict(run.params)
    first_token = dataclasses.replace(params, max_new_tokens=1)
    requests = []
    for output in outputs:
        try:
            rendered = render_prompt(content, output.case_version.inputs)
        except PromptError:
            continue
        key = str(output.case_version_id)
        requests.append(GenerationRequest(messages=rendered.messages, params=first_token, key=f"first:{key}"))
        requests.append(GenerationRequest(messages=rendered.messages, params=params, key=f"whole:{key}"))
    requests = apply_outbound_guards(run, requests).requests
    firsts, wholes, errors = [], [], 0
    for request in requests:  # one at a time: that is the point
        if give_way and batches_waiting(run.queue):  # an experiment was started meanwhile: let it go first
            Run.objects.filter(pk=run_id, single_latency={"status": MEASURING}).update(single_latency=None)
            return DEFERRED
        try:
            (result,) = llm_services.run_inference(
                run.model_id,
                [request],
                team_id=run.experiment.team_id,
                user_id=run.experiment.started_by_id,
                purpose="latency sample",
                batch_size=1,
            )
        except Exception as error:  # a model gone or failing: say so on the run rather than retry forever
            log.warning("latency sample of run %s: %s", run_id, error)
            errors += 1
            continue
        if result.error:
            errors += 1
            continue
        (firsts if request.key.startswith("first:") else wholes).append(result.latency_s)
    first, whole = latency_percentiles(firsts), latency_percentiles(wholes)
    figures = {
        "cases": whole.n,
        "first_token_p50_s": first.p50,
        "first_token_p95_s": first.p95,
        "p50_s": whole.p50,
        "p95_s": whole.p95,
        "errors": errors,
        "measured": timezone.now().isoformat(),
    }
    Run.objects.filter(pk=run_id).update(single_latency=figures)
    send_evidence_changed(run.experiment_id)
    return figures


def p95_of(single_latency: dict | None) -> float | None:
    """The single-request p95 a run's evidence carries; None while it is not measured."""
    return (single_latency or {}).get("p95_s")  # absent while it is being measured
