"""PII detection with checksums, redaction with typed placeholders, and the guard before external models."""

from __future__ import annotations

import pytest

from audits.fairness import pii
from audits.fairness.models import PiiAction, PiiGuardEvent, PiiPolicy
from experiments.importing import CaseData
from experiments.models import Dataset, Generation
from experiments.services import datasets, grid
from tests.experiments.factories import drive, make_experiment, make_model, make_prompt

TEXT = (
    "Mail jane.doe@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, "
    "IBAN GB82 WEST 1234 5698 7654 32, DNI 12345678Z."
)


def kinds(text: str) -> list[str]:
    return [f.kind for f in pii.find_pii(text)]


def test_each_kind_is_found_and_redacted_with_its_placeholder():
    assert kinds(TEXT) == ["email", "phone", "card", "iban", "national_id"]
    assert pii.redact(TEXT) == "Mail [EMAIL] or call [PHONE]. Card [CARD], IBAN [IBAN], DNI [NATIONAL_ID]."


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112",  # fails the Luhn check
        "IBAN GB82 WEST 1234 5698 7654 33",  # wrong IBAN checksum
        "DNI 12345678A",  # wrong control letter
        "Order 2024-05-01 number 88213, invoice INV-2231",
    ],
)
def test_numbers_whose_checksum_fails_are_not_pii(text):
    assert kinds(text) == []


def test_national_ids_name_their_scheme():
    (finding,) = pii.find_pii("Codice fiscale RSSMRA85T10A562S")
    assert finding.kind == "national_id" and finding.detail == "Italian codice fiscale"


def _external_run(team, owner, capture, inputs):
    dataset = Dataset.objects.create(team=team, name="Customer mails", created_by=owner)
    datasets.import_cases(
        dataset, owner, [CaseData(key=f"M-{i}", inputs={"ticket": t}) for i, t in enumerate(inputs)]
    )
    hosted = make_model(team, "Hosted model", backend="openai-compatible", source="http://127.0.0.1:9/v1",
                        remote_model="x", api_key_env="ASSAY_MODEL_KEY_TEST")  # fmt: skip
    prompt = make_prompt(team, dataset=dataset, author=owner)
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[prompt.versions.get()], models=[hosted]
    )
    with capture(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    return experiment


def test_block_policy_keeps_cases_with_pii_from_an_external_model_and_records_it(
    team, owner, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.llmcore.registry_fakes import install_fake_engine

    sent = install_fake_engine(monkeypatch)
    PiiPolicy.objects.create(team=team, action=PiiAction.BLOCK)
    experiment = _external_run(team, owner, django_capture_on_commit_callbacks,
                               ["Call me on +44 20 7946 0958", "No personal data here"])  # fmt: skip
    drive(experiment.pk)
    outputs = {g.case_version.case.key: g for g in Generation.objects.select_related("case_version__case")}
    assert "PII policy blocks" in outputs["M-0"].error and "phone number" in outputs["M-0"].error
    assert outputs["M-1"].error == ""
    assert all("7946" not in str(call) for call in sent)
    event = PiiGuardEvent.objects.get()
    assert (event.action, event.requests, event.with_pii, event.blocked, event.counts) == (
        "block",
        2,
        1,
        1,
        {"phone": 1},
    )
    assert event.run.experiment_id == experiment.pk


def test_redact_policy_sends_typed_placeholders(team, owner, monkeypatch, django_capture_on_commit_callbacks):
    from tests.llmcore.registry_fakes import install_fake_engine

    sent = install_fake_engine(monkeypatch)
    PiiPolicy.objects.create(team=team, action=PiiAction.REDACT)
    experiment = _external_run(
        team, owner, django_capture_on_commit_callbacks, ["Write to jane.doe@example.com"]
    )
    drive(experiment.pk)
    text = str(sent)
    assert "[EMAIL]" in text and "jane.doe@example.com" not in text
    assert PiiGuardEvent.objects.get().redacted == 1
    assert Generation.objects.get().error == ""


def test_local_models_are_not_guarded(team, owner, monkeypatch, django_capture_on_commit_callbacks):
    from tests.llmcore.registry_fakes import install_fake_engine

    install_fake_engine(monkeypatch)
    PiiPolicy.objects.create(team=team, action=PiiAction.BLOCK)
    dataset = Dataset.objects.create(team=team, name="Local", created_by=owner)
    datasets.import_cases(dataset, owner, [CaseData(key="A", inputs={"ticket": "jane.doe@example.com"})])
    experiment = make_experiment(
        team, owner, dataset=dataset, prompts=[make_prompt(team, dataset=dataset).versions.get()]
    )
    with django_capture_on_commit_callbacks(execute=False):
        grid.start_experiment(experiment, owner, "admin")
    drive(experiment.pk)
    assert Generation.objects.get().error == ""
    assert not PiiGuardEvent.objects.exists()
