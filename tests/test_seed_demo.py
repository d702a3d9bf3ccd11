from __future__ import annotations

from io import StringIO

from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.models import Membership, Team
from opportunities.models import Job, StageChange, Task, UseCase


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, list]:
    return {
        "teams": list(Team.objects.values_list("slug", "name")),
        "users": list(get_user_model().objects.order_by("username").values_list("username", "password")),
        "memberships": list(
            Membership.objects.order_by("id").values_list("team__slug", "user__username", "role")
        ),
        "jobs": list(Job.objects.order_by("id").values()),
        "tasks": list(Task.objects.order_by("id").values()),
        "use_cases": list(UseCase.objects.order_by("id").values()),
        "use_case_tasks": list(UseCase.tasks.through.objects.order_by("id").values()),
        "task_experiments": list(Task.experiments.through.objects.order_by("id").values()),
        "stage_changes": list(StageChange.objects.order_by("id").values()),
    }


def test_it_creates_the_demo_team_with_three_jobs_and_their_tasks(db):
    seed()
    team = Team.objects.get(slug="demo")
    jobs = Job.objects.filter(team=team)
    assert jobs.count() == 3
    for job in jobs:
        assert 5 <= job.tasks.count() <= 8
    tasks = Task.objects.for_team(team)
    assert set(tasks.values_list("kind", flat=True)) == {"write", "read", "chat", "other"}
    assert set(tasks.values_list("exposure_label", flat=True)) == {"E0", "E1", "E2"}
    assert all(task.value_breakdown().annual_value > 0 for task in tasks.select_related("job"))


def test_the_printed_demo_login_signs_in_as_the_demo_team_admin(db, settings):
    settings.DEBUG = True  # `make run` while developing
    seed()
    user = authenticate(username="demo", password="demo")
    assert user is not None
    assert Membership.objects.get(user=user, team__slug="demo").role == "admin"
    roles = dict(Membership.objects.filter(team__slug="demo").values_list("user__username", "role"))
    assert roles["demo-viewer"] == "viewer"
    assert roles["demo-auditor"] == "auditor"


def test_use_cases_sit_in_different_stages_with_their_history(db):
    seed()
    use_cases = {uc.name: uc for uc in UseCase.objects.filter(team__slug="demo")}
    assert len({uc.stage for uc in use_cases.values()}) >= 2
    drafting = use_cases["Email reply drafting"]
    history = list(drafting.stage_changes.order_by("changed_at").values_list("to_stage", flat=True))
    assert history == ["scope", "build", "internal-evaluation"]
    assert history[-1] == drafting.stage
    assert drafting.tasks.count() == 2
    assert all(change.changed_by.username == "demo" for change in drafting.stage_changes.all())


def test_running_it_twice_changes_nothing(db):
    seed()
    before = snapshot()
    output = seed()
    assert snapshot() == before
    assert "nothing changed" in output


def test_it_keeps_what_people_changed_in_the_demo_team(db):
    seed()
    task = Task.objects.filter(job__team__slug="demo").first()
    task.delete()
    user = get_user_model().objects.get(username="demo")
    user.set_password("a-better-password")
    user.save()
    seed()
    assert not Task.objects.filter(statement=task.statement, job__team__slug="demo").exists()
    assert authenticate(username="demo", password="a-better-password") is not None


def test_it_restores_a_missing_demo_user_without_touching_the_portfolio(db):
    seed()
    tasks_before = Task.objects.count()
    get_user_model().objects.filter(username="demo-viewer").delete()
    output = seed()
    assert "Created user 'demo-viewer'" in output
    assert Membership.objects.get(user__username="demo-viewer", team__slug="demo").role == "viewer"
    assert Task.objects.count() == tasks_before


def test_demo_experiments_are_linked_to_the_tasks_they_test(db):
    output = seed()
    task = Task.objects.get(statement="Tag and route incoming tickets by topic and urgency")
    assert list(task.experiments.values_list("name", flat=True)) == ["Ticket topics with the default model"]
    assert task.rubric_answer == "yes"
    assert "Linked experiment 'Ticket topics with the default model'" in output
    task.experiments.clear()
    seed()  # a link someone removed stays removed
    assert not task.experiments.exists()
