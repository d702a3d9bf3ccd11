"""Demo audits, picked up by `manage.py seed_demo` (see opportunities/demo.py); only in a new demo team.

"Email reply drafting" gets a risk tier assessment, a governance audit prepared by demo-editor and
signed off by demo-auditor, a model audit in progress with a few answers and a link to a run of the demo
call-notes experiment (started here, so a worker of `make run` produces its outputs and the audit then
warns that the run changed since it was linked), three risks (one overdue, one whose residual score
blocks Deploy) and a refused move to Deploy — all through the same services as the pages, so the trail
has real entries to verify.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from opportunities.models import UseCase
from opportunities.usecases import StageMoveRejected, move_stage

from . import services
from .models import Answer, Audit, Kind, Risk

DEMO_USE_CASE = "Email reply drafting"
DEMO_EXPERIMENT = "Call note summaries with the default model"

GOVERNANCE_NOTES = {
    "accountable-owner": "The head of customer support owns it; the support operations lead deputises.",
    "intended-use": "Drafts for agents to check and send; never sent without an agent.",
    "data-sources": "Order system (order status), ticket history. Personal data: names, addresses.",
    "data-retention": "Prompts and drafts kept 30 days in the ticket system, then deleted.",
    "model-choice": "Local SmolLM2 first: no data leaves the company; hosted models compared later.",
}
PARTIAL = {"third-party", "concern-reporting"}

MODEL_ANSWERS = {
    "test-set": (Answer.YES, "Call-note dataset, 32 cases with reference summaries; rouge-L and length."),
    "human-review": (Answer.PARTIAL, "Agents have reviewed a first batch; 30 reviews are not reached yet."),
    "cost-per-use": (Answer.YES, "Local model: hardware time only, well under the business case."),
}

RISKS = (
    {
        "dimension": "transparency",
        "description": "A draft states an order status the order system does not show, and the agent sends it.",
        "likelihood": 3,
        "impact": 4,
        "mitigation": "Quote the status from the order system in the prompt; agents confirm it before sending.",
        "residual_likelihood": 2,
        "residual_impact": 4,
        "due_days": 14,
    },
    {
        "dimension": "privacy",
        "description": "Customer addresses in prompts end up in logs kept longer than 30 days.",
        "likelihood": 2,
        "impact": 3,
        "mitigation": "Mask addresses before logging; weekly deletion job.",
        "residual_likelihood": 1,
        "residual_impact": 3,
        "due_days": -3,
    },
    {
        "dimension": "fairness",
        "description": "Drafts for Spanish and German customers are worse than for English ones.",
        "likelihood": 4,
        "impact": 3,
        "mitigation": "Add Spanish and German cases to the test set; compare pass rates by language.",
        "residual_likelihood": 4,
        "residual_impact": 3,
        "due_days": 21,
    },
)


def seed_demo(ctx) -> None:
    if not ctx.team_created:
        return
    use_case = UseCase.objects.filter(team=ctx.team, name=DEMO_USE_CASE).first()
    if use_case is None or Audit.objects.filter(use_case=use_case).exists():
        return
    editor, auditor = ctx.users["demo-editor"], ctx.users["demo-auditor"]

    services.record_tier(
        use_case,
        {"prohibited": False, "areas": [], "narrow_preparatory": False, "chatbot": False, "synthetic": True},
        editor,
    )

    governance = services.start_audit(use_case, Kind.GOVERNANCE, editor)
    for item in governance.items.all():
        answer = Answer.PARTIAL if item.key in PARTIAL else Answer.YES
        services.answer_item(item, answer=answer, notes=GOVERNANCE_NOTES.get(item.key, ""), user=editor)
    services.submit(governance, editor)
    services.sign(
        governance,
        user=auditor,
        decision="approved",
        comment="Accountability and data use are clear enough to build.",
    )
    ctx.log(
        f"Signed off the governance audit of {use_case.name!r} (prepared by demo-editor, signed by demo-auditor)."
    )

    model = services.start_audit(use_case, Kind.MODEL, editor)
    items = {item.key: item for item in model.items.all()}
    for key, (answer, notes) in MODEL_ANSWERS.items():
        services.answer_item(items[key], answer=answer, notes=notes, user=editor)
    run = _demo_run(ctx)
    if run is not None:
        services.link_result(items["quality-evidence"], "experiment_run", str(run.code), editor)
        ctx.log(
            f"Linked a run of {DEMO_EXPERIMENT!r} to the model audit (it runs once a worker picks it up)."
        )
    ctx.log(f"Started the model audit of {use_case.name!r} with {len(MODEL_ANSWERS)} answers.")

    today = timezone.localdate()
    for spec in RISKS:
        fields = {k: v for k, v in spec.items() if k != "due_days"}
        risk = Risk(
            team=ctx.team,
            use_case=use_case,
            owner=use_case.owner,
            due=today + timedelta(days=spec["due_days"]),
            created_by=editor,
            **fields,
        )
        services.save_risk(risk, editor, created=True)
    ctx.log(f"Added {len(RISKS)} risks to {use_case.name!r}.")

    try:
        move_stage(
            use_case, target="deploy", expected=use_case.stage, user=ctx.admin, note="Ready to go live?"
        )
    except StageMoveRejected as refused:
        ctx.log(
            f"Moving {use_case.name!r} to Deploy was refused: {len(refused.missing)} requirements missing."
        )


def _demo_run(ctx):
    """A run of the demo call-notes experiment, starting the experiment if it is still a draft."""
    from experiments.models import Experiment, Run
    from experiments.services import grid

    experiment = Experiment.objects.filter(team=ctx.team, name=DEMO_EXPERIMENT).first()
    if experiment is None:
        return None
    if experiment.status == "draft":
        if not broker_reachable():
            ctx.log(
                f"No task broker is reachable, so {DEMO_EXPERIMENT!r} stays a draft and the model audit has no "
                "run linked yet: `make run` starts the broker, or start the experiment and link its run."
            )
            return None
        try:
            grid.start_experiment(experiment, ctx.admin, "admin")
        except Exception as error:  # a budget or model refusal: the demo goes on without the link
            ctx.log(f"Could not start {DEMO_EXPERIMENT!r} for the demo audit: {error}")
            return None
    return Run.objects.filter(experiment=experiment).order_by("id").first()


def broker_reachable() -> bool:
    """Whether the Celery broker answers now (starting an experiment enqueues its work on commit)."""
    from celery import current_app

    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        return False
    return True
