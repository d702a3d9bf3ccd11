"""Task breakdown: the parser on realistic messy model answers, the run on a worker (a stand-in engine,
and once the real default model), and the page for the three personas: nothing becomes a task without
an editor's click, and an edited proposal is validated like the task form."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from llmcore.engine import runtime
from llmcore.engine.types import FinishReason, GenerationResult
from llmcore.models import InferenceCall, TeamBudget
from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models
from opportunities.breakdown import parsing, prompt, service
from opportunities.models import BreakdownRun, Task, TaskProposal
from tests.factories import make_job, make_model_config, make_task, make_user

# -- parsing -------------------------------------------------------------------------------------------

# What SmolLM2-135M answered to the plain prompt (greedy, repetition penalty 1.1), kept verbatim.
SMOL_SUPPORT = """1. Answer customer's inquiries about products or services.
2. Provide assistance in resolving issues related to product availability or service delivery.
3. Assist customers in managing their order of orders for the day.
4. Respond to customer complaints regarding any issue they may have encountered.
8. Keep track of all customer support actions done so far."""
SMOL_ACCOUNTANT = """1. Prepare financial statements: This includes creating and maintaining a balance sheet, income statement, and cash flow statement.

2. File taxes: This involves filing tax returns with the IRS.

3. Manage finances - accountants manage various aspects of business life including budgeting.

5. File tax returns: This requires you to file tax returns with the IRS."""
SMOL_WAREHOUSE = """1. Warehouse worker: 1. Warehouse worker
2. Warehouse worker: 2. Warehouse worker
1. Warehouse worker - 2019-04-30
1. 1.1.1.1: Warehouse worker"""
SMOL_ONE_LINE = (
    "1. Respond to customer emails daily; 2. Assist with refunds and escalations; "
    "3. Provide assistance with technical issues; 4. Review customer feedback;"
)
STRUCTURED = """Here are the tasks of a support agent:

write | 5 | Draft replies to customer emails
- READ | 3h | Review the weekly ticket report
2) chat | 120 | Talk to customers on the phone
* **other** | about 2 | **Restock the demo room**
Write | 3-5 hours | Update the help centre articles
chat | x | Run the Monday stand-up
| 4 | Answer refund requests in the billing queue |

Hope this helps!"""


def test_a_numbered_list_becomes_tasks_with_kinds_guessed_from_the_first_verb():
    proposals = parsing.parse(SMOL_SUPPORT, job_title="Customer support agent")
    assert [p.statement for p in proposals][:2] == [
        "Answer customer's inquiries about products or services",
        "Provide assistance in resolving issues related to product availability or service delivery",
    ]
    assert len(proposals) == 5
    assert proposals[0].kind == "chat" and proposals[0].kind_guessed
    assert all(p.hours_per_week is None for p in proposals)


def test_the_models_explanation_after_a_colon_or_dash_is_cut_and_duplicates_dropped():
    proposals = parsing.parse(SMOL_ACCOUNTANT, job_title="Accountant")
    assert [p.statement for p in proposals] == [
        "Prepare financial statements",
        "File taxes",
        "Manage finances",
        "File tax returns",
    ]
    assert proposals[0].kind == "write"


def test_the_job_title_repeated_with_numbers_is_not_a_task():
    assert parsing.parse(SMOL_WAREHOUSE, job_title="Warehouse worker") == []


def test_several_numbered_tasks_on_one_line_are_split():
    statements = [p.statement for p in parsing.parse(SMOL_ONE_LINE, job_title="Support agent")]
    assert statements == [
        "Respond to customer emails daily",
        "Assist with refunds and escalations",
        "Provide assistance with technical issues",
        "Review customer feedback",
    ]


def test_the_kind_hours_task_format_is_read_whatever_the_bullets_case_and_units():
    proposals = parsing.parse(STRUCTURED, job_title="Support agent")
    got = [(p.kind, p.hours_per_week, p.statement) for p in proposals]
    assert got == [
        ("write", Decimal("5.00"), "Draft replies to customer emails"),
        ("read", Decimal("3.00"), "Review the weekly ticket report"),
        ("chat", Decimal("80.00"), "Talk to customers on the phone"),  # 120 clamped to 80
        ("other", Decimal("2.00"), "Restock the demo room"),
        ("write", Decimal("4.00"), "Update the help centre articles"),  # 3-5: the middle
        ("chat", None, "Run the Monday stand-up"),  # "x" is no number: hours left to the person
        ("chat", Decimal("4.00"), "Answer refund requests in the billing queue"),  # kind guessed
    ]
    assert not proposals[0].kind_guessed and proposals[-1].kind_guessed


def test_hours_written_after_the_task_are_taken_and_clamped():
    text = "- Update the CRM (2-4 hours per week)\n- Attend team meetings – 1.5 h/week\n- Sort mail 0 hours"
    got = [(p.statement, p.hours_per_week) for p in parsing.parse(text)]
    assert got == [
        ("Update the CRM", Decimal("3.00")),
        ("Attend team meetings", Decimal("1.50")),
        ("Sort mail", Decimal("0.00")),
    ]


def test_tasks_the_job_already_has_are_dropped_ignoring_case_and_punctuation():
    proposals = parsing.parse(
        "1. Draft replies to customer emails.\n2. Review the ticket backlog\n3. DRAFT REPLIES to customer emails!",
        existing=["Draft replies to customer emails"],
    )
    assert [p.statement for p in proposals] == ["Review the ticket backlog"]


def test_prose_around_a_list_and_headers_are_not_tasks():
    text = "Sure! Here are some tasks:\nDaily tasks:\n1. Check the inbox\n2. Reply to partners\nI hope this helps you."
    assert [p.statement for p in parsing.parse(text)] == ["Check the inbox", "Reply to partners"]


def test_the_small_models_prose_about_the_job_is_not_taken_for_tasks():
    # Sampled answers of SmolLM2-135M (temperature 0.7), kept verbatim.
    text = """To prepare for the job, I'll spend a few hours preparing my accounting books
