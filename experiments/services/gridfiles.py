"""A parsed grid file (experiments/gridfile.py) made real in a team: the dataset, prompt versions and a
draft experiment, created or reused by content.

- The dataset is the team's dataset of the file's name (created if missing). Its current cases are made
  equal to the file's: unchanged cases stay as they are, changed ones get a new version, new keys become
  cases and cases the file no longer lists are removed. Earlier versions stay for the runs that used
  them, and an unchanged file reuses the dataset's latest snapshot.
- Each prompt is the team's prompt template of that name; identical content is the same version (by its
  content hash), changed content a new version.
- Every call makes a new draft experiment, so each CI run keeps its own record; with `reuse_cached`
  (the default) its cells copy identical earlier outputs instead of generating them again.

Either everything is saved or, on any error, nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from llmcore.models import Modality, ModelConfig
from llmcore.seed import DEFAULT_GENERATOR_NAME

from ..gridfile import GridFile, GridFileError
from ..models import Dataset, Experiment, PromptTemplate, PromptVersion, TestCase
from ..rendering import PromptError
from . import datasets, grid, prompts

CHANGE_NOTE = "From a grid file"


@dataclass
class AppliedGrid:
    experiment: Experiment
    dataset: Dataset
    dataset_created: bool
    case_counts: dict[str, int]  # created, updated, unchanged, removed
    versions: list[tuple[PromptVersion, bool]] = field(default_factory=list)  # (version, created)
    models: list[ModelConfig] = field(default_factory=list)

    @property
    def dataset_changed(self) -> bool:
        counts = self.case_counts
        return self.dataset_created or bool(counts["created"] or counts["updated"] or counts["removed"])


def text_models(team, role: str | None):
    """Models the grid may name: active text models for this team (and role; None: no role rule)."""
    if role is None:
        found = ModelConfig.objects.for_team(team).filter(is_active=True)
    else:
        found = ModelConfig.objects.available_models(team, role)
    return found.filter(modality=Modality.TEXT)


def resolve_models(team, role: str | None, names: list[str]) -> list[ModelConfig]:
    """The registry's models for the file's names (the team's own before an instance-wide one of the
    same name); GridFileError names each unknown one and lists those there are."""
    wanted = names or [DEFAULT_GENERATOR_NAME]
    available = text_models(team, role)
    by_name: dict[str, ModelConfig] = {}
    for config in available.filter(name__in=wanted).order_by(F("team").asc(nulls_last=True)):
        by_name.setdefault(config.name, config)
    errors = []
    for index, name in enumerate(wanted):
        if name not in by_name:
            known = ", ".join(sorted(set(available.values_list("name", flat=True)))) or "none"
            where = f"models[{index}]" if names else "models (not given: the default model)"
            errors.append(f"{where}: unknown model {name!r} for the team {team.slug} (its models: {known})")
    if errors:
        raise GridFileError(errors)
    return [by_name[name] for name in wanted]


def _check_judges(team, role: str | None, scorers: list[dict]) -> None:
    errors = []
    for index, config in enumerate(scorers):
        if config.get("name") != "llm_judge":
            continue
        name = (config.get("params") or {}).get("judge_model", "")
        if not text_models(team, role).filter(name=name).exists():
            errors.append(
                f"scorers[{index}].params.judge_model: unknown model {name!r} for the team {team.slug}"
            )
    if errors:
        raise GridFileError(errors)


def apply_grid(team, author, role: str | None, spec: GridFile) -> AppliedGrid:
    """Creates or reuses the dataset and prompt versions and saves a new draft experiment."""
    models = resolve_models(team, role, spec.models)
    _check_judges(team, role, spec.scorers)
    with transaction.atomic():
        dataset, created, counts = _sync_dataset(team, author, spec)
        versions = []
        for index, prompt in enumerate(spec.prompts):
            try:
                versions.append(_prompt_version(team, author, prompt, dataset))
            except PromptError as exc:
                raise GridFileError([f"prompts[{index}] ({prompt.name}): {exc}"]) from None
        try:
            experiment = grid.save_experiment(
                team,
                author,
                grid.GridSpec(
                    name=spec.name,
                    description=spec.description,
                    dataset=dataset,
                    prompt_versions=[version for version, _ in versions],
                    model_configs=models,
                    param_sets=[grid.ParamSet(p.label, p.params) for p in spec.param_sets],
                    repeats=spec.repeats,
                    scorers=spec.scorers,
                    reuse_cached=spec.reuse_cached,
                ),
            )
        except grid.ExperimentError as exc:
            raise GridFileError([str(exc)]) from None
    return AppliedGrid(experiment, dataset, created, counts, versions, models)


def _sync_dataset(team, author, spec: GridFile) -> tuple[Dataset, bool, dict[str, int]]:
    dataset = Dataset.objects.filter(team=team, name=spec.dataset_name).order_by("id").first()
    created = dataset is None
    if created:
        dataset = Dataset.objects.create(
            team=team, name=spec.dataset_name, description=spec.dataset_description, created_by=author
        )
    counts = datasets.import_cases(dataset, author, spec.cases)
    keys = {case.key for case in spec.cases}
    stale = list(TestCase.objects.filter(dataset=dataset, removed__isnull=True).exclude(key__in=keys))
    for case in stale:
        datasets.remove_case(case)
    counts["removed"] = len(stale)
    return dataset, created, counts


def _prompt_version(team, author, prompt, dataset: Dataset) -> tuple[PromptVersion, bool]:
    template = PromptTemplate.objects.filter(team=team, name=prompt.name).order_by("id").first()
    if template is None:
        template = prompts.create_prompt_template(
            team, author, prompt.name, prompt.content, prompt.description, dataset, CHANGE_NOTE
        )
        return template.versions.get(), True
    return prompts.save_prompt_version(template, author, prompt.content, CHANGE_NOTE)
