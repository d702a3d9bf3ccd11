"""The demo workspace that `manage.py seed_demo` (and so `make run`) creates.

Idempotent by design: the team's portfolio is created only with the team, so a person's edits and
deletions in the demo team survive every later `make run`; users and memberships are created only when
missing, and nothing that exists is changed.

Other apps add their own demo data by defining `<app>/demo.py` with a function
`seed_demo(ctx: DemoContext) -> None`, which must itself create only what is missing (look up by natural
key) and log what it did with `ctx.log(...)`. The command calls them after this module, in
INSTALLED_APPS order, in one transaction.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone

from accounts.models import Membership, Role, Team

from .models import Job, Stage, StageChange, Task, UseCase

DEMO_TEAM_SLUG = "demo"
DEMO_TEAM_NAME = "Demo"
DEMO_PASSWORD = "demo"  # with DEBUG on only: a deployment gets a strong one (demo_password)


def demo_password() -> str:
    """`demo` while developing (DEBUG on); otherwise ASSAY_DEMO_PASSWORD or a random one, and either must
    pass the password validators."""
    if settings.DEBUG:
        return DEMO_PASSWORD
    password = os.environ.get("ASSAY_DEMO_PASSWORD") or secrets.token_urlsafe(15)
    validate_password(password)
    return password


# username -> role in the demo team; `demo` is the login `make run` prints.
DEMO_USERS = {
    "demo": Role.ADMIN,
    "demo-editor": Role.EDITOR,
    "demo-viewer": Role.VIEWER,
    "demo-auditor": Role.AUDITOR,
}


@dataclass
class DemoContext:
    team: Team
    users: dict[str, object]  # username -> user
    team_created: bool
    messages: list[str] = field(default_factory=list)

    @property
    def admin(self):
        return self.users["demo"]

    def log(self, message: str) -> None:
        self.messages.append(message)


@dataclass(frozen=True)
class DemoTask:
    statement: str
    kind: str
    hours_per_week: str
    people_share: str
    exposure_label: str
    label_source: str
    mode: str
    time_saved: str
    notes: str = ""


@dataclass(frozen=True)
class DemoJob:
    title: str
    description: str
    headcount: int
    hourly_cost: str
    tasks: tuple[DemoTask, ...]


# A data table: one task per call, fields in DemoTask order.
# fmt: off
DEMO_JOBS: tuple[DemoJob, ...] = (
    DemoJob(
        "Customer support agent",
        "Answers customers by email, chat and phone about orders, deliveries, returns and payments.",
        40,
        "38",
        (
            DemoTask(
                "Draft replies to customer emails about orders and deliveries",
                "write", "10", "0.9", "E1", "human", "augment", "0.40",
                "Replies must quote the order status from the order system, never guess it.",
            ),
            DemoTask(
                "Summarise long ticket threads before escalating to second-line support",
                "read", "3", "0.6", "E1", "human", "augment", "0.50",
            ),
            DemoTask(
                "Answer live-chat questions about the returns and refunds policy",
                "chat", "8", "0.5", "E2", "human", "augment", "0.30",
            ),
            DemoTask(
                "Tag and route incoming tickets by topic and urgency",
                "read", "4", "1", "E1", "predicted", "automate", "0.70",
            ),
            DemoTask(
                "Translate customer messages from and into Spanish and German",
                "write", "1.5", "0.3", "E1", "predicted", "automate", "0.60",
            ),
            DemoTask(
                "Call back customers whose payment failed",
                "other", "2", "0.4", "E0", "human", "augment", "0.05",
                "Needs a phone call and payment-system access: little for a language model to do.",
            ),
            DemoTask(
                "Write knowledge-base articles for recurring questions",
                "write", "1", "0.2", "E1", "human", "augment", "0.40",
            ),
        ),
    ),
    DemoJob(
        "Claims processor",
        "Handles motor and home insurance claims from first notice to the decision letter.",
        25,
        "45",
        (
            DemoTask(
                "Extract policy number, incident date and claimed amounts from claim forms",
                "read", "8", "1", "E2", "human", "automate", "0.60",
            ),
            DemoTask(
                "Check a claim against the policy's coverage rules and exclusions",
                "read", "10", "1", "E2", "predicted", "augment", "0.25",
                "Decisions stay with the processor: the model lists the clauses that apply.",
            ),
            DemoTask(
                "Write decision letters explaining an approval or a denial",
                "write", "4", "0.8", "E1", "human", "augment", "0.45",
            ),
            DemoTask(
                "Flag claims with signs of fraud for the investigation team",
                "read", "3", "0.5", "E2", "predicted", "augment", "0.20",
            ),
            DemoTask(
                "Phone claimants to ask for missing documents",
                "other", "3", "0.7", "E0", "human", "augment", "0.05",
            ),
            DemoTask(
                "Estimate repair cost from photos of vehicle damage",
                "other", "2", "0.3", "E2", "predicted", "augment", "0.15",
            ),
        ),
    ),
    DemoJob(
        "Marketing writer",
        "Writes the blog, product pages, newsletters and ad copy.",
        6,
        "55",
        (
            DemoTask(
                "Write first drafts of product blog posts",
                "write", "8", "1", "E1", "human", "augment", "0.40",
            ),
            DemoTask(
                "Produce variants of ad copy for A/B tests",
                "write", "4", "0.8", "E1", "human", "automate", "0.60",
            ),
            DemoTask(
                "Rewrite product descriptions for the online shop",
                "write", "5", "0.7", "E1", "human", "augment", "0.50",
            ),
            DemoTask(
                "Summarise customer interviews into recurring themes",
                "read", "3", "0.5", "E1", "predicted", "augment", "0.35",
            ),
            DemoTask(
                "Check copy against the brand voice and legal guidelines",
                "read", "2", "1", "E1", "human", "augment", "0.30",
            ),
            DemoTask(
                "Plan the editorial calendar with product managers",
                "other", "2", "1", "E0", "human", "augment", "0.05",
            ),
        ),
    ),
)
# fmt: on


@dataclass(frozen=True)
class DemoUseCase:
    name: str
    description: str
    mode: str
    risk_tier: str
    task_statements: tuple[str, ...]
    # Stages it went through after "scope", with how many days ago and a note.
    history: tuple[tuple[str, int, str], ...] = ()
    started_days_ago: int = 45


DEMO_USE_CASES: tuple[DemoUseCase, ...] = (
    DemoUseCase(
        "Email reply drafting",
        "Draft a first reply to every order and delivery email for the agent to check and send.",
        "augment",
        "limited",
        (
            "Draft replies to customer emails about orders and deliveries",
            "Summarise long ticket threads before escalating to second-line support",
        ),
        (
            (Stage.BUILD, 30, "Prompt and retrieval over the order system agreed with the support leads."),
            (Stage.INTERNAL_EVALUATION, 9, "Agents review 200 drafted replies from last month's tickets."),
        ),
    ),
    DemoUseCase(
        "Claim form extraction",
        "Read incoming claim forms and fill in the claim record; a processor confirms the fields.",
        "automate",
        "high",
        ("Extract policy number, incident date and claimed amounts from claim forms",),
        ((Stage.BUILD, 12, "Extraction schema fixed; 50 labelled forms as the first test set."),),
        started_days_ago=20,
    ),
    DemoUseCase(
        "Ad copy variants",
        "Generate ad copy variants within the brand voice for the weekly A/B tests.",
        "automate",
        "minimal",
        ("Produce variants of ad copy for A/B tests",),
        started_days_ago=4,
    ),
)


def seed_demo() -> DemoContext:
    """Create what is missing of the demo workspace, then let other apps add theirs."""
    ctx = seed_team_and_portfolio()
    for seeder in app_seeders():
        seeder(ctx)
    if ctx.team_created:
        _link_demo_evidence(ctx)
    if not ctx.messages:
        ctx.log("Demo data already present: nothing changed.")
    return ctx


def seed_team_and_portfolio() -> DemoContext:
    team = Team.objects.filter(slug=DEMO_TEAM_SLUG).first()
    team_created = team is None
    if team is None:
        team = Team.objects.create(name=DEMO_TEAM_NAME, slug=DEMO_TEAM_SLUG)
    ctx = DemoContext(team=team, users={}, team_created=team_created)
    if team_created:
        ctx.log(f"Created team {team.name!r} (/t/{team.slug}/).")
    _seed_users(ctx)
    if team_created:
        _seed_portfolio(ctx)
    return ctx


def _seed_users(ctx: DemoContext) -> None:
    User = get_user_model()
    password = None
    for username, role in DEMO_USERS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            password = password or demo_password()
            user = User.objects.create_user(username=username, password=password)
            ctx.log(f"Created user {username!r} with password {password!r}.")
        ctx.users[username] = user
        _, created = Membership.objects.get_or_create(team=ctx.team, user=user, defaults={"role": role})
        if created:
            ctx.log(f"Added {username!r} to {ctx.team.name!r} as {role.label}.")


def _seed_portfolio(ctx: DemoContext) -> None:
    tasks_by_statement: dict[str, Task] = {}
    for spec in DEMO_JOBS:
        job = Job.objects.create(
            team=ctx.team,
            title=spec.title,
            description=spec.description,
            headcount=spec.headcount,
            hourly_cost=Decimal(spec.hourly_cost),
        )
        tasks = Task.objects.bulk_create(
            Task(
                job=job,
                statement=task.statement,
                kind=task.kind,
                hours_per_week=Decimal(task.hours_per_week),
                people_share=Decimal(task.people_share),
                exposure_label=task.exposure_label,
                label_source=task.label_source,
                mode=task.mode,
                time_saved=Decimal(task.time_saved),
                notes=task.notes,
            )
            for task in spec.tasks
        )
        tasks_by_statement.update((task.statement, task) for task in tasks)
        ctx.log(f"Created job {job.title!r} with {len(tasks)} tasks.")
    now = timezone.now()
    for spec in DEMO_USE_CASES:
        use_case = UseCase.objects.create(
            team=ctx.team,
            name=spec.name,
            description=spec.description,
            mode=spec.mode,
            risk_tier=spec.risk_tier,
            owner=ctx.admin,
            stage=spec.history[-1][0] if spec.history else Stage.SCOPE,
        )
        use_case.tasks.set([tasks_by_statement[statement] for statement in spec.task_statements])
        steps = [("", Stage.SCOPE, spec.started_days_ago, "Use case created.")]
        previous = Stage.SCOPE
        for stage, days_ago, note in spec.history:
            steps.append((previous, stage, days_ago, note))
            previous = stage
        for from_stage, to_stage, days_ago, note in steps:
            change = StageChange.objects.create(
                use_case=use_case, from_stage=from_stage, to_stage=to_stage, changed_by=ctx.admin, note=note
            )
            # changed_at is auto_now_add; backdate the history so it reads like a real project.
            StageChange.objects.filter(pk=change.pk).update(changed_at=now - timedelta(days=days_ago))
        ctx.log(f"Created use case {use_case.name!r} at stage {use_case.get_stage_display()}.")


# Demo task -> (experiment the experiments seed creates, the PM's rubric answer).
DEMO_EVIDENCE = {
    "Tag and route incoming tickets by topic and urgency": ("Ticket topics with the default model", "yes"),
    "Summarise long ticket threads before escalating to second-line support": (
        "Call note summaries with the default model",
        "no",
    ),
}


def _link_demo_evidence(ctx: DemoContext) -> None:
    """Links the demo experiments to the tasks they test (only in a new demo team: links people removed
    stay removed). Their verdicts follow once the experiments run."""
    from experiments.models import Experiment

    experiments = {e.name: e for e in Experiment.objects.filter(team=ctx.team)}
    for task in Task.objects.filter(job__team=ctx.team, statement__in=DEMO_EVIDENCE):
        name, answer = DEMO_EVIDENCE[task.statement]
        if name in experiments:
            task.experiments.add(experiments[name])
            Task.objects.filter(pk=task.pk).update(rubric_answer=answer)
            ctx.log(f"Linked experiment {name!r} to task {task.statement!r}.")


def app_seeders() -> list[Callable[[DemoContext], None]]:
    """`seed_demo` functions from other apps' `demo` modules, in INSTALLED_APPS order."""
    seeders = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.demo"
        if config.name == __package__ or find_spec(module_name) is None:
            continue
        seeder = getattr(import_module(module_name), "seed_demo", None)
        if seeder is not None:
            seeders.append(seeder)
    return seeders
