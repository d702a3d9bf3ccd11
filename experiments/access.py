"""Lookups for prompts, datasets and experiments, all through accounts.access.

Strangers get 404; members who may not run experiments (viewers, auditors) get 403 on writes.
Editors and admins write: the same roles that change the portfolio.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.access import PORTFOLIO, READ, TeamAccess, get_object_for_team, get_team_for_user

from .models import Dataset, Experiment, PromptTemplate, Run, TestCase


def _need(write: bool) -> str:
    return PORTFOLIO if write else READ


def get_experiments_team(request: HttpRequest, slug: str, write: bool = False) -> TeamAccess:
    return get_team_for_user(request, slug, _need(write))


def get_prompt_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, PromptTemplate]:
    return get_object_for_team(
        request, slug, PromptTemplate.objects.select_related("dataset"), _need(write), code=code
    )


def get_dataset_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, Dataset]:
    return get_object_for_team(request, slug, Dataset.objects.all(), _need(write), code=code)


def get_case_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, TestCase]:
    return get_object_for_team(
        request,
        slug,
        TestCase.objects.select_related("dataset"),
        _need(write),
        code=code,
        team_field="dataset__team",
    )


def get_experiment_for_user(
    request: HttpRequest, slug: str, code, write: bool = False
) -> tuple[TeamAccess, Experiment]:
    return get_object_for_team(
        request,
        slug,
        Experiment.objects.select_related("dataset", "snapshot", "created_by"),
        _need(write),
        code=code,
    )


def get_run_for_user(request: HttpRequest, slug: str, code, write: bool = False) -> tuple[TeamAccess, Run]:
    return get_object_for_team(
        request,
        slug,
        Run.objects.select_related("experiment", "prompt_version__template"),
        _need(write),
        code=code,
        team_field="experiment__team",
    )
