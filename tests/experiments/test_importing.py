from __future__ import annotations

import pytest

from experiments.importing import ImportFailed, parse_csv, parse_jsonl, parse_upload


def test_a_csv_becomes_cases_with_inputs_expectations_sensitive_attributes_and_tags():
    cases = parse_csv(
        "key,input.ticket,input.channel,expected_label,sensitive.gender,tags\n"
        'T-1,"Charged twice, please refund",email,billing,female,"refund; urgent"\n'
    )
    assert len(cases) == 1
    case = cases[0]
    assert case.key == "T-1"
    assert case.inputs == {"ticket": "Charged twice, please refund", "channel": "email"}
    assert case.expected_label == "billing"
    assert case.sensitive_attributes == {"gender": "female"}
    assert case.tags == ["refund", "urgent"]


def test_csv_errors_name_the_spreadsheet_row_and_the_column():
    with pytest.raises(ImportFailed) as caught:
        parse_csv("input.topic,expected_label\nok,a\nfine,b\n   ,c\n")
    assert caught.value.errors == ["row 4, input.topic: must not be empty"]


def test_every_bad_row_is_reported_not_only_the_first():
    with pytest.raises(ImportFailed) as caught:
        parse_csv("key,input.topic\nbad key!,x\nk2,\nk3,fine\n")
    assert caught.value.errors[0].startswith("row 2, key: 'bad key!' is not a valid key")
    assert caught.value.errors[1] == "row 3, input.topic: must not be empty"
    assert len(caught.value.errors) == 2


def test_an_unknown_csv_column_is_refused_with_the_expected_ones():
    with pytest.raises(ImportFailed) as caught:
        parse_csv("ticket,expected_label\nx,y\n")
    assert "unknown column 'ticket'" in caught.value.errors[0]
    assert "no input.<variable> column" in caught.value.errors[1]


def test_duplicate_keys_in_one_file_are_refused_naming_both_rows():
    with pytest.raises(ImportFailed) as caught:
        parse_csv("key,input.x\nA,1\nB,2\nA,3\n")
    assert caught.value.errors == ["row 4, key: 'A' already used on row 2"]


def test_a_row_with_the_wrong_number_of_cells_is_reported():
    with pytest.raises(ImportFailed) as caught:
        parse_csv("input.x,expected_label\n1,a,extra\n")
    assert caught.value.errors == ["row 2: has 3 cells, the header has 2"]


def test_jsonl_lines_become_cases():
    cases = parse_jsonl(
        '{"key": "n1", "input": {"notes": "Called about an invoice"}, "expected_output": "Invoice query", '
        '"sensitive": {"age_band": "30-39"}, "tags": ["calls"]}\n\n'
        '{"input": {"notes": "Asked for a callback"}}\n'
    )
    assert [c.key for c in cases] == ["n1", ""]
    assert cases[0].sensitive_attributes == {"age_band": "30-39"}
    assert cases[1].inputs == {"notes": "Asked for a callback"}


def test_jsonl_errors_name_the_line_and_the_field():
    with pytest.raises(ImportFailed) as caught:
        parse_jsonl(
            '{"input": {"topic": "ok"}}\n{"input": {"topic": {"nested": 1}}}\nnot json\n{"input": "x"}\n'
        )
    assert caught.value.errors == [
        "line 2, input.topic: must be text or a number, not a list or an object",
        "line 3: not valid JSON (Expecting value at column 1)",
        'line 4, input: must be an object of variables, e.g. {"ticket": "..."}',
    ]


def test_uploads_are_read_by_extension_and_must_be_utf8():
    assert len(parse_upload("cases.CSV", "\ufeffinput.x\n1\n".encode())) == 1
    with pytest.raises(ImportFailed, match="not UTF-8"):
        parse_upload("cases.csv", "input.x\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ImportFailed, match="expected a .csv or .jsonl file"):
        parse_upload("cases.xlsx", b"PK")


def test_an_empty_file_is_refused():
    with pytest.raises(ImportFailed, match="empty"):
        parse_csv("")
    with pytest.raises(ImportFailed, match="no test cases"):
        parse_csv("input.x\n")
