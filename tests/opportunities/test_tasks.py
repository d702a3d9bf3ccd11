from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from opportunities.forms import TaskForm
from opportunities.models import Task
from tests.factories import make_job, make_task, make_usecase

HTMX = {"HTTP_HX_REQUEST": "true"}
NEW_TASK = {
    "statement": "Summarise call notes",
    "kind": "read",
    "hours_per_week": "6",
    "people_share": "50",
    "mode": "augment",
    "time_saved": "40",
    "exposure_label": "E1",
    "label_source": "",
    "revenue_upside": "",
    "notes": "From the support survey",
}
ROW = {
    "statement": "Answer billing emails faster",
    "kind": "write",
    "hours_per_week": "8",
    "people_share": "100",
    "mode": "automate",
    "time_saved": "50",
    "exposure_label": "E2",
}


@pytest.fixture
def job(team):
    return make_job(team, "Support agent", headcount=10, hourly_cost="40")


@pytest.fixture
def task(job):
    return make_task(job, "Answer billing emails", notes="Keep me", revenue_upside=Decimal("100"))


def task_url(name, task):
    return reverse(name, args=[task.job.team.slug, task.code])


def create_url(job):
    return reverse("task_create", args=[job.team.slug, job.code])


# --- create ---


def test_editor_adds_a_task_to_a_job_with_percentages_stored_as_fractions(as_user, editor, job):
    response = as_user(editor).post(create_url(job), NEW_TASK)
    assert response.status_code == 302
    assert response["Location"] == reverse("job_detail", args=[job.team.slug, job.code])
    task = Task.objects.get(job=job)
    assert task.people_share == Decimal("0.5") and task.time_saved == Decimal("0.4")
    assert task.hours_per_week == Decimal(6) and task.revenue_upside == Decimal(0)
    # A label chosen by a person without a stated source is a human label.
    assert task.exposure_label == "E1" and task.label_source == "human"


def test_htmx_add_returns_the_tasks_section_with_the_new_row_and_an_empty_form(as_user, editor, job):
    response = as_user(editor).post(create_url(job), NEW_TASK, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="job-tasks">')
    assert "Summarise call notes" in body and "<html" not in body
    assert response.context["form"].is_bound is False
    # 10 × 50% × 6 h × 52 × $40 × 40% = $24,960
    assert "$24,960" in body


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("hours_per_week", "81", "Must be a number between 0 and 80."),
        ("hours_per_week", "-1", "Must be a number between 0 and 80."),
        ("hours_per_week", "lots", "Must be a number between 0 and 80."),
        ("people_share", "150", "Must be a percentage between 0 and 100."),
        ("time_saved", "-5", "Must be a percentage between 0 and 100."),
        ("statement", "", "Describe the task in a few words."),
        ("kind", "sing", "Select a valid choice."),
        ("hours_per_week", "1e30", "Must be a number between 0 and 80."),
        ("people_share", "1e30", "Must be a percentage between 0 and 100."),
        ("revenue_upside", "1e30", "Must be a number between 0 and a trillion."),
        ("statement", "x" * 100_000, "Ensure this value has at most 2000 characters (it has 100000)."),
        ("notes", "x" * 10_001, "Ensure this value has at most 10000 characters (it has 10001)."),
    ],
)
def test_invalid_task_shows_a_specific_error_and_saves_nothing(owner_client, job, field, value, message):
    for extra in ({}, HTMX):
        response = owner_client.post(create_url(job), {**NEW_TASK, field: value}, **extra)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Task.objects.exists()


def test_invalid_add_without_javascript_shows_the_full_form_with_the_typed_values(owner_client, job):
    response = owner_client.post(create_url(job), {**NEW_TASK, "hours_per_week": "99"})
    body = response.content.decode()
    assert "Nothing was saved" in body and 'value="99"' in body and "Summarise call notes" in body


def test_viewer_and_auditor_cannot_add_tasks(as_user, viewer, auditor, job):
    for user in (viewer, auditor):
        client = as_user(user)
        assert client.post(create_url(job), NEW_TASK).status_code == 403
        assert client.post(create_url(job), NEW_TASK, **HTMX).status_code == 403
    assert not Task.objects.exists()


def test_stranger_gets_404_adding_a_task(stranger_client, job):
    assert stranger_client.post(create_url(job), NEW_TASK).status_code == 404


# --- detail ---


def test_task_detail_shows_the_value_formula_with_numbers(viewer_client, task):
    response = viewer_client.get(task_url("task_detail", task))
    body = response.content.decode()
    assert response.status_code == 200
    # 10 people × 100% × 5 h × 52 × $40 × 30% = $31,200, + $100 upside
    assert (
        "10 people × 100% doing it × 5 h/week × 52 weeks × $40/h × 30% saved = $31,200"
        " + $100 revenue upside = $31,300"
    ) in body
    assert 'class="formula"' in body
    assert "untested: no scored or reviewed outputs yet" in body
    assert "Keep me" in body


