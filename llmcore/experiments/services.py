"""Writes that span models: prompt versions, versioned test cases, snapshots, experiments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from llmcore import services as llm_services
from llmcore.engine.params import InferenceParams
from llmcore.models import ModelConfig
from llmcore.tasks import queue_for

from . import keys
from .estimates import CellInput, GridEstimate, estimate_grid
from .importing import CaseData
from .models import (
    ACTIVE,
    Dataset,
    DatasetSnapshot,
    Experiment,
    Generation,
    HumanReview,
    PromptTemplate,
    PromptVersion,
    ReviewAssignment,
    Run,
    RunBatch,
    SnapshotEntry,
    Status,
    TestCase,
    TestCaseVersion,
)
from .rendering import PromptContent, PromptError, find_variables, render_prompt
from .signals import send_evidence_changed

# Prompts ------------------------------------------------------------------------------------------


def validate_prompt(content: PromptContent, dataset: Dataset | None) -> None:
    """Raises PromptError naming the problem: malformed placeholders, examples that do not render, or a
    variable that no test case of the linked dataset provides."""
    if not content.instruction.strip():
        raise PromptError("the instruction must not be empty")
    variables = content.variables()
    find_variables(content.output_format)
    if content.technique == "few-shot" and not content.examples:
        raise PromptError("a few-shot prompt needs at least one example")
    for number, example in enumerate(content.examples, start=1):
        if isinstance(example.input, dict):
            missing = [v for v in find_variables(content.instruction) if v not in example.input]
            if missing:
                raise PromptError(
                    f"example {number} lacks the variable {{{{{missing[0]}}}}} used by the instruction"
                )
    if dataset is None:
        return
    provided = dataset_variables(dataset)
    if not provided:
        return  # an empty dataset cannot refuse anything yet; experiments check again at start
    for name in variables:
        if name not in provided:
            raise PromptError(
                f"no test case of the dataset {dataset.name!r} provides the variable {{{{{name}}}}} "
                f"(its cases provide {', '.join(sorted(provided))})"
            )


def save_prompt_version(
    template: PromptTemplate, author, content: PromptContent, change_note: str = ""
) -> tuple[PromptVersion, bool]:
    """A new immutable version, or the existing one with identical content (created=False)."""
    validate_prompt(content, template.dataset)
    content_hash = content.content_hash()
    with transaction.atomic():
        # Lock the template row so two editors cannot take the same version number.
        PromptTemplate.objects.select_for_update().filter(pk=template.pk).first()
        existing = template.versions.filter(content_hash=content_hash).first()
        if existing is not None:
            return existing, False
        number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        data = content.to_dict()
        version = PromptVersion.objects.create(
            template=template,
            number=number,
            content_hash=content_hash,
            system_prompt=data["system_prompt"],
            instruction=data["instruction"],
            technique=data["technique"],
            examples=data["examples"],
            output_format=data["output_format"],
            change_note=change_note,
            author=author,
        )
    return version, True


def create_prompt_template(
    team,
    author,
    name: str,
    content: PromptContent,
    description: str = "",
    dataset: Dataset | None = None,
    change_note: str = "First version",
) -> PromptTemplate:
    validate_prompt(content, dataset)
    with transaction.atomic():
        template = PromptTemplate.objects.create(
            team=team, name=name, description=description, dataset=dataset, created_by=author
        )
        save_prompt_version(template, author, content, change_note)
    return template


def preview_prompt(version: PromptVersion, case_version: TestCaseVersion):
    return render_prompt(version.content(), case_version.inputs)


# Test cases ---------------------------------------------------------------------------------------


def dataset_variables(dataset: Dataset) -> set[str]:
    """Input variables provided by at least one current case of the dataset (one query)."""
    names: set[str] = set()
    for inputs in TestCaseVersion.objects.filter(
        case__dataset=dataset, case__removed__isnull=True, is_current=True
    ).values_list("inputs", flat=True):
        names.update(inputs)
    return names


def current_versions(dataset: Dataset):
    return (
        TestCaseVersion.objects.filter(case__dataset=dataset, case__removed__isnull=True, is_current=True)
        .select_related("case")
        .order_by("case__key")
    )


def add_case(dataset: Dataset, author, data: CaseData) -> TestCase:
    with transaction.atomic():
        key = data.key or _next_keys(dataset, 1)[0]
        case = TestCase.objects.create(dataset=dataset, key=key)
        _create_version(case, 1, author, data, "Created")
    return case


def edit_case(case: TestCase, author, data: CaseData, change_note: str = "") -> TestCaseVersion | None:
    """A new current version, or None when nothing changed. Earlier versions stay for old runs."""
    with transaction.atomic():
        current = TestCaseVersion.objects.select_for_update().filter(case=case, is_current=True).first()
        if current is not None and current.content() == data.content():
            return None
        number = (case.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        TestCaseVersion.objects.filter(case=case, is_current=True).update(is_current=False)
        version = _create_version(case, number, author, data, change_note or "Edited")
        if case.removed is not None:
            TestCase.objects.filter(pk=case.pk).update(removed=None)
    return version


def remove_case(case: TestCase) -> None:
    TestCase.objects.filter(pk=case.pk, removed__isnull=True).update(removed=timezone.now())


def import_cases(dataset: Dataset, author, cases: list[CaseData]) -> dict[str, int]:
    """All or nothing: new keys become cases, known keys get a new version when their content changed."""
    with transaction.atomic():
        existing = {c.key: c for c in TestCase.objects.select_for_update().filter(dataset=dataset)}
        currents = {
            v.case_id: v for v in TestCaseVersion.objects.filter(case__dataset=dataset, is_current=True)
        }
        numbers = dict(
            TestCaseVersion.objects.filter(case__dataset=dataset)
            .values("case_id")
            .annotate(n=Max("number"))
            .values_list("case_id", "n")
        )
        fresh_keys = iter(_next_keys(dataset, sum(1 for c in cases if not c.key)))
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        new_cases, new_versions, retired = [], [], []
        for data in cases:
            case = existing.get(data.key) if data.key else None
            if case is None:
                case = TestCase(dataset=dataset, key=data.key or next(fresh_keys))
                new_cases.append((case, data))
                continue
            current = currents.get(case.pk)
            if current is not None and current.content() == data.content() and case.removed is None:
                counts["unchanged"] += 1
                continue
            if current is not None:
                retired.append(current.pk)
            new_versions.append(_version(case, numbers.get(case.pk, 0) + 1, author, data, "Imported"))
            counts["updated"] += 1
        TestCase.objects.bulk_create([case for case, _ in new_cases])
        # bulk_create does not return primary keys on every database: fetch them by key.
        ids = dict(
            TestCase.objects.filter(dataset=dataset, key__in=[c.key for c, _ in new_cases]).values_list(
                "key", "pk"
            )
        )
        for case, data in new_cases:
            case.pk = ids[case.key]
            new_versions.append(_version(case, 1, author, data, "Imported"))
        counts["created"] = len(new_cases)
        TestCaseVersion.objects.filter(pk__in=retired).update(is_current=False)
        TestCase.objects.filter(
            dataset=dataset, key__in=[c.key for c in cases if c.key], removed__isnull=False
        ).update(removed=None)
        TestCaseVersion.objects.bulk_create(new_versions, batch_size=500)
    return counts


def take_snapshot(dataset: Dataset, author) -> DatasetSnapshot:
    """The dataset's current case versions, reusing the latest snapshot when nothing changed since."""
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        version_ids = set(current_versions(dataset).values_list("pk", flat=True))
        latest = dataset.snapshots.order_by("-number").first()
        if (
            latest is not None
            and set(latest.entries.values_list("case_version_id", flat=True)) == version_ids
        ):
            return latest
        snapshot = DatasetSnapshot.objects.create(
            dataset=dataset,
            number=(latest.number + 1) if latest else 1,
            case_count=len(version_ids),
            created_by=author,
        )
        SnapshotEntry.objects.bulk_create(
            [SnapshotEntry(snapshot=snapshot, case_version_id=pk) for pk in sorted(version_ids)],
            batch_size=1000,
        )
    return snapshot


