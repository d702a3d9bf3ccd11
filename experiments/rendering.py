"""Prompt rendering: pure functions from a prompt's content and a test case's variables to chat messages.

Variables are written `{{ name }}` (letters, digits and underscores). Rendering substitutes plain text;
HTML escaping happens only when a prompt is displayed, never here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from llmcore.engine.types import ChatMessage

VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Appended to the final instruction of chain-of-thought prompts.
CHAIN_OF_THOUGHT_INSTRUCTION = (
    "Think step by step: explain your reasoning briefly, then give the final answer on the last line, "
    "starting with 'Answer:'."
)
OUTPUT_FORMAT_LEAD = "Respond in this format:"


class Technique(StrEnum):
    ZERO_SHOT = "zero-shot"
    FEW_SHOT = "few-shot"
    CHAIN_OF_THOUGHT = "chain-of-thought"


class PromptError(ValueError):
    """A prompt that cannot be rendered; the message names the variable or the faulty text."""


class UnknownVariable(PromptError):
    def __init__(self, name: str, available: list[str], where: str = ""):
        self.name = name
        self.available = sorted(available)
        provided = ", ".join(self.available) if self.available else "no variables"
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown variable {{{{{name}}}}} (the test case provides {provided})")


@dataclass(frozen=True)
class Example:
    """A few-shot example: `input` is either literal text for the user turn, or variables rendered
    through the instruction like a test case."""

    input: str | dict[str, Any]
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output}


@dataclass(frozen=True)
class PromptContent:
    instruction: str
    system_prompt: str = ""
    technique: str = Technique.ZERO_SHOT
    examples: tuple[Example, ...] = field(default_factory=tuple)
    output_format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "system_prompt": self.system_prompt,
            "instruction": self.instruction,
            "technique": str(self.technique),
            "examples": [example.to_dict() for example in self.examples],
            "output_format": self.output_format,
        }

    def content_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def variables(self) -> list[str]:
        """Variables a test case must provide, in order of first appearance."""
        return _unique(find_variables(self.system_prompt) + find_variables(self.instruction))


@dataclass(frozen=True)
class RenderedPrompt:
    messages: tuple[ChatMessage, ...]

    @property
    def system(self) -> str:
        return next((m.content for m in self.messages if m.role == "system"), "")

    def as_text(self) -> str:
        """The conversation as readable text, for previews and exports."""
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)


def find_variables(text: str) -> list[str]:
    """Names of `{{ variables }}` in text, in order, without repeats; malformed ones raise PromptError."""
    names = []
    for match in VARIABLE.finditer(text):
        name = match.group(1).strip()
        if not NAME.match(name):
            raise PromptError(
                f"{match.group(0)!r} is not a variable: write {{{{name}}}} with letters, digits and "
                "underscores only"
            )
        names.append(name)
    return _unique(names)


def substitute(text: str, variables: dict[str, Any], where: str = "") -> str:
    find_variables(text)  # reports malformed placeholders before any substitution

    def replace(match: re.Match) -> str:
        name = match.group(1).strip()
        if name not in variables:
            raise UnknownVariable(name, list(variables), where)
        return format_value(variables[name])

    return VARIABLE.sub(replace, text)


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


def render_prompt(content: PromptContent, variables: dict[str, Any]) -> RenderedPrompt:
    """The chat messages for one test case. Few-shot examples become earlier user/assistant turns."""
    messages: list[ChatMessage] = []
    system = substitute(content.system_prompt, variables, "system prompt").strip()
    if system:
        messages.append(ChatMessage("system", system))
    if content.technique == Technique.FEW_SHOT:
        for number, example in enumerate(content.examples, start=1):
            if isinstance(example.input, dict):
                user = substitute(content.instruction, example.input, f"example {number}")
            else:
                user = example.input
            messages.append(ChatMessage("user", _final_user_turn(user.strip(), content, with_cot=False)))
            messages.append(ChatMessage("assistant", example.output.strip()))
    instruction = substitute(content.instruction, variables, "instruction").strip()
    messages.append(ChatMessage("user", _final_user_turn(instruction, content, with_cot=True)))
    return RenderedPrompt(tuple(messages))


def _final_user_turn(text: str, content: PromptContent, with_cot: bool) -> str:
    parts = [text]
    if with_cot and content.technique == Technique.CHAIN_OF_THOUGHT:
        parts.append(CHAIN_OF_THOUGHT_INSTRUCTION)
    if content.output_format.strip():
        parts.append(f"{OUTPUT_FORMAT_LEAD} {content.output_format.strip()}")
    return "\n\n".join(parts)


def parse_examples(raw: Any) -> tuple[Example, ...]:
    """Few-shot examples from JSON data: a list of {"input": text or {variables}, "output": text}."""
    if raw in (None, "", []):
        return ()
    if not isinstance(raw, list):
        raise PromptError("examples must be a list of objects with 'input' and 'output'")
    examples = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or set(item) != {"input", "output"}:
            raise PromptError(f"example {number}: needs exactly the keys 'input' and 'output'")
        value, output = item["input"], item["output"]
        if not isinstance(value, str | dict) or (isinstance(value, str) and not value.strip()):
            raise PromptError(f"example {number}: 'input' must be text or an object of variables")
        if not isinstance(output, str) or not output.strip():
            raise PromptError(f"example {number}: 'output' must be non-empty text")
        examples.append(Example(input=value, output=output))
    return tuple(examples)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
