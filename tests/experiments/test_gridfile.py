"""Grid files: parsing YAML and JSON into a GridFile, and one clear error per problem, naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.gridfile import GridFileError, load, parse_data, parse_text

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "grid.yaml"


def grid(**overrides) -> dict:
    data = {
        "name": "Ticket topics",
        "dataset": {"cases": [{"input": {"ticket": "I was charged twice"}, "expected_label": "billing"}]},
        "prompts": [{"name": "Topic", "instruction": "Topic of: {{ticket}}"}],
        "models": ["Tiny test model"],
        "params": [{"label": "greedy", "temperature": 0, "max_new_tokens": 8}],
        "scorers": [{"name": "contains", "params": {"strings": ["billing"]}}],
    }
    data.update(overrides)
    return data


def errors_of(data, base_dir=None) -> list[str]:
    with pytest.raises(GridFileError) as caught:
        parse_data(data, base_dir)
    return caught.value.errors


def test_the_example_file_parses():
    parsed = load(EXAMPLE)
    assert parsed.name == "Ticket topics (grid file)"
    assert len(parsed.cases) == 8 and parsed.cases[0].key == "T-01"
    assert [p.content.technique for p in parsed.prompts] == ["zero-shot", "few-shot"]
    assert parsed.models == ["SmolLM2-135M-Instruct"]
    assert parsed.param_sets[0].params.max_new_tokens == 16
    assert parsed.scorers[0]["name"] == "label_match" and parsed.scorers[0]["threshold"] == 1.0


def test_json_and_yaml_give_the_same_grid():
    data = grid()
    from_json = parse_text(json.dumps(data), "json")
    import yaml

    from_yaml = parse_text(yaml.safe_dump(data), "yaml")
    assert from_json.content_hash() == from_yaml.content_hash()


def test_defaults_fill_what_a_small_file_leaves_out():
    parsed = parse_data(
        {
            "name": "Minimal",
            "dataset": {"cases": [{"vars": {"ticket": "a"}}, {"input": {"ticket": "b"}}]},
            "prompts": ["Topic of: {{ticket}}"],
        }
    )
    assert [c.key for c in parsed.cases] == ["case-0001", "case-0002"]
    assert parsed.cases[0].inputs == {"ticket": "a"}  # promptfoo's `vars` is read as `input`
    assert parsed.dataset_name == "Minimal" and parsed.prompts[0].name == "Minimal"
    assert parsed.models == []  # the default model, resolved against the registry
    ((label, params),) = [(p.label, p.params) for p in parsed.param_sets]
    assert (label, params.temperature, params.max_new_tokens) == ("greedy", 0, 64)
    assert parsed.scorers == [] and parsed.repeats == 1 and parsed.reuse_cached is True


def test_the_content_hash_changes_with_the_cases_and_not_with_key_order():
    first = parse_data(grid())
    again = parse_data(dict(reversed(list(grid().items()))))
    changed = parse_data(grid(dataset={"cases": [{"input": {"ticket": "I was charged three times"}}]}))
    assert first.content_hash() == again.content_hash() != changed.content_hash()


def test_a_csv_path_is_read_relative_to_the_grid_file(tmp_path):
    (tmp_path / "cases.csv").write_text("key,input.ticket,expected_label\nA,Refund me,billing\n,Crash,bug\n")
    (tmp_path / "grid.yaml").write_text(
        "name: From CSV\ndataset: {file: cases.csv}\nprompts: ['Topic: {{ticket}}']\n"
    )
    parsed = load(tmp_path / "grid.yaml")
    assert [(c.key, c.inputs["ticket"], c.expected_label) for c in parsed.cases] == [
        ("A", "Refund me", "billing"),
        ("case-0002", "Crash", "bug"),
    ]


def test_a_missing_csv_is_named(tmp_path):
    errors = errors_of(grid(dataset={"file": "nope.csv"}), base_dir=tmp_path)
    assert errors == [f"dataset.file: no such file 'nope.csv' (looked for {tmp_path / 'nope.csv'})"]


def test_csv_row_errors_keep_their_row_numbers(tmp_path):
    (tmp_path / "cases.csv").write_text("input.ticket,colour\nfine,red\n")
    assert errors_of(grid(dataset={"file": "cases.csv"}), base_dir=tmp_path) == [
        "dataset.file cases.csv: header, column 2: unknown column 'colour' (expected key, input.<variable>, "
        "expected_output, expected_label, sensitive.<attribute>, tags)"
    ]
    (tmp_path / "cases.csv").write_text("input.ticket,expected_label\nfine,a\n,b\n")
    assert errors_of(grid(dataset={"file": "cases.csv"}), base_dir=tmp_path) == [
        "dataset.file cases.csv: row 3, input.ticket: must not be empty"
    ]


def test_a_body_without_a_folder_cannot_name_a_file():
    (error,) = errors_of(grid(dataset={"file": "cases.csv"}), base_dir=None)
    assert error.startswith("dataset.file: a path can only be read from a grid file on disk")


def test_empty_cases_are_refused():
    assert errors_of(grid(dataset={"cases": []})) == ["dataset.cases: is empty; add at least one case"]


def test_cases_and_file_together_are_refused_and_so_is_neither():
    (both,) = errors_of(grid(dataset={"cases": [{"input": {"a": "b"}}], "file": "x.csv"}))
    assert both.endswith("not both")
    (neither,) = errors_of(grid(dataset={"name": "x"}))
    assert neither.endswith("neither is there")


def test_an_inline_case_error_names_the_case_by_its_index():
    cases = [
        {"input": {"ticket": "fine"}},
        {"input": {"ticket": "  "}},
        {"key": "case-0001", "input": {"ticket": "x"}},
    ]
    assert errors_of(grid(dataset={"cases": cases})) == [
        "dataset.cases[1], input.ticket: must not be empty",
        "dataset.cases[2], key: 'case-0001' already used on dataset.cases[0]",
    ]


def test_an_unknown_case_field_is_named():
    (error,) = errors_of(grid(dataset={"cases": [{"input": {"ticket": "x"}, "label": "billing"}]}))
    assert error.startswith("dataset.cases[0]: unknown field label")


def test_an_unknown_scorer_lists_the_known_ones():
    (error,) = errors_of(grid(scorers=[{"name": "vibes"}]))
    assert error.startswith("scorers[0].name: unknown scorer (known: bertscore, bleu,")


def test_bad_scorer_parameters_and_thresholds_are_named():
    errors = errors_of(grid(scorers=[{"name": "contains", "params": {}, "threshold": 3}, "regex"]))
    assert errors[0] == "scorers[0].params.strings: is required (the texts to look for, one per line)"
    assert errors[1] == "scorers[0].threshold: must be between 0 and 1 (scores are 0..1), got 3"
    assert errors[2].startswith("scorers[1].params.pattern:")


def test_a_parameter_out_of_range_is_named_with_its_set():
    errors = errors_of(grid(params=[{"label": "hot", "temperature": 5, "max_new_tokens": 0}]))
    assert errors == [
        "params[0].temperature: must be a number between 0 and 2, got 5",
        "params[0].max_new_tokens: must be a whole number between 1 and 4096, got 0",
    ]


def test_unknown_parameters_and_repeated_labels_are_refused():
    errors = errors_of(grid(params=[{"label": "a", "temprature": 0.2}, {"label": "a"}]))
    assert errors[0].startswith("params[0].temprature: unknown parameter (known:")
    assert errors[1] == "params[1].label: 'a' is also the label of params[0]"


def test_repeats_and_reuse_cached_are_checked():
    assert errors_of(grid(repeats=0, reuse_cached="yes")) == [
        "repeats: must be a whole number from 1 to 10, got 0",
        "reuse_cached: must be true or false, got 'yes'",
    ]


def test_a_prompt_variable_no_case_provides_is_named():
    (error,) = errors_of(grid(prompts=[{"name": "P", "instruction": "{{ticket}} for {{customer}}"}]))
    assert error == "prompts[0]: uses {{customer}}, which these cases have no input for: case-0001"


def test_prompt_errors_name_the_prompt_and_key():
    errors = errors_of(
        grid(
            prompts=[
                {"name": "P"},
                {"name": "Q", "instruction": "x {{ticket}}", "technique": "telepathy"},
                {"name": "R", "instruction": "{{ticket}}", "technique": "few-shot"},
                {"name": "S", "instruction": "{{ not a name }}"},
            ]
        )
    )
    assert errors == [
        "prompts[0].instruction: required",
        "prompts[1].technique: unknown technique 'telepathy' (known: zero-shot, few-shot, chain-of-thought)",
        "prompts[2]: a few-shot prompt needs at least one example",
        "prompts[3]: '{{ not a name }}' is not a variable: write {{name}} with letters, digits and underscores only",
    ]


def test_unknown_top_level_keys_are_named_and_every_error_is_reported_at_once():
    data = grid(modles=["x"])
    del data["prompts"]
    errors = errors_of(data)
    assert errors[0].startswith("modles: unknown key (known: name, description, dataset, prompts")
    assert errors[1] == "prompts: required, a list of at least one prompt, got nothing"


def test_models_must_be_names_and_listed_once():
    assert errors_of(grid(models=["A", "A"])) == ["models[1]: 'A' is listed twice"]
    assert errors_of(grid(models=[{"name": "A"}])) == [
        "models: must be a list of model names from the registry, got [{'name': 'A'}]"
    ]


def test_a_file_that_is_not_yaml_says_where(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("name: x\nprompts: [unclosed\n")
    with pytest.raises(GridFileError) as caught:
        load(path)
    assert caught.value.errors[0].startswith("not valid YAML:")
    assert "(line 3, column 1)" in caught.value.errors[0]


def test_a_grid_that_is_not_a_mapping_or_a_missing_file_is_refused(tmp_path):
    assert errors_of(["a"]) == [
        "the grid must be a mapping of keys (name, description, dataset, prompts, models, params, scorers, "
        "repeats, reuse_cached), got a list"
    ]
    with pytest.raises(GridFileError, match="no such file"):
        load(tmp_path / "missing.yaml")


def test_a_json_file_is_read_as_json(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid()))
    assert load(path).name == "Ticket topics"
    path.write_text('{"name": "x",}')
    with pytest.raises(GridFileError, match=r"not valid JSON: .*\(line 1, column 14\)"):
        load(path)
