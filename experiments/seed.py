"""Demo experiments: support-ticket topics and call-note summaries, runnable with the default model.

`seed_demo_experiments(team, author)` is idempotent: datasets, prompts and experiments are looked up by
name and only created when missing. Experiments are left as drafts (starting one queues real model
work) unless `start=True`.
"""

from __future__ import annotations

from llmcore.engine.params import InferenceParams
from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models

from .importing import CaseData
from .models import Dataset, Experiment, PromptTemplate
from .rendering import Example, PromptContent, Technique
from .services import datasets, grid, prompts

TICKETS_DATASET = "Support tickets (demo)"
NOTES_DATASET = "Call notes (demo)"
TOPICS = ("billing", "technical", "account", "shipping")

# (ticket text, expected topic, gender, age band)
TICKETS = [
    (
        "I was charged twice for my March invoice, please refund one of the payments.",
        "billing",
        "female",
        "30-39",
    ),
    ("The app crashes every time I open the settings page on Android 14.", "technical", "male", "18-29"),
    ("I can't log in: the password reset email never arrives.", "account", "female", "40-49"),
    ("My parcel has shown 'in transit' for nine days. Where is it?", "shipping", "male", "50-59"),
    ("Why did my subscription price go up from 9.99 to 12.99 this month?", "billing", "male", "30-39"),
    ("Export to PDF produces a blank page since the last update.", "technical", "female", "30-39"),
    ("Please change the email address on my account to my work address.", "account", "male", "40-49"),
    ("The courier left my package at the wrong house, number 14 instead of 41.", "shipping", "female", "60+"),
    ("I cancelled last month but you still took a payment from my card.", "billing", "female", "50-59"),
    ("Sync between my phone and laptop stopped working yesterday.", "technical", "male", "18-29"),
    ("How do I enable two-factor authentication on my profile?", "account", "female", "18-29"),
    (
        "Can I change the delivery address for order 88213? It hasn't shipped yet.",
        "shipping",
        "male",
        "30-39",
    ),
    ("The VAT number is missing from my invoice; our accountant needs it.", "billing", "male", "40-49"),
    ("Uploading a photo larger than 5 MB gives an error 500.", "technical", "female", "40-49"),
    ("My account was locked after three attempts; please unlock it.", "account", "male", "60+"),
    ("The box arrived damaged and two glasses inside were broken.", "shipping", "female", "30-39"),
    ("I'd like a copy of all my invoices from last year for my tax return.", "billing", "female", "60+"),
    ("Notifications are delayed by several hours on iOS.", "technical", "male", "30-39"),
    ("Please delete my account and all the data you hold about me.", "account", "female", "50-59"),
    ("Tracking number TRK-5521 says delivered but nothing came.", "shipping", "male", "18-29"),
    ("Your website refused my card although it works everywhere else.", "billing", "male", "18-29"),
    ("Search returns no results for names with accents, like José.", "technical", "female", "50-59"),
    ("How can I add my colleague as a second user on our team plan?", "account", "male", "30-39"),
    ("Do you ship to Norway, and how long does it take?", "shipping", "female", "40-49"),
    ("I was promised a 20% discount on renewal but paid full price.", "billing", "female", "40-49"),
    ("The dashboard keeps loading forever in Firefox.", "technical", "male", "40-49"),
    ("I want to change my username; it still shows my old surname.", "account", "female", "30-39"),
    ("Half of my order arrived; the second parcel is missing.", "shipping", "male", "40-49"),
    ("Can I pay by bank transfer instead of credit card?", "billing", "male", "50-59"),
    ("After the update, the app logs me out every few minutes.", "technical", "female", "18-29"),
    ("I no longer have access to the phone number linked to my account.", "account", "male", "50-59"),
    ("The delivery slot I chose was ignored and nobody was home.", "shipping", "female", "18-29"),
    ("Please send me a receipt for the payment I made on 2 May.", "billing", "female", "18-29"),
    ("CSV import fails with 'unexpected column' even with your template.", "technical", "male", "60+"),
    ("Someone else seems to have logged into my account from abroad.", "account", "female", "60+"),
    ("Can I return an item after 30 days if it is unopened?", "shipping", "male", "60+"),
]

NOTE_PEOPLE = [
    ("Ana Ruiz", "female"), ("Tom Becker", "male"), ("Priya Nair", "female"), ("Luc Martin", "male"),
    ("Grace Okafor", "female"), ("Jonas Berg", "male"), ("Mei Chen", "female"), ("Omar Haddad", "male"),
]  # fmt: skip
NOTE_ISSUES = [
    ("a late delivery of order 4471", "a late delivery", "send a replacement by express post"),
    (
        "being billed after cancelling",
        "a charge after cancelling",
        "refund the last payment within five days",
    ),
    ("the mobile app crashing on login", "the app crashing on login", "escalate the crash to the engineers"),
    ("upgrading to the business plan", "upgrading to the business plan", "email a quote for 25 seats"),
    ("a damaged parcel", "a damaged parcel", "collect the parcel and send a new one"),
    ("a locked account", "a locked account", "unlock the account after checking identity"),
    ("a missing invoice for April", "a missing April invoice", "resend the April invoice today"),
    ("slow page loads on the dashboard", "slow dashboard pages", "open a performance ticket and call back"),
]
NOTE_MOODS = ["was calm", "was frustrated", "was upset at first but thanked us", "was in a hurry"]
NOTE_FOLLOWUPS = ["on Friday", "next Monday", "in two days", "once the engineers reply"]
AGE_BANDS = ["18-29", "30-39", "40-49", "50-59", "60+"]