def test_task_detail_speaks_plain_words_not_rule_versions(viewer_client, task):
    task.exposure_label, task.label_source = "E1", "predicted"
    task.save()
    body = viewer_client.get(task_url("task_detail", task)).content.decode()
    assert ">Formula version" not in body and "(rules " not in body
    assert "labelled by predicted" not in body and "<em>predicted</em>, not yet confirmed by a person" in body


def test_task_detail_lists_the_use_cases_it_belongs_to(viewer_client, team, task):
    make_usecase(team, "Email drafting").tasks.add(task)
    assert "Email drafting" in viewer_client.get(task_url("task_detail", task)).content.decode()


def test_task_detail_for_viewers_has_no_edit_controls(viewer_client, task):
    body = viewer_client.get(task_url("task_detail", task)).content.decode()
    assert task_url("task_edit", task) not in body and task_url("task_delete", task) not in body


def test_stranger_gets_404_on_task_detail(stranger_client, task):
    assert stranger_client.get(task_url("task_detail", task)).status_code == 404


def test_task_of_another_team_is_404(owner_client, team, stranger):
    theirs = make_task(make_job(stranger.teams.get(), "Theirs"), "Their task")
    assert owner_client.get(reverse("task_detail", args=[team.slug, theirs.code])).status_code == 404


def test_task_statement_is_escaped_everywhere(owner_client, job):
    task = make_task(job, "<script>alert(1)</script>")
    for name in ("task_detail", "task_edit", "task_delete"):
        body = owner_client.get(task_url(name, task)).content.decode()
        assert "<script>alert(1)</script>" not in body, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, name
    row = owner_client.get(task_url("task_edit", task), **HTMX).content.decode()
    assert "<script>alert(1)</script>" not in row
    page = owner_client.get(reverse("job_detail", args=[job.team.slug, job.code])).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- inline edit (htmx) ---


