from __future__ import annotations

import pytest

from experiments.rendering import (
    CHAIN_OF_THOUGHT_INSTRUCTION,
    Example,
    PromptContent,
    PromptError,
    UnknownVariable,
    find_variables,
    parse_examples,
    render_prompt,
)


def test_it_substitutes_variables_in_the_system_prompt_and_instruction():
    content = PromptContent(
        system_prompt="You help the {{team}} team.",
        instruction="Classify this ticket: {{ ticket }}",
    )
    rendered = render_prompt(content, {"team": "billing", "ticket": "Charged twice"})
    assert [(m.role, m.content) for m in rendered.messages] == [
        ("system", "You help the billing team."),
        ("user", "Classify this ticket: Charged twice"),
    ]


def test_an_unknown_variable_names_itself_and_what_the_case_provides():
    content = PromptContent(instruction="Summarise {{notes}} for {{customer}}")
    with pytest.raises(UnknownVariable) as caught:
        render_prompt(content, {"notes": "Called about invoice"})
    assert caught.value.name == "customer"
    assert "{{customer}}" in str(caught.value)
    assert "provides notes" in str(caught.value)


def test_values_are_not_html_escaped_when_rendering():
    content = PromptContent(instruction="Reply to: {{message}}")
    rendered = render_prompt(content, {"message": "<b>hi</b> & bye"})
    assert rendered.messages[-1].content == "Reply to: <b>hi</b> & bye"


def test_numbers_and_lists_are_rendered_as_text():
    content = PromptContent(instruction="{{n}} items: {{items}}; price {{price}}")
    rendered = render_prompt(content, {"n": 3, "items": ["a", "b"], "price": 2.5})
    assert rendered.messages[-1].content == '3 items: ["a", "b"]; price 2.5'


def test_a_malformed_placeholder_is_refused():
    with pytest.raises(PromptError, match="is not a variable"):
        find_variables("Hello {{ first name }}")


def test_variables_are_listed_once_in_order_of_appearance():
    content = PromptContent(system_prompt="For {{team}}", instruction="{{ticket}} {{team}} {{ticket}}")
    assert content.variables() == ["team", "ticket"]


def test_few_shot_examples_become_earlier_turns_rendered_through_the_instruction():
    content = PromptContent(
        instruction="Topic of: {{ticket}}",
        technique="few-shot",
        examples=(Example({"ticket": "Refund please"}, "billing"), Example("Literal question", "other")),
        output_format="one word",
    )
    rendered = render_prompt(content, {"ticket": "App crashes"})
    assert [(m.role, m.content) for m in rendered.messages] == [
        ("user", "Topic of: Refund please\n\nRespond in this format: one word"),
        ("assistant", "billing"),
        ("user", "Literal question\n\nRespond in this format: one word"),
        ("assistant", "other"),
        ("user", "Topic of: App crashes\n\nRespond in this format: one word"),
    ]


def test_chain_of_thought_adds_the_step_by_step_instruction_to_the_final_turn_only():
    content = PromptContent(instruction="Is {{n}} prime?", technique="chain-of-thought")
    rendered = render_prompt(content, {"n": 7})
    assert rendered.messages[-1].content == f"Is 7 prime?\n\n{CHAIN_OF_THOUGHT_INSTRUCTION}"


def test_zero_shot_ignores_examples():
    content = PromptContent(instruction="Hi {{x}}", examples=(Example("a", "b"),))
    assert len(render_prompt(content, {"x": 1}).messages) == 1


def test_the_content_hash_changes_with_any_part_of_the_content():
    base = PromptContent(instruction="Classify {{ticket}}")
    assert base.content_hash() == PromptContent(instruction="Classify {{ticket}}").content_hash()
    assert (
        base.content_hash()
        != PromptContent(instruction="Classify {{ticket}}", output_format="x").content_hash()
    )
    assert (
        base.content_hash()
        != PromptContent(instruction="Classify {{ticket}}", technique="chain-of-thought").content_hash()
    )


def test_examples_are_checked_one_by_one():
    assert parse_examples([{"input": "a", "output": "b"}]) == (Example("a", "b"),)
    with pytest.raises(PromptError, match="example 2: 'output' must be non-empty"):
        parse_examples([{"input": "a", "output": "b"}, {"input": "c", "output": ""}])
    with pytest.raises(PromptError, match="example 1: needs exactly the keys"):
        parse_examples([{"question": "a", "output": "b"}])


def test_the_rendered_conversation_reads_as_text():
    rendered = render_prompt(PromptContent(instruction="Hi {{x}}", system_prompt="Be brief"), {"x": "there"})
    assert rendered.as_text() == "[system]\nBe brief\n\n[user]\nHi there"
