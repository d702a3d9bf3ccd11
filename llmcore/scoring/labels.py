"""Label extraction: map a model's free text to one label of a fixed set, then compare with the case.

Rules, in order:
1. The whole output (trimmed, without surrounding quotes or a final full stop) equals a label or a
   synonym, case-insensitively: that label.
2. Otherwise every mention of a label or synonym as a whole word (case-insensitive, so "billing"
   does not match inside "rebilling") is found. The `rule` decides what several mentions mean:
   - "only" (the default) requires every mention to name the same label. An output naming two or
     more different labels is **ambiguous** ("Billing, technical, account, shipping" names them all):
     it fails, or is "unparsed" (neither pass nor fail) when `ambiguous` is "unparsed". It never
     passes because of where a label happens to sit in the text.
   - "first" / "last" are explicit choices: the first or the last mention decides ("last" suits
     chain-of-thought answers that conclude at the end; "first" answers that lead with the label).
   Where mentions overlap ("billing" inside "billing dispute"), the longer one wins.
3. No mention: no label found, which fails the case (passed False) with that rationale.

An ambiguous output's rationale starts with AMBIGUOUS_PREFIX, so results can count them.

Negations are not understood: "not billing" mentions billing. Ask for the bare label in the prompt.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .base import (
    GenerationMeta,
    Measure,
    Param,
    Scorer,
    ScorerError,
    ScorerUnparsed,
    ScoringCase,
    clip,
    register,
)

# The start of an ambiguous output's rationale (results count outputs by it).
AMBIGUOUS_PREFIX = "ambiguous: "


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _check_labels(labels: tuple[str, ...]) -> None:
    seen: dict[str, str] = {}
    for label in labels:
        key = _key(label)
        if key in seen:
            raise ValueError(f"{label!r} repeats {seen[key]!r} (labels are compared case-insensitively)")
        seen[key] = label


@dataclass(frozen=True)
class Extraction:
    label: str | None
    matched: str = ""  # the text that matched (the label itself or a synonym)
    how: str = ""
    ambiguous: tuple[str, ...] = ()  # the different labels named, when the "only" rule refused them


@register
class LabelMatch(Scorer):
    name = "label_match"
    # 2: "only" is the default rule; an output naming several labels is ambiguous, never a pass by position.
    version = "2"
    label = "Label extraction"
    description = "Finds which label of a set the output names (with synonyms), and compares it with the expected label."
    params_spec = (
        Param("labels", "str_list", "the allowed labels, one per line", check=_check_labels),
        Param(
            "synonyms",
            "mapping",
            'extra words for a label, e.g. {"billing": ["invoice", "payment"]}',
            default={},
        ),
        Param(
            "rule",
            "str",
            "when the output names several labels: 'only' (default: they must all be the same label, "
            "else the output is ambiguous), 'first' or 'last' (that mention decides, e.g. 'last' for "
            "answers that reason first and conclude at the end)",
            "only",
            choices=("only", "first", "last"),
        ),
        Param(
            "ambiguous",
            "str",
            "an output naming several different labels (rule 'only'): 'fail' (default) counts it as a "
            "fail; 'unparsed' leaves it undecided, neither pass nor fail",
            "fail",
            choices=("fail", "unparsed"),
        ),
    )

    def check_config(self) -> None:
        labels = {_key(label): label for label in self.params["labels"]}
        terms: dict[str, str] = dict(labels)
        for label, words in self.params["synonyms"].items():
            if _key(str(label)) not in labels:
                raise ValueError(
                    f"synonyms: {label!r} is not one of the labels ({', '.join(self.params['labels'])})"
                )
            if isinstance(words, str):
                words = [words]
            if not isinstance(words, list | tuple) or not all(
                isinstance(w, str) and w.strip() for w in words
            ):
                raise ValueError(f"synonyms: the words for {label!r} must be a list of non-empty texts")
            for word in words:
                owner = terms.get(_key(word))
                target = labels[_key(str(label))]
                if owner is not None and owner != target:
                    raise ValueError(f"synonyms: {word!r} would mean both {owner!r} and {target!r}")
                terms[_key(word)] = target
        self._terms = terms
        # Longest terms first so that at the same position "billing dispute" beats "billing".
        alternatives = sorted(terms, key=len, reverse=True)
        body = "|".join(r"\s+".join(re.escape(part) for part in term.split()) for term in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)")

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["params"]["synonyms"] = {
            k: list(v) if not isinstance(v, str) else [v] for k, v in self.params["synonyms"].items()
        }
        return config

    def extract(self, output: str) -> Extraction:
        # Case-folded text against case-folded terms: unlike re.IGNORECASE this also equates "ß" and "ss".
        text = unicodedata.normalize("NFKC", output).casefold()
        whole = _key(text.strip().strip("\"'`*").rstrip(".").strip())
        if whole in self._terms:
            return Extraction(self._terms[whole], whole, "the whole output")
        mentions = [(m.group(0), self._terms[_key(m.group(0))]) for m in self._pattern.finditer(text)]
        if not mentions:
            return Extraction(None)
        rule = self.params["rule"]
        if rule == "only":
            named = {label for _, label in mentions}
            if len(named) > 1:
                ordered = tuple(dict.fromkeys(label for _, label in mentions))
                return Extraction(
                    None, how=f"several labels are named ({', '.join(ordered)})", ambiguous=ordered
                )
            matched, label = mentions[0]
            return Extraction(label, matched, "the only label named")
        matched, label = mentions[0] if rule == "first" else mentions[-1]
        return Extraction(label, matched, f"the {rule} mention")

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        expected_raw = (case.expected_label or "").strip()
        if not expected_raw:
            raise ScorerError("this case has no expected label to compare with")
        expected = self._terms.get(_key(expected_raw))
        if expected is None:
            raise ScorerError(
                f"the expected label {expected_raw!r} is not one of the labels ({', '.join(self.params['labels'])})"
            )
        found = self.extract(output)
        if found.ambiguous:
            why = (
                f"{AMBIGUOUS_PREFIX}the output names {len(found.ambiguous)} different labels "
                f"({', '.join(found.ambiguous)}) in {clip(output, 60)}; expected {expected!r}"
            )
            if self.params["ambiguous"] == "unparsed":
                raise ScorerUnparsed(why)
            return Measure(0.0, why)
        if found.label is None:
            why = found.how or f"none of {', '.join(self.params['labels'])} appears"
            return Measure(0.0, f"no label found: {why} in {clip(output, 60)}; expected {expected!r}")
        via = f" via {found.matched!r}" if _key(found.matched) != _key(found.label) else ""
        if found.label == expected:
            return Measure(1.0, f"found {found.label!r}{via} ({found.how}), as expected")
        return Measure(0.0, f"found {found.label!r}{via} ({found.how}); expected {expected!r}")