1. Task 1
2. Another way to look at it is as a task for all warehouse workers - picking supplies, preparing packages, etc.
3. They also have to prepare food for customers, which includes getting ingredients from suppliers
4. A Marketing Coordinator must perform various tasks daily to ensure they provide exceptional service.
5. Load heavy boxes into vans for delivery (Verb: **load**)"""
    assert [p.statement for p in parsing.parse(text)] == ["Load heavy boxes into vans for delivery"]


def test_at_most_forty_proposals_and_long_statements_are_cut_at_a_word():
    text = "\n".join(f"{i}. Process request number {i}" for i in range(1, 100))
    assert len(parsing.parse(text)) == parsing.MAX_PROPOSALS
    long = parsing.parse("- Write " + "interdepartmental " * 25 + "memos")[0].statement
    assert len(long) <= parsing.MAX_STATEMENT and long.endswith("interdepartmental…")
    assert parsing.parse("- Write " + "very " * 40 + "long paragraphs") == []  # prose, not a task


def test_an_answer_with_no_task_in_it_parses_to_nothing():
    assert parsing.parse("I'm ready to help. What's your next task?") == []
    assert parsing.parse("1. 2. 3. 4. 5. 6. 7. 8.") == []
    assert parsing.parse("") == []


def test_small_models_get_the_plain_prompt_and_larger_ones_the_format_and_the_existing_tasks():
    small = prompt.build("Accountant", "Files taxes.", ["Reconcile accounts"], small=True)
    assert "kind |" not in small.text and "starting with a verb" in small.text and not small.structured
    large = prompt.build("Accountant", "x" * 5000, ["Reconcile accounts"], small=False)
    assert "kind | hours per week | task" in large.text and "- Reconcile accounts" in large.text
    assert len(large.text) < 3000  # the description is cut
    assert prompt.is_small(135_000_000, local=True) and not prompt.is_small(7_000_000_000, local=True)
    assert prompt.is_small(None, local=True) and not prompt.is_small(None, local=False)


# -- the run -------------------------------------------------------------------------------------------


def answering(text: str, finish=FinishReason.STOP, error=""):
    """A stand-in for runtime.generate that answers `text` and, like a backend, polls the progress."""
    calls = []

    def generate(spec, requests, batch_size=None, progress=None):
        calls.append((spec, list(requests)))
        if progress is not None:
            progress.cancelled()
        return [GenerationResult(r.key, text, finish, 40, 30, 1.5, 0.0, error) for r in requests]

    generate.calls = calls
    return generate


@pytest.fixture
def job(team):
    return make_job(team, "Support agent")


@pytest.fixture
def smol(team):
    model = next(m for m in enable_default_models(team) if m.name == DEFAULT_GENERATOR_NAME)
    return model


def queued(job, model, user=None) -> BreakdownRun:
    return BreakdownRun.objects.create(
        team=job.team, job=job, model=model, model_name=model.name, created_by=user
    )


def test_a_run_saves_the_proposals_keeps_the_answer_and_logs_the_call(job, smol, owner, monkeypatch):
    make_task(job, "Draft replies to customer emails")
    fake = answering(STRUCTURED)
    monkeypatch.setattr(runtime, "generate", fake)
    run = service.execute(queued(job, smol, owner).pk)

    assert (run.status, run.stage, run.message) == ("done", "done", "")
    statements = list(run.proposals.values_list("statement", flat=True))
    assert "Draft replies to customer emails" not in statements and len(statements) == 6
    assert run.raw_output == STRUCTURED and run.tokens_out == 30 and run.elapsed_s is not None
    assert "starting with a verb" in run.prompt  # the default model is small: the plain prompt
    assert fake.calls[0][1][0].params.max_new_tokens == prompt.MAX_NEW_TOKENS
    call = InferenceCall.objects.get()
    assert (call.purpose, call.team_id, call.user_id, call.model_id) == (
        "task breakdown",
        job.team_id,
        owner.pk,
        smol.pk,
    )
    assert Task.objects.count() == 1  # nothing added without a click


def test_asking_the_same_model_again_samples_so_the_list_differs(job, smol, monkeypatch):
    fake = answering(STRUCTURED)
    monkeypatch.setattr(runtime, "generate", fake)
    service.execute(queued(job, smol).pk)
    service.execute(queued(job, smol).pk)
    first, second = (requests[0].params for _, requests in fake.calls)
    assert first.temperature == 0 and (second.temperature, second.seed) == (0.5, 1)


def test_a_run_claimed_by_another_worker_is_left_alone(job, smol, monkeypatch):
    monkeypatch.setattr(runtime, "generate", answering(STRUCTURED))
    run = queued(job, smol)
    BreakdownRun.objects.filter(pk=run.pk).update(status="running")
    assert service.execute(run.pk).proposals.count() == 0


def test_an_answer_without_tasks_finishes_with_a_message_and_the_answer_kept(job, smol, monkeypatch):
    monkeypatch.setattr(runtime, "generate", answering("I'm ready to help. What's your next task?"))
    run = service.execute(queued(job, smol).pk)
    assert run.status == "done" and run.proposals.count() == 0
    assert "Nothing in the model's answer reads as a task" in run.message
    assert run.raw_output.startswith("I'm ready")


def test_a_model_error_fails_the_run_with_the_reason(job, smol, monkeypatch):
    monkeypatch.setattr(runtime, "generate", answering("", FinishReason.ERROR, "prompt too long"))
    run = service.execute(queued(job, smol).pk)
    assert run.status == "failed" and "prompt too long" in run.message


def test_start_refuses_a_model_the_role_may_not_use_and_a_spent_budget(job, editor, monkeypatch):
    from experiments import broker

    monkeypatch.setattr(broker, "check_broker", lambda: None)
    hosted = make_model_config(
        job.team, "Hosted", backend="openai-compatible", source="https://api.example.com/v1",
        external=True, allowed_roles="admin",
    )  # fmt: skip
    with pytest.raises(service.llm_services.ModelNotAllowed, match="only these roles may use it: admin"):
        service.start(job, hosted, editor, "editor")
    local = make_model_config(job.team, "Local")
    TeamBudget.objects.create(team=job.team, monthly_token_limit=10)
    InferenceCall.objects.create(team=job.team, model=local, model_name="Local", tokens_in=50)
    with pytest.raises(service.llm_services.BudgetExceeded):
        service.start(job, local, editor, "editor")
    assert not BreakdownRun.objects.exists()


def test_start_queues_one_run_per_job_on_the_models_queue(
    job, smol, editor, monkeypatch, django_capture_on_commit_callbacks
):
    from experiments import broker
    from opportunities import tasks

    monkeypatch.setattr(broker, "check_broker", lambda: None)
    sent = []
    monkeypatch.setattr(tasks.break_down_job, "apply_async", lambda args, queue: sent.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        run, started = service.start(job, smol, editor, "editor")
    again, started_again = service.start(job, smol, editor, "editor")
    assert started and not started_again and again == run
    assert sent == [((run.pk,), "cpu")]


# -- the real default model ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_model_cache() -> Path:
    """The default model converted to safetensors once (shared with the engine's tests' cache folder)."""
    from llmcore.engine.defaults import DEFAULT_GENERATOR
    from llmcore.engine.gguf import converted_folder, gguf_path
    from llmcore.engine.types import ModelUnavailable

    try:
        path = gguf_path(DEFAULT_GENERATOR)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    repo = Path(__file__).resolve().parents[2]
    cache = Path(os.environ.get("ASSAY_TEST_MODELS_DIR", repo / "var" / "test-models"))
    return converted_folder(path, cache_dir=cache).parent


@pytest.mark.realmodel
def test_the_default_model_proposes_tasks_through_the_service(team, smol, owner, settings, real_model_cache):
    settings.MODEL_CACHE_DIR = real_model_cache
    job = make_job(team, "Accountant")
    job.description = "Prepares monthly financial statements, reconciles bank accounts and files tax returns."
    job.save()
    runtime.unload_all()
    try:
        run = service.execute(queued(job, smol, owner).pk, max_new_tokens=80)
    finally:
        runtime.unload_all()
    assert run.status == "done", run.message
    assert run.raw_output.strip() and run.tokens_out > 0 and run.elapsed_s > 0
    proposals = list(run.proposals.all())
    # Either proposals were saved, or the page has a clear message and the answer to show.
    assert proposals or "Nothing in the model's answer reads as a task" in run.message
    assert all(p.statement and p.kind in parsing.KINDS for p in proposals)
    assert InferenceCall.objects.filter(purpose="task breakdown", outcome="ok").count() == 1


# -- the page ------------------------------------------------------------------------------------------


def url(name, team, code):
    from django.urls import reverse

    return reverse(name, args=[team.slug, code])


@pytest.fixture
def proposal(job):
    run = BreakdownRun.objects.create(
        team=job.team, job=job, model_name="Tiny", status="done", stage="done", raw_output="write | 5 | Draft"
    )
    return TaskProposal.objects.create(
        run=run,
        position=0,
        statement="Draft replies to customer emails",
        kind="write",
        hours_per_week=Decimal(5),
    )


def test_strangers_do_not_find_the_page_or_the_proposals(job, proposal, stranger_client):
    assert stranger_client.get(url("job_breakdown", job.team, job.code)).status_code == 404
    assert stranger_client.post(url("job_breakdown_start", job.team, job.code)).status_code == 404
    for name in ("proposal_accept", "proposal_discard"):
        assert stranger_client.post(url(name, job.team, proposal.code), {"statement": "x"}).status_code == 404
    assert TaskProposal.objects.get().status == "proposed"


def test_viewers_read_the_proposals_but_may_not_start_accept_or_discard(job, proposal, viewer_client):
    page = viewer_client.get(url("job_breakdown", job.team, job.code))
    assert page.status_code == 200
    assert "Draft replies to customer emails" in page.text and "Accept</button>" not in page.text
    assert 'name="model"' not in page.text
    assert viewer_client.post(url("job_breakdown_start", job.team, job.code)).status_code == 403
    data = {"statement": "Sneaky", "kind": "write", "hours_per_week": "1"}
    assert viewer_client.post(url("proposal_accept", job.team, proposal.code), data).status_code == 403
    assert viewer_client.post(url("proposal_discard", job.team, proposal.code)).status_code == 403
    assert TaskProposal.objects.get().status == "proposed" and not Task.objects.exists()
    assert "Propose tasks with a model" not in viewer_client.get(url("job_detail", job.team, job.code)).text


def test_an_editor_sees_the_default_model_picked_and_the_note_about_its_size(job, smol, editor, as_user):
    client = as_user(editor)
    assert "Propose tasks with a model" in client.get(url("job_detail", job.team, job.code)).text
    page = client.get(url("job_breakdown", job.team, job.code))
    assert page.status_code == 200
    assert f'<option value="{smol.pk}" selected>' in page.text
    assert "is very small" in page.text and "A larger model your team registers" in page.text
    assert "No model has proposed tasks for this job yet." in page.text


def test_an_editor_starts_a_run_and_the_page_polls_it(job, smol, editor, as_user, monkeypatch):
    from experiments import broker
    from opportunities import tasks

    monkeypatch.setattr(broker, "check_broker", lambda: None)
    monkeypatch.setattr(tasks.break_down_job, "apply_async", lambda args, queue: None)
    client = as_user(editor)
    response = client.post(url("job_breakdown_start", job.team, job.code), {"model": smol.pk})
    assert response.status_code == 302
    run = BreakdownRun.objects.get()
    assert (run.status, run.model, run.created_by) == ("queued", smol, editor)
    page = client.get(response["Location"])
    assert 'hx-trigger="every 2s"' in page.text and "Waiting for a worker" in page.text
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="breakdown-run")
    assert poll.status_code == 200 and "<html" not in poll.text
    BreakdownRun.objects.filter(pk=run.pk).update(
        status="done", stage="done", raw_output="<script>x</script>"
    )
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="breakdown-run")
    assert poll.status_code == 286 and 'hx-trigger="every 2s"' not in poll.text
    assert "&lt;script&gt;x&lt;/script&gt;" in poll.text and "<script>x" not in poll.text


def test_starting_with_a_model_of_another_team_or_no_broker_says_why(
    job, smol, editor, stranger, as_user, monkeypatch
):
    from experiments import broker

    theirs = make_model_config(stranger.memberships.get().team, "Their model")
    client = as_user(editor)
    response = client.post(url("job_breakdown_start", job.team, job.code), {"model": theirs.pk})
    assert response.status_code == 400 and "Pick one of the team&#x27;s models listed here." in response.text

    def down():
        raise broker.BrokerUnavailable("connection refused")

    monkeypatch.setattr(broker, "check_broker", down)
    response = client.post(url("job_breakdown_start", job.team, job.code), {"model": smol.pk})
    assert response.status_code == 400 and "The task queue is not answering" in response.text
    assert not BreakdownRun.objects.exists()


def test_accepting_creates_the_task_with_the_edited_fields_once(job, proposal, editor, as_user):
    client = as_user(editor)
    data = {"statement": "Draft replies to billing emails", "kind": "chat", "hours_per_week": "7.5"}
    response = client.post(url("proposal_accept", job.team, proposal.code), data)
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.job, task.statement, task.kind, task.hours_per_week) == (
        job,
        "Draft replies to billing emails",
        "chat",
        Decimal("7.5"),
    )
    assert task.label_source == "" and task.exposure_label == ""
    proposal.refresh_from_db()
    assert (proposal.status, proposal.task, proposal.decided_by) == ("accepted", task, editor)
    # A second click (or a second tab) adds nothing.
    client.post(url("proposal_accept", job.team, proposal.code), data)
    assert Task.objects.count() == 1
    page = client.get(url("job_breakdown", job.team, job.code))
    assert "Accepted" in page.text and url("task_detail", job.team, task.code) in page.text


def test_bad_edits_are_refused_with_the_fields_errors_and_nothing_added(job, proposal, editor, as_user):
    client = as_user(editor)
    data = {"statement": "", "kind": "sing", "hours_per_week": "120"}
    response = client.post(url("proposal_accept", job.team, proposal.code), data)
    assert response.status_code == 400
    assert "Describe the task in a few words." in response.text
    assert "Select a valid choice. sing is not one of the available choices." in response.text
    assert "Must be a number between 0 and 80." in response.text
    assert not Task.objects.exists() and TaskProposal.objects.get().status == "proposed"
    fragment = client.post(url("proposal_accept", job.team, proposal.code), data, HTTP_HX_REQUEST="true")
    assert (
        fragment.status_code == 400 and "<html" not in fragment.text and "Must be a number" in fragment.text
    )


def test_an_accept_over_htmx_answers_the_decided_row(job, proposal, editor, as_user):
    data = {"statement": "Draft replies", "kind": "write", "hours_per_week": "2"}
    response = as_user(editor).post(
        url("proposal_accept", job.team, proposal.code), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and f'id="proposal-{proposal.code}"' in response.text
    assert 'data-status="accepted"' in response.text and "<html" not in response.text


def test_discarding_keeps_the_proposal_out_of_the_job_for_good(job, proposal, editor, as_user):
    client = as_user(editor)
    assert client.post(url("proposal_discard", job.team, proposal.code)).status_code == 302
    assert TaskProposal.objects.get().status == "discarded"
    data = {"statement": "Draft replies", "kind": "write", "hours_per_week": "2"}
    client.post(url("proposal_accept", job.team, proposal.code), data)
    assert not Task.objects.exists()


def test_the_page_lists_forty_proposals_in_a_fixed_number_of_queries(
    job, editor, as_user, django_assert_max_num_queries
):
    other = make_user("other-editor", team=job.team, role="editor")
    run = BreakdownRun.objects.create(team=job.team, job=job, model_name="Tiny", status="done", stage="done")
    for i in range(40):
        task = make_task(job, f"Task {i}") if i % 2 else None
        TaskProposal.objects.create(
            run=run, position=i, statement=f"Proposal {i}", kind="read",
            status="accepted" if task else "proposed", task=task, decided_by=other if task else None,
        )  # fmt: skip
    client = as_user(editor)
    with django_assert_max_num_queries(12):
        page = client.get(url("job_breakdown", job.team, job.code))
    assert page.text.count('class="card proposal"') == 40
