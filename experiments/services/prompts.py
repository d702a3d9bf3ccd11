"""Prompt templates and their immutable, hashed versions."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from ..models import Dataset, PromptTemplate, PromptVersion, TestCaseVersion
from ..rendering import PromptContent, PromptError, find_variables, render_prompt
from .datasets import dataset_variables


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
