"""Factories for prompts, datasets and experiments (tests and benchmarks)."""

from __future__ import annotations

from llmcore.experiments import services
from llmcore.experiments.importing import CaseData
from llmcore.experiments.models import Dataset, PromptTemplate
from llmcore.experiments.rendering import PromptContent


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
        services.import_cases(dataset, author, rows)
    return dataset


def make_prompt(
    team,
    dataset=None,
    name: str = "Ticket topic",
    instruction: str = "Topic of this ticket: {{ticket}}",
    author=None,
    **content,
) -> PromptTemplate:
    return services.create_prompt_template(
        team, author, name, PromptContent(instruction=instruction, **content), dataset=dataset
    )
