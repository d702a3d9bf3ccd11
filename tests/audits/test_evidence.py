"""Evidence: files (type, size, sha256, dedup, downloads) and links to results (frozen at link time)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audits import evidence_kinds, services
from audits.evidence_kinds import LinkedResult, register
from audits.models import Evidence, EvidenceFile, Risk, TrailEntry
from experiments.models import Generation, ReviewAssignment
from experiments.services import grid, reviews
from tests.experiments.factories import drive, make_dataset, make_experiment, make_prompt
from tests.llmcore.registry_fakes import install_fake_engine

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASS_FIRST_FOUR = {
    "name": "contains",
    "params": {"strings": [f"number {i}" for i in range(1, 5)], "mode": "any"},
    "threshold": 1.0,
    "weight": 1,
}


def upload(client, audit, item, name, content, content_type="application/octet-stream"):
    return client.post(
        reverse("audits:item_evidence", args=["acme", audit.code, item.pk]),
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        follow=True,
    )


def test_a_pdf_is_stored_once_by_sha256_and_shown_with_its_hash(governance, as_user, editor, settings):
    client = as_user(editor)
    items = list(governance.items.all()[:2])
    page = upload(client, governance, items[0], "policy.pdf", PDF).content.decode()
    digest = hashlib.sha256(PDF).hexdigest()
    assert digest in page
    upload(client, governance, items[1], "same-bytes.pdf", PDF)
    assert EvidenceFile.objects.count() == 1 and Evidence.objects.count() == 2
    stored = settings.AUDIT_EVIDENCE_DIR / digest[:2] / digest
    assert stored.read_bytes() == PDF
    assert TrailEntry.objects.filter(action="evidence.added").first().change["deduplicated"] is True
    assert list(settings.AUDIT_EVIDENCE_DIR.glob("upload-*")) == []  # no temporary file left behind


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.html", b"<html><script>alert(1)</script>", "not an accepted file type"),
        ("logo.png", b"<html><script>alert(1)</script>", "does not look like a PNG file"),
        ("notes.md", b"\x00\x01binary", "not a text file"),
        ("notes.txt", "caf\u00e9".encode("latin-1"), "not valid UTF-8 text"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_files_of_the_wrong_type_are_refused_with_the_reason(
    governance, as_user, editor, name, content, message
):
    page = upload(as_user(editor), governance, governance.items.first(), name, content).content.decode()
    assert message in page
    assert not Evidence.objects.exists() and not EvidenceFile.objects.exists()


def test_files_over_the_size_limit_are_refused(governance, as_user, editor, settings):
    settings.AUDIT_EVIDENCE_MAX_BYTES = 1024
    page = upload(
        as_user(editor), governance, governance.items.first(), "big.txt", b"a" * 2048
    ).content.decode()
    assert "evidence files may be at most" in page
    assert not Evidence.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [("a.csv", b"a,b\n1,2\n"), ("a.png", b"\x89PNG\r\n\x1a\n...."), ("a.xlsx", b"PK\x03\x04...")],
)
def test_accepted_types(governance, as_user, editor, name, content):
    upload(as_user(editor), governance, governance.items.first(), name, content)
    assert Evidence.objects.get().filename == name


def test_downloads_are_attachments_for_team_members_only(governance, as_user, editor, viewer, stranger):
    upload(as_user(editor), governance, governance.items.first(), "notes.md", b"# Notes\n<script>x</script>")
    evidence = Evidence.objects.get()
    url = reverse("audits:evidence_download", args=["acme", evidence.code])
    response = as_user(viewer).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/markdown" and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"# Notes\n<script>x</script>"
    assert as_user(stranger).get(url).status_code == 404


def test_removing_evidence_is_recorded_and_frozen_audits_keep_theirs(submitted, as_user, editor, auditor):
    client = as_user(editor)
    upload(client, submitted, submitted.items.first(), "a.txt", b"hello")
    evidence = Evidence.objects.get()
    services.sign(submitted, user=auditor, decision="approved", comment="")
    client.post(reverse("audits:evidence_remove", args=["acme", evidence.code]))
    assert Evidence.objects.filter(pk=evidence.pk).exists()  # frozen
    new = services.reopen(submitted, editor)
    copy = Evidence.objects.get(item__audit=new)
    client.post(reverse("audits:evidence_remove", args=["acme", copy.code]))
    assert (
        not Evidence.objects.filter(pk=copy.pk).exists() and Evidence.objects.filter(pk=evidence.pk).exists()
    )
    assert TrailEntry.objects.filter(action="evidence.removed").count() == 1


@pytest.fixture
def experiment(team, owner, monkeypatch):
    install_fake_engine(monkeypatch)
    dataset = make_dataset(team, cases=8, author=owner)
    return make_experiment(
        team,
        owner,
        dataset=dataset,
        prompts=[make_prompt(team, dataset=dataset, author=owner).versions.get()],
        scorers=[PASS_FIRST_FOUR],
    )


def test_a_linked_run_freezes_its_verdict_and_pass_rate_and_warns_when_it_changes(
    team, owner, use_case, experiment, as_user, editor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(experiment, owner, "admin")
    with django_capture_on_commit_callbacks(execute=True):
        drive(experiment.pk)
    run = experiment.runs.get()
    model = services.start_audit(use_case, "model", editor)
    item = model.items.get(key="quality-evidence")
    client = as_user(editor)
    page = client.get(reverse("audits:audit_detail", args=["acme", model.code])).content.decode()
    assert "Needs a linked experiment run: none yet." in page
    assert str(run.code) in page  # offered in the picker
    client.post(
        reverse("audits:item_evidence", args=["acme", model.code, item.pk]),
        {"kind": "experiment_run", "result": str(run.code)},
    )
    evidence = Evidence.objects.get(item=item)
    assert evidence.passed is False and evidence.summary["verdict"] == "not-yet"
    assert evidence.summary["cases_scored"] == 8 and evidence.summary["pass_rate"] == 0.5
    assert evidence.url == reverse("experiments:run_detail", args=["acme", run.code])
    page = client.get(reverse("audits:audit_detail", args=["acme", model.code])).content.decode()
    assert "No linked experiment run meets its rule yet." in page
    assert "pass rate 0.500 on 8 cases" in page and 'data-testid="evidence-warning"' not in page

    # A failed result becomes a risk in one click, linked to the run.
    client.post(
        reverse("audits:item_risk", args=["acme", model.code, item.pk]), {"evidence": str(evidence.code)}
    )
    risk = Risk.objects.get(use_case=use_case)
    assert risk.source_url == evidence.url and risk.dimension == "transparency"
    assert "does not meet its rule" in risk.description

    # People review every output: the run changes (and now passes); the frozen figures stay.
    with django_capture_on_commit_callbacks(execute=True):
        for generation in Generation.objects.filter(run=run):
            assignment = ReviewAssignment.objects.create(generation=generation, reviewer=owner)
            reviews.record_review(assignment, owner, "accept")
    page = client.get(reverse("audits:audit_detail", args=["acme", model.code])).content.decode()
    assert "Changed since it was linked and now passes" in page
    assert "The linked experiment run changed since it was linked." in page
    evidence.refresh_from_db()
    assert evidence.passed is False and evidence.summary["reviews"] == 0


def test_a_run_of_another_team_cannot_be_linked(
    use_case, editor, experiment, owner, django_capture_on_commit_callbacks
):
    from tests.factories import make_team

    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(experiment, owner, "admin")
    run = experiment.runs.get()
    other = make_team("Other", "other2")
    assert evidence_kinds.resolve(other, "experiment_run", str(run.code)) is None
    assert evidence_kinds.resolve(other, "experiment_run", "not-a-uuid") is None
    model = services.start_audit(use_case, "model", editor)
    item = model.items.first()
    item.audit.team = other
    with pytest.raises(services.AuditError):
        services.link_result(item, "experiment_run", str(run.code), editor)


def test_a_new_kind_plugs_in_without_touching_old_evidence(use_case, editor, monkeypatch):
    from datetime import UTC, datetime

    monkeypatch.setattr(evidence_kinds, "_KINDS", dict(evidence_kinds._KINDS))
    result = LinkedResult(
        kind="fairness_assessment",
        code="7a0c5e0e-1111-4222-8333-444455556666",
        title="Gender gap on run 1",
        url="/t/acme/fairness/7a0c/",
        passed=True,
        summary={"max_gap": 0.03},
        updated=datetime(2026, 1, 1, tzinfo=UTC),
    )
    register(
        "fairness_assessment",
        "Fairness assessment",
        lambda team, code: result if code == result.code else None,
        lambda team: [result],
    )
    model = services.start_audit(use_case, "model", editor)
    item = model.items.get(key="fairness")
    assert item.requires_evidence == "fairness_assessment"
    evidence = services.link_result(item, "fairness_assessment", result.code, editor)
    assert evidence.summary == {"max_gap": 0.03} and evidence.passed is True


def test_a_kind_not_installed_yet_is_shown_as_unavailable(use_case, editor, as_user, monkeypatch):
    from audits import evidence_kinds

    kinds = {k: v for k, v in evidence_kinds._KINDS.items() if k != "redteam_run"}
    monkeypatch.setattr(evidence_kinds, "_KINDS", kinds)
    model = services.start_audit(use_case, "model", editor)
    page = as_user(editor).get(reverse("audits:audit_detail", args=["acme", model.code])).content.decode()
    assert "Needs a red-team run; this kind of result is not available yet." in page


def test_the_audit_page_needs_the_same_queries_for_few_or_many_linked_results(
    use_case, experiment, owner, editor, as_user, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with django_capture_on_commit_callbacks(execute=True):
        grid.start_experiment(experiment, owner, "admin")
    run = experiment.runs.get()
    model = services.start_audit(use_case, "model", editor)
    items = list(model.items.all())
    services.link_result(items[0], "experiment_run", str(run.code), editor)
    services.add_file(items[0], SimpleUploadedFile("a.txt", b"a"), editor)
    client = as_user(editor)
    url = reverse("audits:audit_detail", args=["acme", model.code])
    counts = []
    for extra in (items[1:2], items[2:8]):
        for item in extra:
            services.link_result(item, "experiment_run", str(run.code), editor)
            services.add_file(item, SimpleUploadedFile(f"{item.key}.txt", item.key.encode()), editor)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
