from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.models import StageChange, Task, UseCase
from opportunities.usecases import (
    StageMoveRejected,
    create_use_case,
    move_stage,
    stage_move_problem,
    worst_verdict,
)
from opportunities.views.usecases import PICKER_LIMIT
from tests.factories import make_job, make_task, make_usecase


@pytest.fixture(autouse=True)
def _no_stage_gates(monkeypatch):
    """These tests cover the stage moves themselves; the gates other apps register (audits) have their
    own tests (tests/audits/test_gates.py)."""
    from opportunities import usecases

    monkeypatch.setattr(usecases, "_STAGE_GATES", [])


def url(name, team, use_case=None):
    return reverse(name, args=[team.slug] if use_case is None else [team.slug, use_case.code])


@pytest.fixture
def job(team):
    # 10 people × 40/h: a task of 5 h/week with 30% saved is worth 10 × 5 × 52 × 40 × 0.3 = $31,200.
    return make_job(team, "Support agent", headcount=10, hourly_cost="40")


@pytest.fixture
def use_case(team, job, owner):
    return create_use_case(team, owner, [make_task(job, "Answer customer emails")], name="Email drafting")


def new_usecase_data(*tasks, **fields):
    return {
        "name": "Reply assistant",
        "mode": "augment",
        "risk_tier": "limited",
        "tasks": [str(t.code) for t in tasks],
        **fields,
    }


# --- Pure rules ------------------------------------------------------------------------------------


def test_a_use_case_moves_one_stage_forward_or_back():
    assert stage_move_problem("build", "build", "internal-evaluation") is None
    assert stage_move_problem("build", "build", "scope") is None


def test_skipping_a_stage_is_refused_with_the_allowed_moves():
    problem = stage_move_problem("scope", "scope", "deploy")
    assert (
        problem
        == "A use case moves one stage at a time: from Scope it can go to Build, not straight to Deploy."
    )
    assert "Scope or Internal evaluation" in stage_move_problem("build", "build", "monitor")


def test_a_move_from_a_stage_the_user_no_longer_sees_is_refused():
    problem = stage_move_problem("build", "scope", "build")
    assert "now in Build, not Scope" in problem and "someone moved it" in problem


def test_unknown_and_same_stage_moves_are_refused():
    assert "Unknown stage 'launch'" in stage_move_problem("scope", "scope", "launch")
    assert stage_move_problem("scope", "scope", "scope") == "This use case is already in Scope."


def test_feasibility_rollup_is_the_least_ready_verdict():
    assert worst_verdict(["automation-ready", "augmentation-ready"]) == "augmentation-ready"
    assert worst_verdict(["automation-ready", "untested"]) == "untested"
    assert worst_verdict(["untested", "not-yet", "automation-ready"]) == "not-yet"
    assert worst_verdict([]) is None


def test_a_move_raced_by_another_user_is_refused(use_case, owner, editor):
    seen = UseCase.objects.get(pk=use_case.pk)
    move_stage(use_case, target="build", expected="scope", user=editor)
    with pytest.raises(StageMoveRejected) as rejected:
        move_stage(seen, target="build", expected="scope", user=owner)
    assert rejected.value.stale
    assert StageChange.objects.filter(use_case=use_case, to_stage="build").count() == 1


# --- List and create -------------------------------------------------------------------------------


def test_viewer_sees_use_cases_with_value_and_feasibility_rollups(viewer_client, team, job):
    ready = make_task(job, "Draft replies", verdict="automation-ready", feasibility=0.9)
    untested = make_task(job, "Tag tickets", hours_per_week=Decimal(10))
    create_use_case(team, None, [ready, untested], name="Inbox copilot", mode="automate", risk_tier="high")
    response = viewer_client.get(url("usecase_list", team))
    assert response.status_code == 200
    row = response.context["page"][0]
    assert row.task_count == 2
    assert row.value_total == Decimal("31200") + Decimal("62400")
    assert row.feasibility == "untested"
    body = response.content.decode()
    assert "Inbox copilot" in body and "$93,600" in body and "Scope" in body and "High" in body
    assert "New use case" not in body  # viewers cannot create


def test_a_use_case_without_tasks_shows_zero_value(viewer_client, team):
    make_usecase(team, "Empty idea")
    row = viewer_client.get(url("usecase_list", team)).context["page"][0]
    assert (row.task_count, row.value_total, row.feasibility) == (0, 0, None)


