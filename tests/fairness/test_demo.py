"""The demo team's fairness results: started on the default model when a broker answers."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from audits.fairness.models import CounterfactualProbe, FairnessAssessment, StereotypeProbe


def test_the_demo_starts_a_counterfactual_and_a_stereotype_probe_and_a_pending_assessment(db, monkeypatch):
    monkeypatch.setattr("audits.demo.broker_reachable", lambda: True)  # on_commit never runs in this test
    monkeypatch.setattr("audits.fairness.demo.broker_reachable", lambda: True)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    probe = CounterfactualProbe.objects.get(team__slug="demo")
    assert probe.model.name == "SmolLM2-135M-Instruct" and probe.status == "running"
    assert probe.experiment.status == "queued" and probe.experiment.runs.count() == 1
    assert probe.experiment.dataset.cases.count() == 5  # three genders, two ages
    stereotype = StereotypeProbe.objects.get(team__slug="demo")
    assert stereotype.model == probe.model
    assert stereotype.total == 189 and stereotype.suite.name == "CrowS-Pairs sample (189 pairs)"  # 1,508 / 8
    assessment = FairnessAssessment.objects.get(team__slug="demo")
    assert assessment.status == "queued" and assessment.options["attributes"] == ["gender"]
    assert assessment.run.experiment.name == "Ticket topics with the default model"
    assert "fairness assessment of the ticket-topic run" in out.getvalue()

    call_command("seed_demo", stdout=StringIO())  # idempotent
    assert CounterfactualProbe.objects.filter(team__slug="demo").count() == 1


def test_without_a_broker_the_demo_says_the_probes_were_not_started(db, monkeypatch):
    monkeypatch.setattr("audits.demo.broker_reachable", lambda: False)
    monkeypatch.setattr("audits.fairness.demo.broker_reachable", lambda: False)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert not CounterfactualProbe.objects.exists()
    assert "the demo fairness probes were not started" in out.getvalue()
