from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from experiments.models import Dataset, TestCase, TestCaseVersion
from tests.experiments.factories import make_dataset


@pytest.fixture
def dataset(team, owner):
    return make_dataset(team, cases=3, author=owner)


def url(name, team, *args):
    return reverse(f"experiments:{name}", args=[team.slug, *args])


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


CASE_POST = {
    "key": "T-900",
    "input__ticket": "Where is my parcel?",
    "expected_label": "shipping",
    "tags": "a, b",
}


def test_the_dataset_list_and_detail_are_readable_by_members_only(
    team, dataset, as_user, viewer, stranger, django_assert_max_num_queries
):
    client = as_user(viewer)
    with django_assert_max_num_queries(6):
        assert client.get(url("dataset_list", team)).status_code == 200
    with django_assert_max_num_queries(10):
        response = client.get(url("dataset_detail", team, dataset.code))
    assert "Ticket number 3" in response.text
    case = dataset.cases.first()
    assert client.get(url("case_detail", team, case.code)).status_code == 200
    stranger_client = as_user(stranger)
    assert stranger_client.get(url("dataset_list", team)).status_code == 404
    assert stranger_client.get(url("dataset_detail", team, dataset.code)).status_code == 404
    assert stranger_client.get(url("case_detail", team, case.code)).status_code == 404


def test_the_dataset_page_does_one_query_set_for_many_cases(
    team, owner, as_user, django_assert_max_num_queries
):
    big = make_dataset(team, name="Big", cases=120, author=owner)
    client = as_user(owner)
    with django_assert_max_num_queries(10):
        response = client.get(url("dataset_detail", team, big.code))
    assert response.status_code == 200
    assert "Page 1 of 3" in response.text


def test_an_editor_creates_a_dataset_and_adds_a_case(team, editor, as_user):
    client = as_user(editor)
    response = client.post(url("dataset_create", team), {"name": "Call notes"})
    dataset = Dataset.objects.get(name="Call notes")
    assert response.status_code == 302
    response = client.post(
        url("case_create", team, dataset.code),
        {
            "key": "",
            "new_variable": "notes",
            "new_value": "Customer called twice",
            "sensitive": "gender = female",
        },
    )
    assert response.status_code == 302
    version = TestCaseVersion.objects.get(case__dataset=dataset)
    assert version.case.key == "case-0001"
    assert version.inputs == {"notes": "Customer called twice"}
    assert version.sensitive_attributes == {"gender": "female"}


def test_a_viewer_gets_403_on_every_dataset_write(team, dataset, viewer, as_user):
    client = as_user(viewer)
    case = dataset.cases.first()
    assert client.post(url("dataset_create", team), {"name": "x"}).status_code == 403
    assert client.post(url("dataset_detail", team, dataset.code), {"name": "x"}).status_code == 403
    assert client.post(url("case_create", team, dataset.code), CASE_POST).status_code == 403
    assert client.post(url("case_edit", team, case.code), CASE_POST).status_code == 403
    assert client.post(url("case_remove", team, case.code)).status_code == 403
    assert (
        client.post(
            url("dataset_import", team, dataset.code), {"file": upload("c.csv", "input.x\n1\n")}
        ).status_code
        == 403
    )
    assert dataset.cases.count() == 3 and Dataset.objects.count() == 1


def test_a_stranger_gets_404_on_dataset_writes(team, dataset, stranger, as_user):
    client = as_user(stranger)
    case = dataset.cases.first()
    assert client.post(url("case_create", team, dataset.code), CASE_POST).status_code == 404
    assert client.post(url("case_edit", team, case.code), CASE_POST).status_code == 404
    assert client.post(url("case_remove", team, case.code)).status_code == 404


def test_case_form_errors_name_the_field(team, dataset, owner, as_user):
    response = as_user(owner).post(
        url("case_create", team, dataset.code), {"key": "T-001", "input__ticket": "x"}
    )
    assert "The key &#x27;T-001&#x27; is already used" in response.text
    response = as_user(owner).post(
        url("case_create", team, dataset.code), {"key": "new", "sensitive": "gender"}
    )
    assert "a test case needs at least one input variable" in response.text
    assert "Line 1: write name = value" in response.text


def test_editing_a_case_makes_a_new_version_and_keeps_the_old(team, dataset, owner, as_user):
    case = dataset.cases.get(key="T-001")
    response = as_user(owner).post(
        url("case_edit", team, case.code),
        {"input__ticket": "Charged three times", "expected_label": "billing", "change_note": "typo"},
    )
    assert response.status_code == 302
    versions = list(case.versions.order_by("number").values_list("number", "inputs", "is_current"))
    assert versions == [
        (1, {"ticket": "Ticket number 1"}, False),
        (2, {"ticket": "Charged three times"}, True),
    ]
    page = as_user(owner).get(url("case_detail", team, case.code)).text
    assert "Charged three times" in page and "Ticket number 1" in page


def test_importing_a_file_with_a_bad_row_imports_nothing_and_lists_the_row(team, dataset, owner, as_user):
    response = as_user(owner).post(
        url("dataset_import", team, dataset.code),
        {"file": upload("cases.csv", "key,input.ticket\nN-1,fine\nN-2,ok\nN-3,\n")},
    )
    assert response.status_code == 400
    assert "Nothing was imported" in response.text
    assert "row 4, input.ticket: must not be empty" in response.text
    assert dataset.cases.count() == 3


def test_importing_creates_new_cases_and_new_versions_of_known_keys(team, dataset, owner, as_user):
    response = as_user(owner).post(
        url("dataset_import", team, dataset.code),
        {
            "file": upload(
                "cases.jsonl",
                '{"key": "T-001", "input": {"ticket": "changed"}}\n{"key": "N-1", "input": {"ticket": "new"}}\n',
            )
        },
        follow=True,
    )
    assert "1 new, 1 updated" in response.text
    assert dataset.cases.count() == 4
    assert TestCase.objects.get(dataset=dataset, key="T-001").versions.count() == 2


def test_removing_a_case_hides_it_from_the_dataset_but_keeps_its_versions(team, dataset, owner, as_user):
    case = dataset.cases.get(key="T-002")
    as_user(owner).post(url("case_remove", team, case.code))
    page = as_user(owner).get(url("dataset_detail", team, dataset.code)).text
    assert "T-002" not in page
    assert case.versions.count() == 1


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_jsonl_number_json_does_not_allow_is_a_line_error_not_a_500(team, dataset, owner, as_user, number):
    response = as_user(owner).post(
        url("dataset_import", team, dataset.code),
        {
            "file": upload(
                "cases.jsonl",
                '{"key": "N-1", "input": {"ticket": "fine"}}\n'
                f'{{"key": "N-2", "input": {{"ticket": "x", "amount": {number}}}}}\n',
            )
        },
    )
    assert response.status_code == 400
    assert f"line 2: {number} is not a number JSON allows" in response.text
    assert dataset.cases.count() == 3