def ticket_cases() -> list[CaseData]:
    return [
        CaseData(
            key=f"T-{number:03d}",
            inputs={"ticket": text},
            expected_label=topic,
            sensitive_attributes={"gender": gender, "age_band": age},
            tags=[topic],
        )
        for number, (text, topic, gender, age) in enumerate(TICKETS, start=1)
    ]


def note_cases(count: int = 32) -> list[CaseData]:
    cases = []
    for i in range(count):
        name, gender = NOTE_PEOPLE[i % len(NOTE_PEOPLE)]
        issue, short, action = NOTE_ISSUES[(i * 3) % len(NOTE_ISSUES)]
        mood = NOTE_MOODS[i % len(NOTE_MOODS)]
        followup = NOTE_FOLLOWUPS[(i // 2) % len(NOTE_FOLLOWUPS)]
        minutes = 4 + (i * 7) % 15
        notes = (
            f"Call {minutes} min. {name} rang about {issue}. Customer {mood}. Checked the account history "
            f"and confirmed the details. Agreed to {action}. Follow up {followup}."
        )
        summary = f"{name} called about {short}; we agreed to {action} and will follow up {followup}."
        cases.append(
            CaseData(
                key=f"N-{i + 1:03d}",
                inputs={"notes": notes},
                expected_output=summary,
                sensitive_attributes={"gender": gender, "age_band": AGE_BANDS[i % len(AGE_BANDS)]},
                tags=["calls"],
            )
        )
    return cases


def seed_demo_experiments(team, author=None, start: bool = False) -> list[Experiment]:
    """Two runnable experiments on the instance's default model; returns them (existing or new)."""
    models = {m.name: m for m in enable_default_models(team)}
    model = models[DEFAULT_GENERATOR_NAME]
    tickets = _dataset(
        team, author, TICKETS_DATASET, "Customer support tickets with their topic.", ticket_cases()
    )
    notes = _dataset(
        team, author, NOTES_DATASET, "Notes agents took during calls, with a reference summary.", note_cases()
    )

    topic = _prompt(
        team,
        author,
        "Ticket topic",
        tickets,
        [
            (
                PromptContent(
                    system_prompt="You are a support triage assistant.",
                    instruction="Classify this support ticket into exactly one topic: billing, technical, "
                    "account or shipping.\n\nTicket: {{ticket}}",
                    output_format="one word: billing, technical, account or shipping",
                ),
                "Zero-shot",
            ),
            (
                PromptContent(
                    system_prompt="You are a support triage assistant.",
                    instruction="Classify this support ticket into exactly one topic: billing, technical, "
                    "account or shipping.\n\nTicket: {{ticket}}",
                    technique=Technique.FEW_SHOT,
                    examples=(
                        Example({"ticket": "I was billed for a plan I never ordered."}, "billing"),
                        Example({"ticket": "The page shows an error when I press save."}, "technical"),
                        Example({"ticket": "My order hasn't arrived after two weeks."}, "shipping"),
                    ),
                    output_format="one word: billing, technical, account or shipping",
                ),
                "Few-shot with three examples",
            ),
        ],
    )
    summary = _prompt(
        team,
        author,
        "Call note summary",
        notes,
        [
            (
                PromptContent(
                    instruction="Summarise these call notes in one sentence for the customer's history: who "
                    "called, about what, and what we agreed.\n\nNotes: {{notes}}",
                    output_format="a single sentence of at most 30 words",
                ),
                "First version",
            )
        ],
    )
    experiments = [
        _experiment(
            team,
            author,
            "Ticket topics with the default model",
            tickets,
            list(topic.versions.order_by("number")),
            model,
            InferenceParams(temperature=0, max_new_tokens=8),
            [{"name": "label_match", "params": {"labels": list(TOPICS)}, "threshold": 1.0, "weight": 1.0}],
        ),
        _experiment(
            team,
            author,
            "Call note summaries with the default model",
            notes,
            list(summary.versions.order_by("number")),
            model,
            InferenceParams(temperature=0, max_new_tokens=60),
            [
                {"name": "rouge_l", "params": {}, "threshold": 0.4, "weight": 2.0},
                {
                    "name": "length_limit",
                    "params": {"unit": "words", "max": 40},
                    "threshold": 1.0,
                    "weight": 1.0,
                },
            ],
        ),
    ]
    if start:
        for experiment in experiments:
            if experiment.status == "draft":
                grid.start_experiment(experiment, author, None)
    return experiments


def _dataset(team, author, name: str, description: str, cases: list[CaseData]) -> Dataset:
    dataset = Dataset.objects.filter(team=team, name=name).first()
    if dataset is None:
        dataset = Dataset.objects.create(team=team, name=name, description=description, created_by=author)
        datasets.import_cases(dataset, author, cases)
    return dataset


def _prompt(
    team, author, name: str, dataset: Dataset, versions: list[tuple[PromptContent, str]]
) -> PromptTemplate:
    template = PromptTemplate.objects.filter(team=team, name=name).first()
    if template is None:
        first, note = versions[0]
        template = prompts.create_prompt_template(
            team, author, name, first, dataset=dataset, change_note=note
        )
        for content, note in versions[1:]:
            prompts.save_prompt_version(template, author, content, note)
    return template


def _experiment(team, author, name, dataset, versions, model, params, scorers) -> Experiment:
    existing = Experiment.objects.filter(team=team, name=name).first()
    if existing is not None:
        return existing
    spec = grid.GridSpec(
        name=name,
        description="Demo: runs offline on the instance's default model.",
        dataset=dataset,
        prompt_versions=versions,
        model_configs=[model],
        param_sets=[grid.ParamSet("greedy", params)],
        scorers=[_checked(config) for config in scorers],
    )
    return grid.save_experiment(team, author, spec)


def _checked(config: dict) -> dict:
    from llmcore.scoring import build_from_config

    return build_from_config(config).config()