def test_edit_button_swaps_the_row_for_its_form(as_user, editor, task):
    response = as_user(editor).get(task_url("task_edit", task), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="task-{task.code}" class="editing">')
    assert f'form="task-form-{task.code}"' in body and 'value="30"' in body  # 0.3 shown as 30 %
    assert "<html" not in body


def test_job_detail_rows_offer_htmx_edit_and_delete_beside_plain_links(owner_client, job, task):
    body = owner_client.get(reverse("job_detail", args=[job.team.slug, job.code])).content.decode()
    edit, delete = task_url("task_edit", task), task_url("task_delete", task)
    assert f'href="{edit}" hx-get="{edit}"' in body
    assert f'href="{delete}" hx-post="{delete}"' in body
    assert 'hx-confirm="Delete the task' in body and 'hx-target="closest tr"' in body


def test_saving_the_row_returns_the_display_row_and_signals_the_totals(owner_client, task):
    response = owner_client.post(task_url("task_edit", task), ROW, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="task-{task.code}">')
    assert "Answer billing emails faster" in body and "<input" not in body
    assert response["HX-Trigger"] == '{"task-changed": {}}'
    task.refresh_from_db()
    assert task.hours_per_week == 8 and task.mode == "automate" and task.time_saved == Decimal("0.5")
    # 10 × 100% × 8 × 52 × 40 × 50% + 100 upside
    assert "$83,300" in body
    # Fields the row does not show are kept.
    assert task.notes == "Keep me" and task.revenue_upside == Decimal("100")
    assert task.label_source == "human"


def test_invalid_row_returns_the_form_row_with_errors_and_saves_nothing(owner_client, task):
    response = owner_client.post(task_url("task_edit", task), {**ROW, "hours_per_week": "100"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="editing"' in body and "Must be a number between 0 and 80." in body
    assert 'value="100"' in body
    task.refresh_from_db()
    assert task.hours_per_week == 5 and task.statement == "Answer billing emails"


def test_cancel_returns_the_display_row(owner_client, task):
    response = owner_client.get(task_url("task_detail", task), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="task-{task.code}">') and "$31,300" in body


def test_viewer_cannot_open_or_save_the_row_editor(viewer_client, task):
    assert viewer_client.get(task_url("task_edit", task), **HTMX).status_code == 403
    assert viewer_client.post(task_url("task_edit", task), ROW, **HTMX).status_code == 403
    task.refresh_from_db()
    assert task.statement == "Answer billing emails"


def test_stranger_gets_404_on_the_row_editor(stranger_client, task):
    assert stranger_client.post(task_url("task_edit", task), ROW, **HTMX).status_code == 404


# --- edit page (no JavaScript) ---


def test_edit_page_saves_every_field_and_redirects_to_the_task(as_user, editor, task):
    client = as_user(editor)
    page = client.get(task_url("task_edit", task))
    assert page.status_code == 200 and "Share of people doing it (%)" in page.content.decode()
    response = client.post(
        task_url("task_edit", task), {**NEW_TASK, "label_source": "predicted", "notes": "Updated"}
    )
    assert response.status_code == 302 and response["Location"] == task_url("task_detail", task)
    task.refresh_from_db()
    assert (
        task.notes == "Updated" and task.label_source == "predicted" and task.people_share == Decimal("0.5")
    )


def test_edit_page_with_errors_keeps_the_typed_values_and_saves_nothing(owner_client, task):
    response = owner_client.post(task_url("task_edit", task), {**NEW_TASK, "people_share": "120"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Must be a percentage between 0 and 100." in body and 'value="120"' in body
    task.refresh_from_db()
    assert task.statement == "Answer billing emails"


def test_clearing_the_exposure_label_clears_its_source(owner_client, task):
    task.exposure_label, task.label_source = "E1", "predicted"
    task.save()
    owner_client.post(
        task_url("task_edit", task), {**NEW_TASK, "exposure_label": "", "label_source": "predicted"}
    )
    task.refresh_from_db()
    assert task.exposure_label == "" and task.label_source == ""


def test_viewer_cannot_use_the_edit_page(viewer_client, task):
    assert viewer_client.get(task_url("task_edit", task)).status_code == 403
    assert viewer_client.post(task_url("task_edit", task), NEW_TASK).status_code == 403


def test_stranger_gets_404_on_the_edit_page(stranger_client, task):
    assert stranger_client.get(task_url("task_edit", task)).status_code == 404


# --- delete ---


def test_htmx_delete_removes_the_row_and_signals_the_totals(owner_client, task):
    response = owner_client.post(task_url("task_delete", task), **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert response["HX-Trigger"] == '{"task-changed": {}}'
    assert not Task.objects.filter(pk=task.pk).exists()


def test_htmx_delete_method_also_works(owner_client, task):
    assert owner_client.delete(task_url("task_delete", task), **HTMX).status_code == 200
    assert not Task.objects.filter(pk=task.pk).exists()


def test_delete_without_javascript_confirms_then_redirects_to_the_job(as_user, editor, task):
    client = as_user(editor)
    confirm = client.get(task_url("task_delete", task))
    assert (
        confirm.status_code == 200 and "Delete the task “Answer billing emails”?" in confirm.content.decode()
    )
    assert Task.objects.filter(pk=task.pk).exists()
    response = client.post(task_url("task_delete", task))
    assert response["Location"] == reverse("job_detail", args=[task.job.team.slug, task.job.code])
    assert not Task.objects.filter(pk=task.pk).exists()


def test_viewer_cannot_delete_a_task(viewer_client, task):
    assert viewer_client.get(task_url("task_delete", task)).status_code == 403
    assert viewer_client.post(task_url("task_delete", task), **HTMX).status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


def test_stranger_gets_404_deleting_a_task(stranger_client, task):
    assert stranger_client.post(task_url("task_delete", task)).status_code == 404
    assert Task.objects.filter(pk=task.pk).exists()


# --- form ---


def test_form_shows_stored_fractions_as_percentages():
    form = TaskForm(instance=Task(people_share=Decimal("0.125"), time_saved=Decimal("0.3")))
    assert form["people_share"].value() == "12.5"
    assert 'value="12.5"' in str(form["people_share"]) and 'value="30"' in str(form["time_saved"])


def test_form_labels_say_percent():
    form = TaskForm()
    assert form.fields["people_share"].label.endswith("(%)") and form.fields["time_saved"].label.endswith(
        "(%)"
    )


def test_unchanged_percentages_are_not_reported_as_changed(task):
    form = TaskForm({**NEW_TASK, "people_share": "100", "time_saved": "30"}, instance=task)
    assert form.is_valid()
    assert "people_share" not in form.changed_data and "time_saved" not in form.changed_data


# --- In a browser: the inline row editor ----------------------------------------------------------


@pytest.fixture
def editor_page(page_as, editor):
    page = page_as(editor)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_row_is_edited_in_place_and_the_total_follows(editor_page, job, task):
    make_task(job, "Read call notes", hours_per_week=Decimal("2"))
    expect = pytest.importorskip("playwright.sync_api").expect
    page = editor_page
    page.goto(reverse("job_detail", args=[job.team.slug, job.code]))
    page.evaluate("document.body.dataset.marker = 'same page'")
    assert page.inner_text("[data-testid=job-total]") == "$43,780"

    row = page.locator(f"#task-{task.code}")
    row.locator("a:has-text('Edit')").click()
    editing = page.locator("tr.editing")
    editing.locator("input[name=hours_per_week]").fill("90")
    editing.locator("button:has-text('Save')").click()
    page.wait_for_selector("tr.editing >> text=Must be a number between 0 and 80.")
    editing.locator("input[name=hours_per_week]").fill("10")
    editing.locator("button:has-text('Save')").click()
    page.wait_for_selector("tr.editing", state="detached")
    # 10 × 10 h × 52 × $40 × 30 % + $100 = $62,500; the other task $12,480
    expect(page.locator("[data-testid=job-total]")).to_have_text("$74,980")

    page.locator(f"#task-{task.code} a:has-text('Delete')").click()
    page.wait_for_selector(f"#task-{task.code}", state="detached")
    expect(page.locator("[data-testid=job-total]")).to_have_text("$12,480")
    assert page.evaluate("document.body.dataset.marker") == "same page"  # swapped, never reloaded
    assert list(Task.objects.values_list("statement", flat=True)) == ["Read call notes"]
