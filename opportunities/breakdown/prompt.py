"""The prompt that asks a model for a job's tasks.

Two wordings, chosen by the model's size. SmolLM2-135M (the default) loses the thread on any format: asked
for `kind | hours | task` it answers with the format's words, so small models are asked for a plain list
of tasks starting with a verb (the parser guesses each kind from that verb and the page leaves the hours
to the person). Larger models are asked for `kind | hours per week | task` and told which tasks the job
already has. The parser reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmcore.engine.params import InferenceParams

SMALL_MODEL_PARAMETERS = 1_000_000_000  # below this (or unknown and local), the plain list
ASK_FOR = 12  # tasks requested; a job has 20–40, so a run is a start and can be repeated
SMALL_ASK_FOR = 8  # the small model keeps to a short list and rambles past it
MAX_NEW_TOKENS = 400  # ~12 lines of `kind | hours | task`
DESCRIPTION_CHARS = 1_500  # enough to describe a job; keeps the prompt inside small context windows
EXISTING_SHOWN = 40
TIMEOUT_S = 300.0  # inside the Celery task's 10-minute soft limit

PLAIN = """Job: {title}
Description: {description}

List {count} tasks that a {title} does every week. Write one short task per line, each starting with a verb."""

STRUCTURED = """Job title: {title}
Job description: {description}
{existing}
List {count} distinct tasks that a person in this job does, one task per line, in exactly this format:
kind | hours per week | task

kind is one of: write (produces text), read (reads or analyses information), chat (talks with people), \
other (anything else, e.g. physical work). hours per week is your estimate for one person (0 to 80). \
task is one short sentence starting with a verb. No other text.

Example:
write | 5 | Draft replies to customer emails
read | 3 | Review the weekly sales report"""


@dataclass(frozen=True)
class BreakdownPrompt:
    text: str
    structured: bool
    params: InferenceParams


def is_small(parameter_count: int | None, local: bool) -> bool:
    if parameter_count is None:
        return local  # an unknown hosted model is most likely a large one
    return parameter_count < SMALL_MODEL_PARAMETERS


def build(
    title: str,
    description: str,
    existing: list[str],
    *,
    small: bool,
    max_new_tokens: int = MAX_NEW_TOKENS,
    attempt: int = 0,
) -> BreakdownPrompt:
    """attempt: how many times this model was asked for this job's tasks before."""
    description = " ".join(description.split())[:DESCRIPTION_CHARS] or "(no description)"
    title = " ".join(title.split())
    # Greedy the first time, with a light repetition penalty (without it the small model repeats one line
    # to the end); asked again, it samples with a new seed, so another try gives another list.
    # The answer is kept even when cut by the time limit; on a busy CPU the small model writes ~1 token/s.
    params = InferenceParams(max_new_tokens=max_new_tokens, repetition_penalty=1.1, timeout_s=TIMEOUT_S)
    if attempt:  # at 0.7 the small model drifts into prose; 0.5 still varies the list
        params = replace(params, temperature=0.5, top_p=0.9, seed=attempt)
    if small:
        text = PLAIN.format(title=title, description=description, count=SMALL_ASK_FOR)
        return BreakdownPrompt(text, False, params)
    shown = existing[:EXISTING_SHOWN]
    listed = (
        "\nThe job already has these tasks; do not repeat them:\n" + "\n".join(f"- {s}" for s in shown) + "\n"
        if shown
        else ""
    )
    text = STRUCTURED.format(title=title, description=description, existing=listed, count=ASK_FOR)
    return BreakdownPrompt(text, True, params)
