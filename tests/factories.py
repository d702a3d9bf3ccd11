"""Plain factories for tests and benchmarks."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from accounts.models import Membership, Team
from opportunities.models import Job, Task, UseCase


def make_team(name: str = "Team", slug: str = "team") -> Team:
    return Team.objects.create(name=name, slug=slug)


def make_user(username: str, team: Team | None = None, role: str = "viewer", password: str = "pw"):
    user = get_user_model().objects.create_user(username=username, password=password)
    if team is not None:
        Membership.objects.create(team=team, user=user, role=role)
    return user


def make_job(team: Team, title: str = "Support agent", headcount: int = 10, hourly_cost: str = "40") -> Job:
    return Job.objects.create(team=team, title=title, headcount=headcount, hourly_cost=Decimal(hourly_cost))


def make_task(job: Job, statement: str = "Answer customer emails", **fields) -> Task:
    defaults = {
        "kind": "write",
        "hours_per_week": Decimal("5"),
        "people_share": Decimal("1"),
        "time_saved": Decimal("0.3"),
    }
    defaults.update(fields)
    return Task.objects.create(job=job, statement=statement, **defaults)


def make_usecase(team: Team, name: str = "Email drafting", **fields) -> UseCase:
    return UseCase.objects.create(team=team, name=name, **fields)


def make_model_config(team: Team | None = None, name: str = "Tiny local", **fields):
    """A registered model (team=None: instance-wide). Defaults to a local CPU text model."""
    from llmcore.models import ModelConfig

    defaults = {"backend": "transformers", "source": "/models/tiny", "cost_per_hour": Decimal("0.10")}
    defaults.update(fields)
    return ModelConfig.objects.create(team=team, name=name, **defaults)