def _version(case: TestCase, number: int, author, data: CaseData, note: str) -> TestCaseVersion:
    return TestCaseVersion(
        case=case,
        number=number,
        inputs=data.inputs,
        expected_output=data.expected_output,
        expected_label=data.expected_label,
        sensitive_attributes=data.sensitive_attributes,
        tags=data.tags,
        is_current=True,
        author=author,
        change_note=note,
    )


def _create_version(case: TestCase, number: int, author, data: CaseData, note: str) -> TestCaseVersion:
    version = _version(case, number, author, data, note)
    version.save()
    return version


def _next_keys(dataset: Dataset, count: int) -> list[str]:
    taken = set(TestCase.objects.filter(dataset=dataset).values_list("key", flat=True))
    keys, number = [], len(taken)
    while len(keys) < count:
        number += 1
        key = f"case-{number:04d}"
        if key not in taken:
            keys.append(key)
    return keys


# Experiments --------------------------------------------------------------------------------------


class ExperimentError(Exception):
    """An experiment that cannot be saved or started; the message says why and what to do."""


@dataclass(frozen=True)
class ParamSet:
    label: str
    params: InferenceParams

    def to_dict(self) -> dict:
        return {"label": self.label, "params": self.params.to_dict()}


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
            for param_set in spec.param_sets:
                cells.append(
                    CellInput(
                        label=f"{version.label} × {config.name} × {param_set.label}",
                        model_name=config.name,
                        local=config.is_local,
                        tokens_per_s=config.measured_tokens_per_s,
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
    from .tasks import orchestrate_experiment

    team = experiment.team
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
        transaction.on_commit(lambda: orchestrate_experiment.delay(experiment.pk))
    experiment.refresh_from_db()
    return experiment


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
    """Stops between batches: queued batches are dropped, batches already generating finish and keep
    their outputs. Returns the number of runs cancelled."""
    now = timezone.now()
    by = getattr(user, "username", "") or "someone"
    with transaction.atomic():
        runs = Run.objects.filter(experiment=experiment, status__in=ACTIVE)
        run_ids = list(runs.values_list("pk", flat=True))
        count = runs.update(status=Status.CANCELLED, finished=now, message=f"Cancelled by {by}.")
        RunBatch.objects.filter(run_id__in=run_ids, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished=now
        )
        Experiment.objects.filter(pk=experiment.pk, status__in=ACTIVE).update(
            status=Status.CANCELLED, finished=now, message=f"Cancelled by {by}."
        )
    return count


# Human review -------------------------------------------------------------------------------------


def assign_reviews(
    experiment: Experiment, reviewers: list, assigned_by, per_run: int, per_output: int = 1
) -> int:
    """Asks reviewers to judge up to `per_run` outputs of each run (the first repeat of each case, in
    case order, errors left out), each output by `per_output` of them. Returns new assignments."""
    from .reviewing import share_out

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


def record_review(assignment: ReviewAssignment, reviewer, verdict: str, comment: str = "") -> HumanReview:
    review, _ = HumanReview.objects.update_or_create(
        generation_id=assignment.generation_id,
        reviewer=reviewer,
        defaults={"verdict": verdict, "comment": comment},
    )
    send_evidence_changed(
        Generation.objects.filter(pk=assignment.generation_id)
        .values_list("run__experiment_id", flat=True)
        .first()
    )
    return review


def _per_experiment(queryset, value):
    """A subquery of one aggregate per experiment (a join would multiply runs by generations)."""
    return Coalesce(Subquery(queryset.order_by().values("experiment_key").annotate(n=value).values("n")), 0)


def active_with_progress(team, limit: int) -> list[Experiment]:
    """The team's queued and running experiments, newest first, each with `done` outputs of `total`
    (cases × repeats over its runs) and `percent`. One query."""
    experiments = list(
        Experiment.objects.filter(team=team, status__in=ACTIVE)
        .annotate(
            total=_per_experiment(
                Run.objects.filter(experiment=OuterRef("pk")).annotate(experiment_key=F("experiment")),
                Sum("total"),
            ),
            done=_per_experiment(
                Generation.objects.filter(run__experiment=OuterRef("pk")).annotate(
                    experiment_key=F("run__experiment")
                ),
                Count("id"),
            ),
        )
        .order_by("-started", "-id")[:limit]
    )
    for experiment in experiments:
        experiment.percent = round(100 * experiment.done / experiment.total) if experiment.total else 0
    return experiments
