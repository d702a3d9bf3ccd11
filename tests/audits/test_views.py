"""Every audits page for every persona, and the audit workflow through the pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audits import services
from audits.models import Audit, AuditItem, Comment, Evidence, Risk, TeamTemplateItem, TrailEntry
from tests.factories import make_usecase

from .conftest import answer_all


@pytest.fixture
def objects(team, use_case, governance, editor):
    item = governance.items.first()
    services.answer_item(item, answer="no", notes="", user=editor)
    risk = services.risk_from_item(item, editor)
    evidence = services.add_file(item, SimpleUploadedFile("dpia.txt", b"assessment"), editor)
    return {"use_case": use_case, "audit": governance, "item": item, "risk": risk, "evidence": evidence}


def pages(o):
    t = "acme"
    uc, audit, risk = o["use_case"].code, o["audit"].code, o["risk"].code
    return [
        reverse("audits:audit_list", args=[t]),
        reverse("audits:gate_policy", args=[t]),
        reverse("audits:team_items", args=[t]),
        reverse("audits:trail", args=[t]),
        reverse("audits:audit_detail", args=[t, audit]),
        reverse("audits:usecase_audits", args=[t, uc]),
        reverse("audits:risk_register", args=[t, uc]),
        reverse("audits:risk_detail", args=[t, risk]),
        reverse("audits:tier", args=[t, uc]),
        reverse("audits:report", args=[t, uc]),
        reverse("audits:report_export", args=[t, uc, "json"]),
        reverse("audits:report_export", args=[t, uc, "md"]),
        reverse("audits:evidence_download", args=[t, o["evidence"].code]),
    ]


def writes(o):
    t = "acme"
    uc, audit, risk, item = o["use_case"].code, o["audit"].code, o["risk"].code, o["item"].pk
    return [
        (reverse("audits:usecase_audits", args=[t, uc]), {"kind": "model"}),
        (reverse("audits:item_answer", args=[t, audit, item]), {"answer": "yes"}),
        (reverse("audits:item_comment", args=[t, audit, item]), {"body": "why?"}),
        (reverse("audits:item_evidence", args=[t, audit, item]), {"kind": "experiment_run", "result": "x"}),
        (reverse("audits:item_risk", args=[t, audit, item]), {}),
        (reverse("audits:audit_submit", args=[t, audit]), {}),
        (reverse("audits:audit_reopen", args=[t, audit]), {}),
        (reverse("audits:risk_register", args=[t, uc]), {"description": "x"}),
        (reverse("audits:risk_detail", args=[t, risk]), {"description": "x"}),
        (reverse("audits:tier", args=[t, uc]), {"chatbot": "on"}),
        (reverse("audits:report", args=[t, uc]), {"overview": "x"}),
        (reverse("audits:gate_policy", args=[t]), {"max_open_residual": 4}),
        (reverse("audits:team_items", args=[t]), {"kind": "model"}),
        (reverse("audits:audit_sign", args=[t, audit]), {"decision": "approved"}),
        (reverse("audits:evidence_remove", args=[t, o["evidence"].code]), {}),
    ]


def test_strangers_get_404_everywhere(objects, as_user, stranger):
    client = as_user(stranger)
    for url in pages(objects):
        assert client.get(url).status_code == 404, url
    for url, data in writes(objects):
        assert client.post(url, data).status_code == 404, url


def test_viewers_read_every_page_and_get_403_on_every_write(objects, as_user, viewer):
    client = as_user(viewer)
    for url in pages(objects):
        assert client.get(url).status_code == 200, url
    for url, data in writes(objects):
        assert client.post(url, data).status_code == 403, url
    assert Audit.objects.count() == 1 and not Comment.objects.exists()
    assert Evidence.objects.count() == 1 and Risk.objects.count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(objects, client):
    response = client.get(pages(objects)[0])
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["editor", "auditor", "owner"])
def test_editors_auditors_and_admins_prepare_audits(persona, objects, as_user, request):
    client = as_user(request.getfixturevalue(persona))
    o = objects
    response = client.post(
        reverse("audits:usecase_audits", args=["acme", o["use_case"].code]), {"kind": "model"}
    )
    assert response.status_code == 302
    model = Audit.objects.get(kind="model")
    item = model.items.first()
    client.post(
        reverse("audits:item_answer", args=["acme", model.code, item.pk]), {"answer": "partial", "notes": "n"}
    )
    item.refresh_from_db()
    assert item.answer == "partial" and item.notes == "n"


def test_only_admins_change_the_gate_policy_and_team_items(objects, as_user, editor, auditor, owner):
    url = reverse("audits:gate_policy", args=["acme"])
    for persona in (editor, auditor):
        assert as_user(persona).post(url, {"max_open_residual": 4}).status_code == 403
    client = as_user(owner)
    response = client.post(
        url,
        {
            "build_needs_governance": "on",
            "deploy_needs_model": "on",
            "deploy_needs_application": "on",
            "deploy_high_needs_governance": "on",
            "max_open_residual": 4,
        },
    )
    assert response.status_code == 302
    assert TrailEntry.objects.get(action="gate_policy.changed").change == {"max_open_residual": [9, 4]}


def test_an_editor_cannot_sign(submitted, as_user, editor):
    response = as_user(editor).post(
        reverse("audits:audit_sign", args=["acme", submitted.code]), {"decision": "approved"}
    )
    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_the_preparer_cannot_sign_their_own_audit(use_case, auditor, as_user):
    audit = services.start_audit(use_case, "governance", auditor)
    answer_all(audit, auditor)
    services.submit(audit, auditor)
    client = as_user(auditor)
    page = client.get(reverse("audits:audit_detail", args=["acme", audit.code])).content.decode()
    assert "You prepared this audit" in page and 'data-testid="sign-form"' not in page
    response = client.post(reverse("audits:audit_sign", args=["acme", audit.code]), {"decision": "approved"})
    assert response.status_code == 403
    audit.refresh_from_db()
    assert audit.status == "submitted"


def test_someone_who_answered_items_cannot_sign_either(submitted, auditor, as_user):
    item = submitted.items.first()
    AuditItem.objects.filter(pk=item.pk).update(answered_by=auditor)
    response = as_user(auditor).post(
        reverse("audits:audit_sign", args=["acme", submitted.code]), {"decision": "approved"}
    )
    assert response.status_code == 403


def test_a_second_auditor_approves_and_the_audit_freezes(submitted, auditor, as_user, editor):
    client = as_user(auditor)
    url = reverse("audits:audit_sign", args=["acme", submitted.code])
    client.post(url, {"decision": "approved", "comment": "Looks right"})
    submitted.refresh_from_db()
    assert submitted.status == "approved" and submitted.sign_off.signer == auditor
    item = submitted.items.first()
    client = as_user(editor)
    client.post(reverse("audits:item_answer", args=["acme", submitted.code, item.pk]), {"answer": "no"})
    item.refresh_from_db()
    assert item.answer == "yes"  # frozen
    page = client.get(reverse("audits:audit_detail", args=["acme", submitted.code])).content.decode()
    assert "frozen" in page and "Approved" in page


def test_rejecting_needs_a_reason(submitted, auditor, as_user):
    client = as_user(auditor)
    url = reverse("audits:audit_sign", args=["acme", submitted.code])
    client.post(url, {"decision": "rejected", "comment": ""})
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    client.post(url, {"decision": "rejected", "comment": "Retention is not defined"})
    submitted.refresh_from_db()
    assert submitted.status == "rejected" and submitted.sign_off.comment == "Retention is not defined"


def test_asking_for_sign_off_needs_every_item_answered(governance, as_user, editor):
    client = as_user(editor)
    response = client.post(reverse("audits:audit_submit", args=["acme", governance.code]), follow=True)
    assert "11 items are not answered yet" in response.content.decode()
    governance.refresh_from_db()
    assert governance.status == "in_progress"


def test_reopening_makes_a_new_version_and_the_diff_shows_changed_answers(approved, as_user, editor):
    client = as_user(editor)
    response = client.post(reverse("audits:audit_reopen", args=["acme", approved.code]))
    new = Audit.objects.get(previous=approved)
    assert response["Location"].endswith(f"/audits/{new.code}/")
    assert new.version == 2 and new.status == "in_progress" and new.items.count() == approved.items.count()
    item = new.items.get(key="data-retention")
    client.post(
        reverse("audits:item_answer", args=["acme", new.code, item.pk]),
        {"answer": "partial", "notes": "90 days"},
    )
    approved.refresh_from_db()
    assert approved.status == "approved" and approved.items.get(key="data-retention").answer == "yes"
    diff = client.get(reverse("audits:audit_diff", args=["acme", new.code])).content.decode()
    assert "how long inputs, outputs and logs are kept" in diff.lower()
    assert "Yes" in diff and "Partial" in diff and "90 days" in diff
    # the signed version is still readable and cannot be reopened twice
    assert client.get(reverse("audits:audit_detail", args=["acme", approved.code])).status_code == 200
    client.post(reverse("audits:audit_reopen", args=["acme", approved.code]))
    assert Audit.objects.filter(use_case=approved.use_case, kind="governance").count() == 2


def test_comments_let_an_auditor_ask_and_the_preparer_answer(governance, as_user, auditor, editor):
    item = governance.items.first()
    url = reverse("audits:item_comment", args=["acme", governance.code, item.pk])
    as_user(auditor).post(url, {"body": "Who is the deputy?"})
    as_user(editor).post(url, {"body": "<b>Jo</b> from support ops"})
    page = (
        as_user(auditor).get(reverse("audits:audit_detail", args=["acme", governance.code])).content.decode()
    )
    assert "Who is the deputy?" in page and "&lt;b&gt;Jo&lt;/b&gt; from support ops" in page
    assert list(item.comments.values_list("author__username", flat=True)) == ["aude", "eddie"]


def test_a_no_answer_becomes_a_risk_in_one_click_linked_to_its_source(governance, as_user, editor):
    item = governance.items.get(key="data-retention")
    client = as_user(editor)
    client.post(
        reverse("audits:item_answer", args=["acme", governance.code, item.pk]),
        {"answer": "no", "notes": "undefined"},
    )
    response = client.post(reverse("audits:item_risk", args=["acme", governance.code, item.pk]))
    risk = Risk.objects.get(source_item=item)
    assert response["Location"] == reverse("audits:risk_detail", args=["acme", risk.code])
    assert risk.dimension == "privacy" and risk.score == 12 and "undefined" in risk.description
    register = client.get(
        reverse("audits:risk_register", args=["acme", governance.use_case.code])
    ).content.decode()
    assert risk.source_url in register.replace("&amp;", "&")
    client.post(reverse("audits:item_risk", args=["acme", governance.code, item.pk]))
    assert Risk.objects.filter(source_item=item).count() == 1


def test_audit_text_written_by_users_is_escaped(use_case, as_user, editor):
    use_case.name = "<script>alert(1)</script>"
    use_case.save()
    audit = services.start_audit(use_case, "model", editor)
    item = audit.items.first()
    services.answer_item(item, answer="no", notes="<img src=x onerror=alert(2)>", user=editor)
    page = as_user(editor).get(reverse("audits:audit_detail", args=["acme", audit.code])).content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page


def test_list_pages_need_the_same_queries_for_few_or_many_rows(
    team, owner, editor, viewer_client, django_assert_max_num_queries
):
    def fill(n, start):
        for i in range(start, start + n):
            uc = make_usecase(team, f"Case {i}")
            audit = services.start_audit(uc, "governance", editor)
            services.answer_item(audit.items.first(), answer="no", notes="", user=editor)
            services.risk_from_item(audit.items.first(), editor)

    fill(2, 0)
    counts = {}
    for size in ("few", "many"):
        for name, url in (
            ("audits", reverse("audits:audit_list", args=["acme"])),
            ("trail", reverse("audits:trail", args=["acme"])),
            ("home", reverse("team_home", args=["acme"])),
        ):
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as captured:
                assert viewer_client.get(url).status_code == 200
            counts[(name, size)] = len(captured)
        if size == "few":
            fill(12, 2)
    for name in ("audits", "trail", "home"):
        assert counts[(name, "many")] == counts[(name, "few")], (name, counts)
    uc = team.use_cases.first()
    for _ in range(5):
        services.save_risk(
            Risk(
                team=team,
                use_case=uc,
                dimension="privacy",
                description="r",
                likelihood=2,
                impact=2,
                residual_likelihood=1,
                residual_impact=1,
            ),
            editor,
            created=True,
        )
    with django_assert_max_num_queries(12):
        viewer_client.get(reverse("audits:risk_register", args=["acme", uc.code]))


def test_a_team_admin_adds_items_to_the_teams_copy_of_a_template(team, use_case, as_user, owner, editor):
    client = as_user(owner)
    url = reverse("audits:team_items", args=["acme"])
    data = {
        "kind": "governance",
        "key": "works-council",
        "dimension": "ethical_use",
        "text": "The works council was consulted.",
        "nist": "GOVERN 5.1",
        "iso": "A.5.5",
        "eu": "Art. 99",
    }
    response = client.post(url, data)
    assert response.status_code == 400 and "Not in the catalogue: Art. 99." in response.content.decode()
    data["eu"] = "Art. 26"
    assert client.post(url, data).status_code == 302
    assert TeamTemplateItem.objects.get().references == {
        "nist-ai-rmf": ["GOVERN 5.1"],
        "iso-42001": ["A.5.5"],
        "eu-ai-act": ["Art. 26"],
    }
    audit = services.start_audit(use_case, "governance", editor)
    assert audit.template_version == "1.0+team.1" and audit.items.count() == 12
    assert audit.items.get(key="team-works-council").text == "The works council was consulted."
    # another team's audits do not get it
    from tests.factories import make_team

    other = make_usecase(make_team("Other", "oth"), "Other case")
    assert services.start_audit(other, "governance", editor).items.count() == 11


def test_the_diff_page_for_personas(approved, as_user, editor, viewer, stranger):
    new = services.reopen(approved, editor)
    url = reverse("audits:audit_diff", args=["acme", new.code])
    assert as_user(viewer).get(url).status_code == 200
    assert as_user(stranger).get(url).status_code == 404
    assert as_user(viewer).get(reverse("audits:audit_diff", args=["acme", approved.code])).status_code == 404


def test_a_use_case_with_audits_is_not_deleted(governance, use_case, owner_client):
    response = owner_client.post(reverse("usecase_delete", args=["acme", use_case.code]), follow=True)
    assert "cannot be deleted while audits or other records refer to it" in response.content.decode()
    assert Audit.objects.filter(use_case=use_case).exists()
