"""Every fairness page for the three personas (stranger 404, viewer reads but 403 on writes, owner),
uploads that save nothing when bad, exports, and no per-row queries."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audits.fairness import groupfair, services
from audits.fairness.models import (
    CounterfactualProbe,
    FairnessAssessment,
    GroupList,
    PairSuite,
    PiiPolicy,
    RedTeamRun,
    StereotypeProbe,
)
from tests.experiments.factories import make_model, make_prompt


@pytest.fixture
def results(team, owner, label_run, django_capture_on_commit_callbacks):
    model = make_model(team, "Probe model")
    assessment = services.assess_run(
        team,
        owner,
        label_run,
        groupfair.Options(attributes=["group"], positive_label="approve", min_group_size=1, n_boot=10),
    )
    with django_capture_on_commit_callbacks(execute=False):
        probe = services.start_counterfactual(
            team, owner, "admin", name="Letters <b>", template="Letter for {group}.", groups={"g": ["x", "y"]},
            model=model, repeats=1, seed=1, temperature=0.5, max_new_tokens=4, decision_labels=[], threshold=0.1,
        )  # fmt: skip
        stereo = services.start_stereotype(team, owner, "admin", model=model, suite=None)
        redteam = services.start_redteam(team, owner, "admin", name="Bot", version=make_prompt(team).versions.get(),
                                         model=model, suites=["pii_leak"])  # fmt: skip
    return {"assessment": assessment, "counterfactual": probe, "stereotype": stereo, "redteam": redteam}


def read_urls(team, results):
    slug = team.slug
    return [
        reverse("fairness:home", args=[slug]),
        reverse("fairness:assessment_detail", args=[slug, results["assessment"].code]),
        reverse("fairness:counterfactual_detail", args=[slug, results["counterfactual"].code]),
        reverse("fairness:stereotype_detail", args=[slug, results["stereotype"].code]),
        reverse("fairness:redteam_detail", args=[slug, results["redteam"].code]),
        reverse("fairness:group_lists", args=[slug]),
        reverse("fairness:pii_overview", args=[slug]),
        reverse("fairness:pii_dataset", args=[slug, results["counterfactual"].experiment.dataset.code]),
        reverse("fairness:export", args=[slug, "assessment", results["assessment"].code, "json"]),
        reverse("fairness:export", args=[slug, "assessment", results["assessment"].code, "csv"]),
    ]


def write_urls(team, results):
    slug = team.slug
    return [
        ("get", reverse("fairness:assessment_new", args=[slug])),
        ("get", reverse("fairness:counterfactual_new", args=[slug])),
        ("get", reverse("fairness:stereotype_new", args=[slug])),
        ("get", reverse("fairness:suite_upload", args=[slug])),
        ("get", reverse("fairness:redteam_new", args=[slug])),
        ("post", reverse("fairness:group_lists", args=[slug])),
        ("post", reverse("fairness:stereotype_cancel", args=[slug, results["stereotype"].code])),
        ("post", reverse("fairness:stereotype_resume", args=[slug, results["stereotype"].code])),
        ("post", reverse("fairness:redteam_override", args=[slug, results["redteam"].code])),
    ]


def test_strangers_get_404_everywhere(team, results, as_user, stranger):
    client = as_user(stranger)
    for url in read_urls(team, results):
        assert client.get(url).status_code == 404, url
    for method, url in write_urls(team, results):
        assert getattr(client, method)(url).status_code == 404, url


def test_viewers_read_every_page_but_cannot_write(team, results, as_user, viewer):
    client = as_user(viewer)
    for url in read_urls(team, results):
        assert client.get(url).status_code == 200, url
    for method, url in write_urls(team, results):
        assert getattr(client, method)(url).status_code == 403, url
    assert (
        client.post(reverse("fairness:pii_overview", args=[team.slug]), {"action": "block"}).status_code
        == 403
    )
    assert not PiiPolicy.objects.exists()


def test_owners_and_auditors_open_every_form(team, results, as_user, owner, auditor):
    for user in (owner, auditor):
        client = as_user(user)
        for method, url in write_urls(team, results):
            if method == "get":
                assert client.get(url).status_code == 200, url


def test_the_assessment_page_shows_figures_chart_and_escapes_names(team, results, owner_client):
    FairnessAssessment.objects.filter(pk=results["assessment"].pk).update(name="<script>x</script>")
    page = owner_client.get(
        reverse("fairness:assessment_detail", args=[team.slug, results["assessment"].code])
    )
    html = page.content.decode()
    assert "<svg" in html and "four-fifths" in html and "0.667" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_an_assessment_is_created_from_the_form(team, owner_client, label_run):
    response = owner_client.post(
        reverse("fairness:assessment_new", args=[team.slug]),
        {"run": label_run.pk, "attributes": "group", "positive_label": "approve", "min_group_size": 1, "n_boot": 10,
         "rule_metric": "selection_rate_ratio", "rule_threshold": 0.8},
    )  # fmt: skip
    assessment = FairnessAssessment.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"{assessment.code}/")


def test_a_wrong_attribute_is_explained_and_nothing_is_saved(team, owner_client, label_run):
    response = owner_client.post(
        reverse("fairness:assessment_new", args=[team.slug]),
        {"run": label_run.pk, "attributes": "religion", "min_group_size": 1, "n_boot": 0,
         "rule_metric": "selection_rate_ratio", "rule_threshold": 0.8},
    )  # fmt: skip
    assert (
        response.status_code == 200
        and "No output has an expected label and a value for religion" in response.content.decode()
    )
    assert not FairnessAssessment.objects.exists()


def test_the_json_export_is_the_versioned_document(team, results, owner_client):
    response = owner_client.get(
        reverse("fairness:export", args=[team.slug, "assessment", results["assessment"].code, "json"])
    )
    document = json.loads(response.content)
    assert document["schema"] == "assay.fairness/1" and document["inputs"]["sha256"]
    assert "attachment" in response["Content-Disposition"]


def test_a_bad_upload_lists_row_errors_and_saves_nothing(team, owner_client):
    data = b"sent_more,sent_less\nA.,A.\n,B.\n"
    response = owner_client.post(
        reverse("fairness:suite_upload", args=[team.slug]),
        {"name": "Mine", "file": SimpleUploadedFile("pairs.csv", data, "text/csv")},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "Row 2: sent_more and sent_less are the same sentence." in html
        and "Row 3: sent_more is empty." in html
    )
    assert not PairSuite.objects.exists()
    non_utf8 = SimpleUploadedFile(
        "pairs.csv", "sent_more,sent_less\nd\xe9j\xe0,x\n".encode("cp1252"), "text/csv"
    )
    response = owner_client.post(
        reverse("fairness:suite_upload", args=[team.slug]), {"name": "Mine", "file": non_utf8}
    )
    assert "not UTF-8" in response.content.decode() and not PairSuite.objects.exists()


def test_a_good_upload_becomes_a_suite_to_choose(team, owner_client):
    data = b"sent_more,sent_less,bias_type\nOld people are slow.,Young people are slow.,age\n"
    response = owner_client.post(
        reverse("fairness:suite_upload", args=[team.slug]),
        {"name": "Ageism", "file": SimpleUploadedFile("pairs.csv", data, "text/csv")},
    )
    assert response.status_code == 302
    page = owner_client.get(reverse("fairness:stereotype_new", args=[team.slug])).content.decode()
    assert "Ageism (1 pairs)" in page and "Blodgett" in page


def test_the_stereotype_page_polls_until_done_and_shows_the_caveat(team, results, owner_client):
    url = reverse("fairness:stereotype_detail", args=[team.slug, results["stereotype"].code])
    html = owner_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Blodgett" in html and "0 of 1508 pairs" in html
    fragment = owner_client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    StereotypeProbe.objects.filter(pk=results["stereotype"].pk).update(status="done")
    assert owner_client.get(url, headers={"HX-Request": "true"}).status_code == 286


def test_cancel_and_resume_from_the_page(team, results, owner_client, django_capture_on_commit_callbacks):
    code = results["stereotype"].code
    owner_client.post(reverse("fairness:stereotype_cancel", args=[team.slug, code]))
    assert StereotypeProbe.objects.get(code=code).status == "cancelled"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner_client.post(reverse("fairness:stereotype_resume", args=[team.slug, code]))
    assert StereotypeProbe.objects.get(code=code).status == "queued" and len(callbacks) == 1


def test_team_group_lists_are_saved_and_offered_in_new_probes(team, owner_client):
    response = owner_client.post(
        reverse("fairness:group_lists", args=[team.slug]),
        {"category": "caste", "groups": "a Dalit\na Brahmin"},
    )
    assert response.status_code == 302
    assert GroupList.objects.get(category="caste").groups == ["a Dalit", "a Brahmin"]
    assert (
        "a Dalit"
        in owner_client.get(reverse("fairness:counterfactual_new", args=[team.slug])).content.decode()
    )


def test_a_counterfactual_probe_starts_from_the_form(team, owner_client, django_capture_on_commit_callbacks):
    model = make_model(team, "Local")
    with django_capture_on_commit_callbacks(execute=False):
        response = owner_client.post(
            reverse("fairness:counterfactual_new", args=[team.slug]),
            {"name": "Nurses", "template": "Letter for {group}.", "model": model.pk, "repeats": 2, "seed": 5,
             "temperature": 0.7, "max_new_tokens": 16, "threshold": 0.1, "use_gender": "on",
             "groups_gender": "a man\na woman"},
        )  # fmt: skip
    probe = CounterfactualProbe.objects.get()
    assert response.status_code == 302 and probe.groups == {"gender": ["a man", "a woman"]}
    assert probe.experiment.status == "queued"


def test_the_pii_policy_is_set_by_admins(team, owner_client):
    response = owner_client.post(reverse("fairness:pii_overview", args=[team.slug]), {"action": "redact"})
    assert response.status_code == 302 and PiiPolicy.objects.get(team=team).action == "redact"


def test_editors_cannot_set_the_pii_policy(team, as_user, editor):
    assert (
        as_user(editor)
        .post(reverse("fairness:pii_overview", args=[team.slug]), {"action": "block"})
        .status_code
        == 403
    )


def test_the_pii_page_counts_cases_with_personal_data(team, owner, owner_client):
    from experiments.importing import CaseData
    from experiments.models import Dataset
    from experiments.services import datasets

    dataset = Dataset.objects.create(team=team, name="Mails", created_by=owner)
    datasets.import_cases(
        dataset,
        owner,
        [CaseData(key="A", inputs={"t": "mail jane@example.com"}), CaseData(key="B", inputs={"t": "hello"})],
    )
    html = owner_client.get(reverse("fairness:pii_dataset", args=[team.slug, dataset.code])).content.decode()
    assert "1 of 2 cases" in html and "jane@example.com" in html


def test_the_home_page_has_no_per_row_queries(team, results, owner_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert owner_client.get(reverse("fairness:home", args=[team.slug])).status_code == 200


def test_red_team_overrides_from_the_page(team, results, owner_client, monkeypatch):
    from experiments.models import Generation

    run = results["redteam"]
    RedTeamRun.objects.filter(pk=run.pk).update(result={})
    case_version = run.experiment.dataset.cases.first().versions.get()
    experiment_run = run.experiment.runs.get()
    generation = Generation.objects.create(
        run=experiment_run, case_version=case_version, text="no", cache_key="k"
    )
    response = owner_client.post(
        reverse("fairness:redteam_override", args=[team.slug, run.code]),
        {"generation": generation.pk, "success": "1", "note": "x"},
    )
    assert response.status_code == 302
    assert run.overrides.get().success is True
