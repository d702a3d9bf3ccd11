"""Every URL pattern, generated from the URL configuration, as four personas who must not get in:
anonymous, a stranger (admin of another team), an editor of another team, and a viewer of the team
(read-only). A view added later is walked without anyone writing its test.

The URLs are filled with real objects of the team (the demo workspace plus one of each kind the demo
lacks): a pattern's <uuid> takes the first object code the team's admin can open there."""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import StringIO

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import invitations
from accounts.models import Membership, Team
from api import tokens as api_tokens
from audits import services as audit_services
from audits.models import SIGNED, Audit
from experiments.models import Experiment
from experiments.services import grid
from tests.factories import make_team, make_user

# Statuses that show the persona was kept out (or the method does not exist on that view).
LOGIN = "login"
KEPT_OUT = {404, 405}
# The REST API answers a request without credentials 401 (a JSON error), not a sign-in redirect.
API_PREFIX = "/api/"
API_UNAUTHENTICATED = {401}
READ_ONLY_POST = {403, 404, 405}


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # e.g. "t/<slug:team_slug>/jobs/<uuid:code>/"
    params: tuple[tuple[str, str], ...]  # (converter, name)

    @property
    def in_team(self) -> bool:
        return any(name == "team_slug" for _, name in self.params)


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if text.startswith("admin/"):
                    continue  # Django's admin: staff only, its own tests
                walk(pattern.url_patterns, text, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and not text.startswith("admin/"):
                params = tuple(_params(text))
                name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or text)
                found.append(Route(name, text, params))

    walk(get_resolver().url_patterns, "", None)
    return found


def _params(template: str) -> list[tuple[str, str]]:
    return [(converter or "str", name) for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", template)]


def _fill(template: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], template)


STR_VALUES = {
    "fmt": ["csv", "xlsx", "json", "jsonl"],
    "answer": ["accept"],
    "kind": ["assessment", "counterfactual", "stereotype", "redteam"],
}


@pytest.fixture
def world(db, settings):
    """The demo team with one of everything, its admin and viewer, and the outsiders."""
    call_command("seed_demo", stdout=StringIO())
    team = Team.objects.get(slug="demo")
    admin = Membership.objects.get(team=team, role="admin").user
    viewer = Membership.objects.get(team=team, role="viewer").user
    experiment = Experiment.objects.filter(team=team).first()
    copy = grid.copy_experiment(experiment, admin)  # a draft beside the started one
    if experiment.status == "draft":  # the demo may have started it already
        grid.start_experiment(experiment, admin, "admin")  # runs exist (their batches are never sent here)
    trial = grid.copy_experiment(experiment, admin)  # a builder try-out (its own view)
    Experiment.objects.filter(pk=trial.pk).update(trial=True)
    invitations.invite(team, "someone-new", "viewer", admin)
    # An audit with an earlier version (for the diff) and an evidence file (for its download).
    signed = Audit.objects.filter(team=team, status__in=SIGNED).first()
    with transaction.atomic():
        reopened = audit_services.reopen(signed, admin)
    upload = SimpleUploadedFile("notes.txt", b"Who is accountable: the support lead.", "text/plain")
    audit_services.add_file(reopened.items.order_by("id").first(), upload, admin)
    add_fairness_results(team, admin)
    add_report(team, admin, settings)
    add_task_proposal(team, admin)
    api_tokens.issue_token(admin, "URL walk", 7)  # for the token page's revoke
    other = make_team("Elsewhere", "elsewhere")
    stranger = make_user("stranger-admin", team=other, role="admin")
    outsider_editor = make_user("outside-editor", team=other, role="editor")
    return {
        "team": team,
        "admin": admin,
        "viewer": viewer,
        "stranger": stranger,
        "editor_elsewhere": outsider_editor,
        "copy": copy,
    }


def add_fairness_results(team, admin) -> None:
    """One result of each fairness kind (their work is never sent to a worker here)."""
    from audits.fairness import groupfair
    from audits.fairness import services as fairness
    from tests.experiments.factories import make_model, make_prompt
    from tests.fairness.conftest import make_label_run

    rows = [("approve", "Decision: approve.", {"group": "a"}), ("deny", "Decision: deny.", {"group": "b"})]
    run = make_label_run(team, admin, rows)
    options = groupfair.Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=10)
    fairness.assess_run(team, admin, run, options)
    model = make_model(team, "Probe model")
    fairness.start_counterfactual(
        team, admin, "admin", name="Letters", template="Letter for {group}.", groups={"g": ["x", "y"]},
        model=model, repeats=1, seed=1, temperature=0.5, max_new_tokens=4, decision_labels=[], threshold=0.1,
    )  # fmt: skip
    fairness.start_stereotype(team, admin, "admin", model=model, suite=None)
    version = make_prompt(team).versions.get()
    fairness.start_redteam(
        team, admin, "admin", name="Bot", version=version, model=model, suites=["pii_leak"]
    )


def add_task_proposal(team, admin) -> None:
    """A model's task proposal waiting for a decision (the breakdown's accept and discard act on it)."""
    from opportunities.models import BreakdownRun, Job, TaskProposal

    job = Job.objects.filter(team=team).first()
    run = BreakdownRun.objects.create(
        team=team, job=job, model_name="Probe model", status="done", stage="done"
    )
    TaskProposal.objects.create(run=run, position=0, statement="Draft the weekly status email", kind="write")


def add_report(team, admin, settings) -> None:
    """A generated portfolio report (its page and its download), its file in the test's folder."""
    from reports import services

    settings.ASSAY_REPORTS_DIR = settings.MEDIA_ROOT / "reports"
    report = services.request_report(team, admin, "portfolio", "json", {"jobs": []}, "Portfolio report")
    services.generate(report.pk)  # here, not on a worker (nothing is sent: the test never commits)