def test_stranger_gets_404_on_the_list(stranger_client, team):
    assert stranger_client.get(url("usecase_list", team)).status_code == 404
    assert stranger_client.post(url("usecase_list", team), {}).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, team):
    assert client.get(url("usecase_list", team)).status_code == 302


def test_list_filters_by_stage(viewer_client, team, use_case):
    built = make_usecase(team, "Already building", stage="build")
    page = viewer_client.get(url("usecase_list", team) + "?stage=build").context["page"]
    assert [uc.pk for uc in page] == [built.pk]


@pytest.mark.parametrize("count", [2, 30])
def test_the_list_needs_the_same_queries_for_2_or_30_use_cases(
    owner_client, team, job, owner, django_assert_max_num_queries, count
):
    tasks = [make_task(job, f"Task {i}") for i in range(4)]
    for i in range(count):
        create_use_case(team, owner, tasks[: 1 + i % 4], name=f"Use case {i:02}", owner=owner)
    with django_assert_max_num_queries(12):
        response = owner_client.get(url("usecase_list", team))
    assert len(response.context["page"]) == count


def test_editor_creates_a_use_case_and_its_first_history_entry(as_user, team, job, editor):
    task = make_task(job, "Draft replies")
    response = as_user(editor).post(url("usecase_list", team), new_usecase_data(task, owner=editor.pk))
    use_case = UseCase.objects.get(name="Reply assistant")
    assert response.status_code == 302 and response["Location"] == url("usecase_detail", team, use_case)
    assert (use_case.team, use_case.stage, use_case.owner, use_case.risk_tier) == (
        team,
        "scope",
        editor,
        "limited",
    )
    assert list(use_case.tasks.all()) == [task]
    change = use_case.stage_changes.get()
    assert (change.from_stage, change.to_stage, change.changed_by) == ("", "scope", editor)


def test_viewer_cannot_create_a_use_case(viewer_client, team, job):
    response = viewer_client.post(url("usecase_list", team), new_usecase_data(make_task(job)))
    assert response.status_code == 403
    assert not UseCase.objects.exists()


def test_tasks_of_another_team_are_refused(owner_client, team, job, stranger):
    theirs = make_task(make_job(stranger.teams.get(), "Their job"), "Their task")
    response = owner_client.post(url("usecase_list", team), new_usecase_data(make_task(job), theirs))
    assert response.status_code == 200
    assert f"Task {theirs.code} is not in this team&#x27;s portfolio" in response.content.decode()
    assert not UseCase.objects.exists()


def test_a_use_case_needs_a_task_and_keeps_what_was_typed(owner_client, team, job):
    response = owner_client.post(url("usecase_list", team), new_usecase_data(name="Keep me"))
    body = response.content.decode()
    assert "Choose at least one task from the portfolio" in body
    assert 'value="Keep me"' in body
    assert not UseCase.objects.exists()


def test_the_owner_must_be_a_team_member(owner_client, team, job, stranger):
    response = owner_client.post(
        url("usecase_list", team), new_usecase_data(make_task(job), owner=stranger.pk)
    )
    assert "Choose the owner among this team" in response.content.decode()
    assert not UseCase.objects.exists()


def test_finding_tasks_without_javascript_keeps_the_form_and_saves_nothing(owner_client, team, job):
    chosen = make_task(job, "Draft replies")
    make_task(job, "Summarise calls")
    make_task(job, "Tag tickets")
    data = new_usecase_data(chosen, name="Half typed", task_q="summar", find_tasks="1")
    response = owner_client.post(url("usecase_list", team), data)
    body = response.content.decode()
    assert not UseCase.objects.exists()
    assert 'value="Half typed"' in body
    assert [t.statement for t in response.context["picker"]["chosen"]] == ["Draft replies"]
    assert [t.statement for t in response.context["picker"]["results"]] == ["Summarise calls"]
    assert "This field is required" not in body


