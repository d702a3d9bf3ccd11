"""Experiments as grids: saved as drafts, estimated, started (runs created, orchestrator enqueued on
commit) and cancelled."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from llmcore import services as llm_services
from llmcore import throughput
from llmcore.engine.params import InferenceParams
from llmcore.models import ModelConfig
from llmcore.tasks import queue_for

from .. import broker, keys
from ..estimates import CellInput, GridEstimate, estimate_grid
from ..models import ACTIVE, Dataset, Experiment, PromptVersion, Run, RunBatch, Status, TestCaseVersion
from ..params_text import describe_params
from ..rendering import PromptError, render_prompt
from .datasets import current_versions, take_snapshot

log = logging.getLogger(__name__)


class ExperimentError(Exception):
    """An experiment that cannot be saved or started; the message says why and what to do."""


@dataclass(frozen=True)
class ParamSet:
    label: str
    params: InferenceParams

    def to_dict(self) -> dict:
        return {"label": self.label, "params": self.params.to_dict()}

    @property
    def summary(self) -> str:
        return describe_params(self.params)


@dataclass
class GridSpec:
    name: str
    dataset: Dataset
    prompt_versions: list[PromptVersion]
    model_configs: list[ModelConfig]
    param_sets: list[ParamSet]
    repeats: int = 1
    scorers: list[dict] = field(default_factory=list)
    description: str = ""
    reuse_cached: bool = True


def save_experiment(team, author, spec: GridSpec, experiment: Experiment | None = None) -> Experiment:
    """Creates a draft experiment or updates one that has not started."""
    if not 1 <= spec.repeats <= 10:
        raise ExperimentError(f"Repeats must be between 1 and 10, got {spec.repeats}.")
    if not (spec.prompt_versions and spec.model_configs and spec.param_sets):
        raise ExperimentError("Choose at least one prompt version, one model and one parameter set.")
    labels = [p.label for p in spec.param_sets]
    if len(set(labels)) != len(labels):
        raise ExperimentError("Each parameter set needs its own label.")
    with transaction.atomic():
        if experiment is None:
            experiment = Experiment(team=team, created_by=author)
        elif experiment.status != Status.DRAFT:
            raise ExperimentError("This experiment has started; copy it to change its grid.")
        experiment.name, experiment.description = spec.name, spec.description
        experiment.dataset = spec.dataset
        experiment.param_sets = [p.to_dict() for p in spec.param_sets]
        experiment.scorers = list(spec.scorers)
        experiment.repeats, experiment.reuse_cached = spec.repeats, spec.reuse_cached
        experiment.save()
        experiment.prompt_versions.set(spec.prompt_versions)
        experiment.model_configs.set(spec.model_configs)
    return experiment


def grid_spec_of(experiment: Experiment) -> GridSpec:
    return GridSpec(
        name=experiment.name,
        description=experiment.description,
        dataset=experiment.dataset,
        prompt_versions=list(
            experiment.prompt_versions.select_related("template").order_by("template__name", "number")
        ),
        model_configs=list(experiment.model_configs.order_by("name")),
        param_sets=[
            ParamSet(p["label"], InferenceParams.from_dict(p["params"])) for p in experiment.param_sets
        ],
        repeats=experiment.repeats,
        scorers=list(experiment.scorers),
        reuse_cached=experiment.reuse_cached,
    )


def copy_experiment(experiment: Experiment, author) -> Experiment:
    """A new draft with the same grid, e.g. to run it again (unchanged cells reuse their outputs)."""
    spec = grid_spec_of(experiment)
    spec.name = f"{experiment.name} (again)"[:200]
    return save_experiment(experiment.team, author, spec)


ESTIMATE_SAMPLE = 200  # cases rendered to average a prompt's length


def estimate_grid_for(spec: GridSpec) -> GridEstimate:
    """Numbers shown before start, from each model's measured speed and rates (see estimates.py)."""
    versions = list(current_versions(spec.dataset).values_list("inputs", flat=True))
    sample = versions[:ESTIMATE_SAMPLE]
    speeds = throughput.for_models(config.pk for config in spec.model_configs)
    cells = []
    for version in spec.prompt_versions:
        content = version.content()
        lengths = []
        for inputs in sample:
            try:
                lengths.append(len(render_prompt(content, inputs).as_text()))
            except PromptError:
                continue
        prompt_chars = sum(lengths) / len(lengths) if lengths else len(content.instruction)
        for config in spec.model_configs:
            measured = speeds.get(config.pk)
            for param_set in spec.param_sets:
                cells.append(
                    CellInput(
                        label=f"{version.label} × {config.name} × {param_set.label}",
                        model_name=config.name,
                        local=config.is_local,
                        tokens_per_s=measured.tokens_per_s if measured else config.measured_tokens_per_s,
                        slowest_tokens_per_s=measured.slowest if measured else None,
                        fastest_tokens_per_s=measured.fastest if measured else None,
                        measured_calls=measured.samples
                        if measured
                        else int(bool(config.measured_tokens_per_s)),
                        load_s=(measured.load_s or 0.0) if measured else 0.0,
                        cost_per_1k_input=float(config.cost_per_1k_input),
                        cost_per_1k_output=float(config.cost_per_1k_output),
                        cost_per_hour=float(config.cost_per_hour),
                        max_new_tokens=param_set.params.max_new_tokens,
                        prompt_chars=prompt_chars,
                    )
                )
    return estimate_grid(cells, len(versions), spec.repeats)


