"""Factories for prompts, datasets and experiments (tests and benchmarks)."""

from __future__ import annotations

from experiments.importing import CaseData
from experiments.models import Dataset, PromptTemplate
from experiments.rendering import PromptContent
from experiments.services import datasets, grid, prompts


def make_dataset(team, name: str = "Support tickets", cases: int = 3, author=None, **inputs) -> Dataset:
    dataset = Dataset.objects.create(team=team, name=name, created_by=author)
    rows = [
        CaseData(
            key=f"T-{i:03d}",
            inputs={"ticket": f"Ticket number {i}", **inputs},
            expected_label="billing" if i % 2 else "bug",
            sensitive_attributes={"gender": "female" if i % 2 else "male"},
            tags=["sample"],
        )
        for i in range(1, cases + 1)
    ]
    if rows:
        datasets.import_cases(dataset, author, rows)
    return dataset


def make_prompt(
    team,
    dataset=None,
    name: str = "Ticket topic",
    instruction: str = "Topic of this ticket: {{ticket}}",
    author=None,
    **content,
) -> PromptTemplate:
    return prompts.create_prompt_template(
        team, author, name, PromptContent(instruction=instruction, **content), dataset=dataset
    )


def make_model(team, name: str = "Tiny test model", **fields):
    from llmcore.models import ModelConfig

    # Each name its own files: two registry entries with the same files are the same model.
    source = "/models/" + "-".join(name.lower().split())
    defaults = {"backend": "transformers", "source": source, "device": "cpu", "parameter_count": 1000}
    defaults.update(fields)
    return ModelConfig.objects.create(team=team, name=name, **defaults)


def make_experiment(
    team,
    author,
    dataset=None,
    prompts=None,
    models=None,
    param_sets=None,
    repeats: int = 1,
    scorers=None,
    name: str = "Ticket topics",
    reuse_cached: bool = True,
):
    from llmcore.engine.params import InferenceParams

    dataset = dataset or make_dataset(team, author=author)
    prompts = prompts or [make_prompt(team, dataset=dataset, author=author).versions.get()]
    models = models or [make_model(team)]
    param_sets = param_sets or [grid.ParamSet("greedy", InferenceParams(max_new_tokens=8))]
    spec = grid.GridSpec(
        name=name,
        dataset=dataset,
        prompt_versions=prompts,
        model_configs=models,
        param_sets=param_sets,
        repeats=repeats,
        scorers=scorers or [],
        reuse_cached=reuse_cached,
    )
    return grid.save_experiment(team, author, spec)


def drive(experiment_id: int) -> dict:
    """Runs an experiment in this process the way the Celery tasks would, in queue order."""
    from experiments import execution, scoring

    plan = execution.plan_experiment(experiment_id)
    stats = {"batches": 0, "scored": 0}
    for run_id, ids in plan.copied.items():
        stats["scored"] += scoring.score_generations(run_id, ids)
    for batch_id, _queue in plan.batches:
        outcome = execution.generate_batch(batch_id, worker="test")
        stats["batches"] += 1
        if outcome.generation_ids:
            stats["scored"] += scoring.score_generations(outcome.run_id, outcome.generation_ids)
    return stats
