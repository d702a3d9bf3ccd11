"""The audit report: versioned JSON with a model card in Model Card Toolkit's field names, Markdown, PDF."""

from __future__ import annotations

import json

from django.urls import reverse

from audits import report, services
from audits.models import Risk


def test_json_report_is_versioned_and_has_the_model_card_sections(
    approved, use_case, as_user, editor, viewer
):
    risk = Risk(
        team=use_case.team,
        use_case=use_case,
        dimension="fairness",
        description="Worse in Spanish",
        likelihood=3,
        impact=4,
        residual_likelihood=2,
        residual_impact=4,
        mitigation="Spanish test cases",
    )
    services.save_risk(risk, editor, created=True)
    response = as_user(viewer).get(reverse("audits:report_export", args=["acme", use_case.code, "json"]))
    assert response["Content-Disposition"] == 'attachment; filename="audit-report-email-drafting.json"'
    data = json.loads(response.content)
    assert data["schema"] == "assay.audit-report" and data["schema_version"] == 1
    assert data["team"] == {"name": "Acme Support", "slug": "acme"}
    [audit] = data["audits"]
    assert audit["status"] == "approved" and audit["sign_off"]["signer"] == "aude"
    assert audit["template"] == "governance-1.0" and len(audit["items"]) == 11
    card = data["model_card"]
    assert set(card) == {"model_details", "model_parameters", "quantitative_analysis", "considerations"}
    assert set(card["considerations"]) == {
        "users",
        "use_cases",
        "limitations",
        "tradeoffs",
        "ethical_considerations",
    }
    assert card["considerations"]["ethical_considerations"] == [
        {"name": "Worse in Spanish", "mitigation_strategy": "Spanish test cases"}
    ]
    assert data["risks"][0]["score"] == 12 and data["risk_formula"]["formula"].startswith(
        "score = likelihood"
    )
    assert data["gate"]["next_stage"] == "build" and data["gate"]["missing"] == []


def test_the_model_card_is_editable_before_export(use_case, as_user, editor, viewer):
    url = reverse("audits:report", args=["acme", use_case.code])
    assert as_user(viewer).post(url, {"overview": "x"}).status_code == 403
    as_user(editor).post(
        url,
        {"overview": "Drafts replies.", "users": "Support agents\nTeam leads", "limitations": "English only"},
    )
    data = report.build(use_case)
    card = data["model_card"]
    assert card["model_details"]["overview"] == "Drafts replies."
    assert card["considerations"]["users"] == [
        {"description": "Support agents"},
        {"description": "Team leads"},
    ]
    assert card["considerations"]["limitations"] == [{"description": "English only"}]


def test_markdown_and_pdf_exports(approved, use_case, as_user, viewer):
    client = as_user(viewer)
    md = client.get(reverse("audits:report_export", args=["acme", use_case.code, "md"])).content.decode()
    assert md.startswith("# Audit report: Email drafting")
    assert (
        "### model_details" in md and "ethical_considerations" in md and "Governance audit v1: Approved" in md
    )
    pdf = client.get(reverse("audits:report_export", args=["acme", use_case.code, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert client.get(reverse("audits:report_export", args=["acme", use_case.code, "exe"])).status_code == 404


def test_the_pdf_never_fetches_external_resources(use_case, editor):
    use_case.description = '<img src="http://169.254.169.254/latest/meta-data/">'
    use_case.save()
    assert report.to_pdf(report.build(use_case)).startswith(b"%PDF-")
    try:
        report._refuse_fetch("http://169.254.169.254/")
    except ValueError as error:
        assert "never loads external resources" in str(error)
    else:
        raise AssertionError("fetch allowed")


def test_the_json_report_validates_against_its_published_schema(
    team, owner, use_case, approved, editor, monkeypatch, django_capture_on_commit_callbacks
):
    """With a scored run, so the model card's quantitative analysis has a metric with its interval."""
    from pathlib import Path

    import jsonschema

    from experiments.services import grid
    from tests.experiments.factories import drive, make_dataset, make_experiment, make_prompt
    from tests.llmcore.registry_fakes import install_fake_engine

    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=6, author=owner)
    experiment = make_experiment(
        team,
        owner,
        dataset=dataset,
        prompts=[make_prompt(team, dataset=dataset, author=owner).versions.get()],
        scorers=[{"name": "contains", "params": {"strings": ["number 1"]}, "threshold": 1.0, "weight": 1}],
    )
    use_case.tasks.first().experiments.add(experiment)
    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(experiment, owner, "admin")
    with django_capture_on_commit_callbacks(execute=True):
        drive(experiment.pk)
    data = json.loads(json.dumps(report.build(use_case)))
    schema = json.loads((Path(report.__file__).parent / "schemas" / "audit-report-1.json").read_text())
    jsonschema.validate(data, schema)
    [metric] = data["model_card"]["quantitative_analysis"]["performance_metrics"]
    assert metric["value"] == round(1 / 6, 4) and metric["n"] == 6
    assert (
        0
        <= metric["confidence_interval"]["lower_bound"]
        < metric["value"]
        < metric["confidence_interval"]["upper_bound"]
    )
    assert "Tiny test model" in data["model_card"]["model_parameters"]["model_architecture"]