def test_the_task_search_with_htmx_returns_only_the_picker(owner_client, team, job, stranger):
    chosen = make_task(job, "Draft replies")
    make_task(job, "Summarise calls")
    make_task(make_job(stranger.teams.get(), "Theirs"), "Summarise their calls")
    response = owner_client.get(
        url("usecase_list", team),
        {"task_q": "summarise", "tasks": [str(chosen.code)]},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="task-picker"')
    assert "Summarise calls" in body and "Summarise their calls" not in body
    assert f'value="{chosen.code}" checked' in body


def test_the_task_picker_lists_a_bounded_number_of_thousands_of_tasks(
    owner_client, team, job, django_assert_max_num_queries
):
    Task.objects.bulk_create(
        Task(job=job, statement=f"Task {i}", hours_per_week=Decimal(i % 40)) for i in range(2000)
    )
    with django_assert_max_num_queries(10):
        response = owner_client.get(url("usecase_list", team), {"task_q": "task"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.count('name="tasks"') == PICKER_LIMIT
    assert "Showing the 30 highest-value matches" in body


def test_a_task_can_be_preselected_from_a_link(owner_client, team, job):
    task = make_task(job, "Draft replies")
    response = owner_client.get(url("usecase_list", team), {"tasks": str(task.code)})
    assert response.context["open_form"]
    assert f'value="{task.code}" checked' in response.content.decode()


# --- Detail ----------------------------------------------------------------------------------------


def test_viewer_sees_tasks_values_stages_and_history_but_no_buttons(viewer_client, team, use_case):
    response = viewer_client.get(url("usecase_detail", team, use_case))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Answer customer emails" in body and "$31,200" in body
    assert "olivia</strong>\n      created it in Scope" in body
    assert 'aria-current="step"' in body
    assert "Move to Build" not in body and "Delete this use case" not in body


def test_owner_sees_move_buttons_and_a_stale_form_guard(owner_client, team, use_case):
    body = owner_client.get(url("usecase_detail", team, use_case)).content.decode()
    assert "Move to Build" in body and "Back to" not in body
    assert '<input type="hidden" name="expected" value="scope">' in body


def test_stranger_gets_404_on_another_teams_use_case(stranger_client, team, use_case):
    for name in ("usecase_detail", "usecase_edit"):
        assert stranger_client.get(url(name, team, use_case)).status_code == 404
    for name in ("usecase_stage", "usecase_delete", "usecase_edit"):
        assert (
            stranger_client.post(url(name, team, use_case), {"to": "build", "expected": "scope"}).status_code
            == 404
        )
    assert UseCase.objects.get(pk=use_case.pk).stage == "scope"


def test_a_use_case_is_not_reachable_through_another_teams_address(as_user, team, use_case, stranger):
    other_team = stranger.teams.get()
    response = as_user(stranger).get(reverse("usecase_detail", args=[other_team.slug, use_case.code]))
    assert response.status_code == 404


@pytest.mark.parametrize("size", [2, 40])
def test_the_detail_page_needs_the_same_queries_for_few_or_many_tasks(
    viewer_client, team, job, owner, django_assert_max_num_queries, size
):
    use_case = create_use_case(team, owner, [make_task(job, f"Task {i}") for i in range(size)], name="Big")
    for _ in range(size // 2):
        StageChange.objects.create(use_case=use_case, from_stage="scope", to_stage="build", changed_by=owner)
    # 9 for the page, 4 for the audits panel (opportunities.panels): audits, risks, tier, trail.
    with django_assert_max_num_queries(13):
        viewer_client.get(url("usecase_detail", team, use_case))


def test_user_text_is_escaped(owner_client, team, job, owner):
    task = make_task(job, "<img src=x onerror=alert(1)>")
    use_case = create_use_case(team, owner, [task], name="<script>alert('name')</script>")
    move_stage(use_case, target="build", expected="scope", user=owner, note="<b>bold</b> move")
    detail = owner_client.get(url("usecase_detail", team, use_case)).content.decode()
    listing = owner_client.get(url("usecase_list", team)).content.decode()
    for body in (detail, listing):
        assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert (
        "<img src=x" not in detail
        and "<b>bold</b>" not in detail
        and "&lt;b&gt;bold&lt;/b&gt; move" in detail
    )


# --- Stage moves -----------------------------------------------------------------------------------


def test_editor_moves_a_use_case_to_the_next_stage_with_a_note(as_user, team, use_case, editor):
    client = as_user(editor)
    response = client.post(
        url("usecase_stage", team, use_case), {"to": "build", "expected": "scope", "note": "Scope signed off"}
    )
    assert response.status_code == 302 and response["Location"] == url("usecase_detail", team, use_case)
    use_case.refresh_from_db()
    assert use_case.stage == "build"
    change = use_case.stage_changes.first()
    assert (change.from_stage, change.to_stage, change.changed_by, change.note) == (
        "scope",
        "build",
        editor,
        "Scope signed off",
    )
    body = client.get(url("usecase_detail", team, use_case)).content.decode()
    assert "Moved to Build." in body
    assert "moved it from Scope to Build" in body and "Scope signed off" in body
    assert "Back to Scope" in body and "Move to Internal evaluation" in body


def test_a_use_case_can_go_back_a_stage(owner_client, team, use_case, owner):
    move_stage(use_case, target="build", expected="scope", user=owner)
    owner_client.post(url("usecase_stage", team, use_case), {"to": "scope", "expected": "build"})
    assert UseCase.objects.get(pk=use_case.pk).stage == "scope"
    assert [c.to_stage for c in use_case.stage_changes.all()] == ["scope", "build", "scope"]


def test_skipping_a_stage_is_refused_and_the_note_kept(owner_client, team, use_case):
    response = owner_client.post(
        url("usecase_stage", team, use_case), {"to": "deploy", "expected": "scope", "note": "Ship it now"}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "from Scope it can go to Build, not straight to Deploy" in body
    assert ">Ship it now</textarea>" in body
    assert UseCase.objects.get(pk=use_case.pk).stage == "scope"
    assert use_case.stage_changes.count() == 1


def test_a_stale_form_is_refused(owner_client, team, use_case, editor):
    move_stage(use_case, target="build", expected="scope", user=editor)
    response = owner_client.post(url("usecase_stage", team, use_case), {"to": "build", "expected": "scope"})
    assert response.status_code == 409
    assert "now in Build, not Scope" in response.content.decode()
    assert use_case.stage_changes.count() == 2


def test_viewer_cannot_move_a_use_case(viewer_client, team, use_case):
    response = viewer_client.post(url("usecase_stage", team, use_case), {"to": "build", "expected": "scope"})
    assert response.status_code == 403
    assert UseCase.objects.get(pk=use_case.pk).stage == "scope"


def test_auditor_cannot_move_a_use_case(as_user, team, use_case, auditor):
    response = as_user(auditor).post(
        url("usecase_stage", team, use_case), {"to": "build", "expected": "scope"}
    )
    assert response.status_code == 403


def test_stage_moves_are_post_only(owner_client, team, use_case):
    assert owner_client.get(url("usecase_stage", team, use_case)).status_code == 405


def test_the_last_stage_offers_no_next_move(owner_client, team, use_case, owner):
    for before, after in [
        ("scope", "build"),
        ("build", "internal-evaluation"),
        ("internal-evaluation", "deploy"),
        ("deploy", "monitor"),
    ]:
        move_stage(use_case, target=after, expected=before, user=owner)
    body = owner_client.get(url("usecase_detail", team, use_case)).content.decode()
    assert "Monitor is the last stage" in body and "Back to Deploy" in body
    response = owner_client.post(url("usecase_stage", team, use_case), {"to": "scope", "expected": "monitor"})
    assert "not straight to Scope" in response.content.decode()


def test_an_htmx_move_swaps_only_the_stepper_and_history(owner_client, team, use_case):
    response = owner_client.post(
        url("usecase_stage", team, use_case), {"to": "build", "expected": "scope"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="usecase-stage"')
    assert "<html" not in body
    assert "Moved to Build." in body and "moved it from Scope to Build" in body
    assert '<input type="hidden" name="expected" value="build">' in body


def test_a_refused_htmx_move_shows_why_in_the_fragment(owner_client, team, use_case):
    response = owner_client.post(
        url("usecase_stage", team, use_case),
        {"to": "monitor", "expected": "scope", "note": "kept"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="usecase-stage"')
    assert "one stage at a time" in body and ">kept</textarea>" in body


# --- Edit and delete -------------------------------------------------------------------------------


def test_editor_edits_fields_and_tasks_but_not_the_stage(as_user, team, job, use_case, editor):
    extra = make_task(job, "Summarise calls")
    client = as_user(editor)
    form = client.get(url("usecase_edit", team, use_case))
    assert form.status_code == 200
    assert [t.statement for t in form.context["picker"]["chosen"]] == ["Answer customer emails"]
    data = new_usecase_data(extra, name="Call notes", mode="automate", risk_tier="high", stage="monitor")
    response = client.post(url("usecase_edit", team, use_case), data)
    assert response.status_code == 302
    use_case.refresh_from_db()
    assert (use_case.name, use_case.mode, use_case.risk_tier, use_case.stage) == (
        "Call notes",
        "automate",
        "high",
        "scope",
    )
    assert list(use_case.tasks.all()) == [extra]


def test_an_invalid_edit_saves_nothing(owner_client, team, use_case):
    response = owner_client.post(url("usecase_edit", team, use_case), new_usecase_data(name=""))
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body and "Choose at least one task" in body
    assert "Edit Email drafting" in body
    assert UseCase.objects.get(pk=use_case.pk).name == "Email drafting"
    assert use_case.tasks.count() == 1


def test_viewer_cannot_edit_or_delete(viewer_client, team, use_case):
    assert viewer_client.get(url("usecase_edit", team, use_case)).status_code == 403
    assert viewer_client.post(url("usecase_edit", team, use_case), {"name": "x"}).status_code == 403
    assert viewer_client.post(url("usecase_delete", team, use_case)).status_code == 403
    assert UseCase.objects.filter(pk=use_case.pk, name="Email drafting").exists()


def test_editor_deletes_a_use_case_and_its_history_but_not_its_tasks(as_user, team, use_case, editor):
    response = as_user(editor).post(url("usecase_delete", team, use_case))
    assert response.status_code == 302 and response["Location"] == url("usecase_list", team)
    assert not UseCase.objects.exists() and not StageChange.objects.exists()
    assert Task.objects.filter(statement="Answer customer emails").exists()


def test_delete_is_post_only(owner_client, team, use_case):
    assert owner_client.get(url("usecase_delete", team, use_case)).status_code == 405
    assert UseCase.objects.filter(pk=use_case.pk).exists()


# --- In a browser: the htmx swaps ------------------------------------------------------------------


@pytest.fixture
def browser_page(page_as, owner):
    return page_as(owner)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_stage_move_updates_the_stepper_in_place(browser_page, team, job, owner):
    use_case = create_use_case(team, owner, [make_task(job, "Draft replies")], name="Inbox copilot")
    page = browser_page
    page.goto(url("usecase_detail", team, use_case))
    page.evaluate("document.body.dataset.marker = 'same page'")
    page.fill("#stage-note", "Scope approved")
    page.click("text=Move to Build")
    page.wait_for_selector("text=Moved to Build.")
    assert page.evaluate("document.body.dataset.marker") == "same page"  # swapped, not reloaded
    assert "moved it from Scope to Build" in page.inner_text("#usecase-stage")
    page.click("text=Move to Internal evaluation")
    page.wait_for_selector("text=Moved to Internal evaluation.")
    assert [c.to_stage for c in use_case.stage_changes.all()] == ["internal-evaluation", "build", "scope"]


RESULTS_LACK = "text => !document.querySelector('.picker-results').innerText.includes(text)"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_task_search_keeps_ticked_tasks(browser_page, team, job):
    make_task(job, "Draft replies")
    make_task(job, "Summarise calls")
    page = browser_page
    page.goto(url("usecase_list", team) + "?new=1")
    page.fill("#id_name", "Call helper")
    page.fill("#task-q", "summar")
    page.wait_for_function(RESULTS_LACK, arg="Draft replies")
    assert "Summarise calls" in page.inner_text(".picker-results")
    page.check(".picker-results input[name=tasks]")
    page.fill("#task-q", "draft")
    page.wait_for_function(RESULTS_LACK, arg="Summarise calls")  # ticked: moved up into the chosen list
    assert "Summarise calls" in page.inner_text(".picker-chosen")
    assert "Draft replies" in page.inner_text(".picker-results")
    page.click("text=Create use case")
    page.wait_for_selector("h1:has-text('Call helper')")
    assert [t.statement for t in UseCase.objects.get(name="Call helper").tasks.all()] == ["Summarise calls"]