def candidate_codes() -> dict[str, list[str]]:
    """model name -> codes of its objects (only the demo team owns objects with codes)."""
    codes: dict[str, list[str]] = {}
    for model in apps.get_models():
        field = next((f for f in model._meta.fields if f.name == "code"), None)
        if isinstance(field, models.UUIDField) and model is not Team:
            values = list(model._default_manager.values_list("code", flat=True)[:3])
            if any(f.name == "trial" for f in model._meta.fields):  # try-outs have views of their own
                values += model._default_manager.filter(trial=True).values_list("code", flat=True)[:1]
            codes[model._meta.model_name] = [str(code) for code in values]
    return codes


def codes_named_like(codes: dict[str, list[str]], template: str) -> list[str]:
    """The codes of the model a POST-only URL names just before its <uuid>, e.g. invitations/<uuid>."""
    segment = re.search(r"([a-z]+)/<uuid:\w+>", template)
    singular = segment.group(1).rstrip("s") if segment else ""
    return [code for name, values in codes.items() if singular and name.endswith(singular) for code in values]


UNWATCHED = {"session", "usersession"}  # signing in writes these


def fingerprint() -> dict[str, int]:
    """A hash of every row of every model, to tell whether a request changed anything."""
    rows = {}
    for model in apps.get_models():
        if model._meta.model_name in UNWATCHED or model._meta.proxy:
            continue
        rows[model._meta.label] = hash(repr(list(model._default_manager.order_by("pk").values_list())))
    return rows


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def resolve_urls(world) -> tuple[dict[str, list[str]], list[str]]:
    """Each route's URLs, filled with values the team's admin can open (GET answers other than 404)."""
    admin = client_for(world["admin"])
    # A membership whose change would show (not the last admin's, not the walking viewer's).
    memberships = [str(m.id) for m in Membership.objects.filter(team=world["team"], role="editor")]
    by_model = candidate_codes()
    codes = [code for values in by_model.values() for code in values]
    urls: dict[str, list[str]] = {}
    unfilled: list[str] = []
    by_template: dict[str, str] = {}  # a GET-able route's template -> the URL chosen for it
    for route in sorted(routes(), key=lambda r: len(r.template)):
        options: list[dict[str, str]] = [{}]
        for converter, name in route.params:
            if name == "team_slug":
                values = [world["team"].slug]
            elif converter == "uuid":
                values = codes
            elif converter == "int":
                values = memberships[:1]
            else:
                values = STR_VALUES.get(name, ["x"])
            options = [{**option, name: value} for option in options for value in values]
        chosen = [_fill(route.template, option) for option in options]
        if any(converter == "uuid" for converter, _ in route.params):
            statuses = {url: admin.get(url).status_code for url in chosen}
            reachable = [url for url, status in statuses.items() if status not in (404, 405)]
            if not reachable and set(statuses.values()) == {405}:
                # POST only (nothing to probe safely): the object of the page it hangs under.
                parent = next(
                    (
                        by_template[t]
                        for t in sorted(by_template, key=len, reverse=True)
                        if route.template.startswith(t) and "<uuid:" in t
                    ),
                    None,
                )
                if parent is not None:
                    tail = route.template[len(next(t for t in by_template if by_template[t] == parent)) :]
                    reachable = [parent + tail] if "<" not in tail else []
                if not reachable:
                    named = codes_named_like(by_model, route.template)
                    reachable = [url for url in chosen if any(code in url for code in named)]
            if not reachable:
                unfilled.append(route.name)
            chosen = reachable[:1]
            if chosen:
                by_template[route.template] = chosen[0]
        urls[route.name] = chosen
    return urls, unfilled


PERSONAS = ["anonymous", "stranger", "editor_elsewhere", "viewer"]


@pytest.mark.django_db(transaction=False)
def test_every_url_keeps_out_everyone_who_may_not_see_or_change_it(world):
    urls, unfilled = resolve_urls(world)
    assert not unfilled, f"no object of the demo team opens these views: {unfilled} (add one to `world`)"
    problems: list[str] = []
    walked = 0
    for persona in PERSONAS:
        user = None if persona == "anonymous" else world[persona]
        client = client_for(user)
        client.raise_request_exception = False
        before = fingerprint()
        # Signing out last, so the persona stays signed in for everything else.
        for route in sorted(routes(), key=lambda r: "logout" in r.name or "sign_out" in r.name):
            personal = not route.in_team and not any(c == "uuid" for c, _ in route.params)
            for url in urls[route.name]:
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    walked += 1
                    status = response.status_code
                    if status >= 500:
                        problems.append(f"{persona} {method.upper()} {url}: {status}")
                        continue
                    if persona == "anonymous":
                        redirected = status == 302 and "/login/" in response.get("Location", "")
                        refused = url.startswith(API_PREFIX) and status in API_UNAUTHENTICATED
                        if not (redirected or refused or status in KEPT_OUT or personal):
                            problems.append(f"anonymous {method.upper()} {url}: {status}")
                    elif persona in ("stranger", "editor_elsewhere"):
                        if not personal and status not in KEPT_OUT:
                            problems.append(f"{persona} {method.upper()} {url}: {status}")
                    elif (
                        persona == "viewer"
                        and method == "post"
                        and route.in_team
                        # Refused, or a read-only page answering a POST as a GET: nothing may change.
                        and status not in READ_ONLY_POST
                        and fingerprint() != before
                    ):
                        problems.append(f"viewer POST {url}: {status} and the data changed")
                        before = fingerprint()
    assert walked > 200
    assert not problems, "\n".join(problems)
