"""Exposure labels from a registered model: the rubric in our own words, a few of the team's labelled
tasks as examples (the most similar ones), and an answer parsed into a label and its rationale.

This is the pre-screen's method for teams with too few labels for the classifier (classifier.MIN_LABELS).
How well it works depends on the model: bench/triage.py measures it (`rubric` in its JSON); the default
135M-parameter model is too small to follow the rubric reliably, a stronger registered model does better.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmcore.engine.types import GenerationRequest, InferenceParams

from .classifier import LABELS

RUBRIC = """Decide how exposed a work task is to large language models (LLMs).
E0 - no exposure: neither an LLM nor software built on one would halve the time the task takes at equal quality (physical work, hands-on care, operating equipment, decisions that need presence).
E1 - direct exposure: an LLM on its own, through a chat window, halves the time at equal quality (writing, editing, summarising, translating, answering questions from general knowledge, drafting code).
E2 - exposure through LLM-powered software: it halves the time only with software built on an LLM (searching documents or the web, working over long documents, connecting to other systems or data)."""

INSTRUCTION = (
    "Answer with the label on the first line as 'Label: E0', 'Label: E1' or 'Label: E2', then one short "
    "sentence starting with 'Reason:'."
)
METHOD_CODE = "rubric"
MAX_TOKENS = 48
MAX_EXAMPLES = 4
_LABEL = re.compile(r"\bE\s*([012])\b", re.IGNORECASE)
_REASON = re.compile(r"reason\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    statement: str
    label: str


@dataclass(frozen=True)
class Answer:
    label: str | None  # None when the model gave no label
    rationale: str


def request_for(statement: str, job: str, examples: Sequence[Example], key: str = "") -> GenerationRequest:
    shots = "".join(f"Task: {e.statement}\nLabel: {e.label}\n\n" for e in examples[:MAX_EXAMPLES])
    intro = "Labelled tasks from the same team:\n\n" + shots if shots else ""
    prompt = f"{intro}Job: {job}\nTask: {statement}\n\n{INSTRUCTION}"
    params = InferenceParams(temperature=0.0, max_new_tokens=MAX_TOKENS)
    return GenerationRequest.from_prompt(prompt, params=params, key=key, system=RUBRIC)


def parse(text: str) -> Answer:
    """The first E0/E1/E2 the model wrote (after 'Label:' when there is one) and its reason."""
    head = text.split("Label:", 1)[1] if "Label:" in text else text
    found = _LABEL.search(head)
    label = f"E{found.group(1)}" if found else None
    reason = _REASON.search(text)
    rationale = (reason.group(1) if reason else text).strip().splitlines()
    return Answer(label if label in LABELS else None, " ".join(rationale[:2])[:500])
