"""Inference parameters: defaults, conversion of form/JSON input, and errors naming field and range."""

from __future__ import annotations

import pytest

from llmcore.engine.params import InferenceParams, InvalidParameters


def errors_for(data) -> dict[str, str]:
    with pytest.raises(InvalidParameters) as caught:
        InferenceParams.from_dict(data)
    return caught.value.errors


def test_defaults_are_greedy_with_no_penalties():
    params = InferenceParams.from_dict(None)
    assert params == InferenceParams()
    assert params.greedy and params.seed is None and params.stop == ()


def test_form_strings_are_converted():
    params = InferenceParams.from_dict(
        {
            "temperature": "0.7",
            "top_k": "40",
            "max_new_tokens": "64",
            "stop": "###\nEND",
            "seed": "42",
            "top_p": "",
        }
    )
    assert (params.temperature, params.top_k, params.max_new_tokens, params.seed) == (0.7, 40, 64, 42)
    assert params.stop == ("###", "END") and params.top_p == 1.0 and not params.greedy


def test_to_dict_round_trips():
    params = InferenceParams(temperature=0.3, stop=("a", "b"), seed=1, frequency_penalty=0.5)
    assert InferenceParams.from_dict(params.to_dict()) == params


def test_every_error_names_its_field_and_the_allowed_range():
    errors = errors_for({"temperature": 3, "top_p": 0, "max_new_tokens": 1.5, "presence_penalty": "x"})
    assert set(errors) == {"temperature", "top_p", "max_new_tokens", "presence_penalty"}
    assert errors["temperature"] == "must be a number between 0 and 2, got 3"
    assert "greater than 0" in errors["top_p"]
    assert "whole number" in errors["max_new_tokens"]
    assert "'x'" in errors["presence_penalty"]


def test_unknown_parameters_are_rejected_with_the_known_names():
    errors = errors_for({"temprature": 1})
    assert "unknown parameter" in errors["temprature"] and "temperature" in errors["temprature"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("top_k", -1),
        ("top_k", 1001),
        ("repetition_penalty", 0),
        ("frequency_penalty", 2.5),
        ("seed", -1),
        ("seed", 2**32),
        ("timeout_s", 0),
        ("temperature", True),
        ("temperature", float("nan")),
    ],
)
def test_out_of_range_values_are_refused(field, value):
    assert field in errors_for({field: value})


def test_stop_sequences_are_limited_and_must_be_non_empty_strings():
    assert "at most 8" in errors_for({"stop": [str(i) for i in range(9)]})["stop"]
    assert "non-empty" in errors_for({"stop": ["ok", ""]})["stop"]
    assert "list of strings" in errors_for({"stop": 5})["stop"]
    assert "100 characters" in errors_for({"stop": ["x" * 101]})["stop"]


def test_parameters_are_hashable_so_requests_can_be_grouped_by_them():
    assert len({InferenceParams(stop=("a",)), InferenceParams(stop=("a",)), InferenceParams()}) == 2