def start_experiment(experiment: Experiment, user, role: str | None) -> Experiment:
    """One transaction: snapshot the dataset, create one queued Run per cell; the orchestrator is
    enqueued once it commits. Refuses (ExperimentError, BudgetExceeded, ModelNotAllowed) with a clear
    message when the team's budget is spent, a model is not allowed, or a case lacks a variable."""
    from ..tasks import orchestrate_experiment

    team = experiment.team
    try:
        broker.check_broker()  # fails in about a second, before anything changes
    except broker.BrokerUnavailable as error:
        raise ExperimentError(
            "The task queue (Redis) is not answering, so nothing was started and the experiment is still "
            "a draft: start it again once the queue is back (`make run` starts it; an instance admin can "
            f"check the health page). The broker said: {error}"
        ) from error
    llm_services.check_budget(team)
    spec = grid_spec_of(experiment)
    for config in spec.model_configs:
        llm_services.check_model_allowed(config, team, role)
    with transaction.atomic():
        locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if locked.status != Status.DRAFT:
            raise ExperimentError(f"This experiment is already {locked.get_status_display().lower()}.")
        snapshot = take_snapshot(spec.dataset, user)
        if snapshot.case_count == 0:
            raise ExperimentError(f"The dataset {spec.dataset.name!r} has no test cases yet.")
        cases = list(snapshot.case_versions.select_related("case").order_by("case__key"))
        if experiment.trial:
            cases = cases[: settings.ASSAY_TRIAL_CASES]
        for version in spec.prompt_versions:
            _check_cases_provide(version, cases)
        runs = []
        for version in spec.prompt_versions:
            for config in spec.model_configs:
                spec_key = config.to_spec().cache_key
                for param_set in spec.param_sets:
                    params = param_set.params.to_dict()
                    runs.append(
                        Run(
                            experiment=experiment,
                            prompt_version=version,
                            model=config,
                            model_name=config.name,
                            model_identity=keys.model_identity(spec_key),
                            params=params,
                            params_label=param_set.label,
                            params_hash=keys.params_hash(params),
                            queue=queue_for(config),
                            total=len(cases) * spec.repeats,
                        )
                    )
        Run.objects.bulk_create(runs)
        Experiment.objects.filter(pk=experiment.pk).update(
            status=Status.QUEUED, snapshot=snapshot, started=timezone.now(), started_by=user, message=""
        )
        transaction.on_commit(lambda: _send_orchestrator(orchestrate_experiment, experiment.pk))
    experiment.refresh_from_db()
    return experiment


def _send_orchestrator(task, experiment_id: int) -> None:
    """Sent once the runs are committed. If the broker went away since the check above, the experiment
    stays queued and the recovery sweep (experiments/recovery.py) sends it when the broker is back."""
    try:
        task.apply_async((experiment_id,), retry=True, retry_policy={"max_retries": 1, "interval_start": 0})
    except Exception:
        log.warning("Could not send experiment %s to the broker; the recovery sweep will.", experiment_id)


def _check_cases_provide(version: PromptVersion, cases: list[TestCaseVersion]) -> None:
    variables = version.content().variables()
    for case_version in cases:
        for name in variables:
            if name not in case_version.inputs:
                raise ExperimentError(
                    f"Test case {case_version.case.key} has no input {{{{{name}}}}}, which prompt "
                    f"{version.label} uses. Add it to the case or remove it from the prompt."
                )


def cancel_experiment(experiment: Experiment, user) -> int:
    """Queued batches are dropped; batches already generating stop within seconds (their worker checks
    about once a second) and keep the outputs they finished. Returns the number of runs cancelled."""
    now = timezone.now()
    by = getattr(user, "username", "") or "someone"
    with transaction.atomic():
        runs = Run.objects.filter(experiment=experiment, status__in=ACTIVE)
        run_ids = list(runs.values_list("pk", flat=True))
        count = runs.update(status=Status.CANCELLED, finished=now, message=f"Cancelled by {by}.")
        RunBatch.objects.filter(run_id__in=run_ids, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished=now
        )
        Experiment.objects.filter(pk=experiment.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished=now, message=f"Cancelled by {by}."
        )
    return count
