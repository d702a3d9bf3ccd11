"""Scorers that compare text directly: exact and normalised match, contains, regular expressions."""

from __future__ import annotations

import re
import unicodedata

from .base import (
    GenerationMeta,
    Measure,
    Param,
    Scorer,
    ScorerError,
    ScoringCase,
    clip,
    register,
    require_expected_output,
)


@register
class ExactMatch(Scorer):
    name = "exact_match"
    label = "Exact match"
    description = "The output equals the expected output, character for character."
    params_spec = (
        Param(
            "strip", "bool", "ignore whitespace around the output (models often add a final newline)", True
        ),
        Param("case_sensitive", "bool", "upper and lower case must match", True),
    )

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        expected = require_expected_output(case)
        got = output
        if self.params["strip"]:
            got, expected = got.strip(), expected.strip()
        if not self.params["case_sensitive"]:
            got, expected = got.casefold(), expected.casefold()
        if got == expected:
            return Measure(1.0, "output equals the expected output")
        return Measure(0.0, f"output {clip(output)} differs from the expected {clip(case.expected_output)}")


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(
    text: str, *, case: bool = True, punctuation: bool = True, whitespace: bool = True, articles: bool = False
) -> str:
    """Unicode NFKC (full-width letters, ligatures, non-breaking spaces become plain), then optionally
    case-folded, punctuation (Unicode category P*) removed, English articles removed and whitespace
    collapsed. The order mirrors the SQuAD answer normalisation."""
    text = unicodedata.normalize("NFKC", text)
    if case:
        text = text.casefold()
    if punctuation:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if articles:
        text = _ARTICLES.sub(" ", text)
    if whitespace:
        text = " ".join(text.split())
    return text


@register
class NormalisedMatch(Scorer):
    name = "normalised_match"
    label = "Normalised match"
    description = (
        "The output equals the expected output after Unicode NFKC normalisation and, by default, ignoring "
        "case, punctuation and extra whitespace."
    )
    params_spec = (
        Param("ignore_case", "bool", "compare case-insensitively", True),
        Param("ignore_punctuation", "bool", "drop punctuation before comparing", True),
        Param("ignore_whitespace", "bool", "collapse runs of whitespace and trim", True),
        Param("ignore_articles", "bool", "drop the English articles a, an, the", False),
    )

    def _normalise(self, text: str) -> str:
        return normalise(
            text,
            case=self.params["ignore_case"],
            punctuation=self.params["ignore_punctuation"],
            whitespace=self.params["ignore_whitespace"],
            articles=self.params["ignore_articles"],
        )

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        expected = self._normalise(require_expected_output(case))
        got = self._normalise(output)
        if got == expected:
            return Measure(1.0, f"output matches the expected output once normalised ({clip(got)})")
        return Measure(
            0.0, f"normalised output {clip(got)} differs from the normalised expected {clip(expected)}"
        )


class _Contains(Scorer):
    params_spec = (
        Param("strings", "str_list", "the texts to look for, one per line"),
        Param(
            "mode",
            "str",
            "'all': every text must be found; 'any': at least one",
            "all",
            choices=("all", "any"),
        ),
        Param("case_sensitive", "bool", "upper and lower case must match", False),
    )

    def _found(self, output: str) -> tuple[list[str], list[str]]:
        haystack = unicodedata.normalize("NFKC", output)
        if not self.params["case_sensitive"]:
            haystack = haystack.casefold()
        found, missing = [], []
        for needle in self.params["strings"]:
            probe = unicodedata.normalize("NFKC", needle)
            if not self.params["case_sensitive"]:
                probe = probe.casefold()
            (found if probe in haystack else missing).append(needle)
        return found, missing

    def _contains(self, output: str) -> tuple[bool, str]:
        found, missing = self._found(output)
        hit = not missing if self.params["mode"] == "all" else bool(found)
        parts = []
        if found:
            parts.append("found " + ", ".join(map(repr, found)))
        if missing:
            parts.append("missing " + ", ".join(map(repr, missing)))
        return hit, "; ".join(parts)


@register
class Contains(_Contains):
    name = "contains"
    label = "Contains"
    description = "The output contains all (or any) of the given texts."

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        hit, detail = self._contains(output)
        rule = "all of" if self.params["mode"] == "all" else "any of"
        return Measure(
            1.0 if hit else 0.0, f"{'contains' if hit else 'does not contain'} {rule} the texts: {detail}"
        )


@register
class NotContains(_Contains):
    name = "not_contains"
    label = "Does not contain"
    description = "The output contains none of the given texts (mode 'any', the default), or not all of them (mode 'all')."
    params_spec = (
        Param("strings", "str_list", "the texts that must not appear, one per line"),
        Param(
            "mode",
            "str",
            "'any': fail if any text appears; 'all': fail only if every text appears",
            "any",
            choices=("all", "any"),
        ),
        Param("case_sensitive", "bool", "upper and lower case must match", False),
    )

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        hit, detail = self._contains(output)
        if hit:
            return Measure(0.0, f"output contains forbidden text: {detail}")
        return Measure(1.0, f"output avoids the forbidden texts: {detail}")


MAX_PATTERN_CHARS = 1_000


def _check_pattern(pattern: str) -> None:
    import regex

    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"is {len(pattern):,} characters long; at most {MAX_PATTERN_CHARS:,} are allowed")
    try:
        regex.compile(pattern)
    except regex.error as exc:
        where = f" at position {exc.pos}" if getattr(exc, "pos", None) is not None else ""
        raise ValueError(
            f"is not a valid regular expression: {exc.msg if hasattr(exc, 'msg') else exc}{where}"
        ) from None


@register
class RegexMatch(Scorer):
    """Uses the `regex` package (a dependency of transformers) rather than `re` because it can stop a
    match after a time limit: a user-written pattern with nested quantifiers such as `^(a|aa)+$` can
    otherwise backtrack for minutes on a long output. Outputs longer than `max_input_chars` are
    refused (status "error") for the same reason, never silently truncated."""

    name = "regex"
    label = "Regular expression"
    description = "The output matches a regular expression (search anywhere, or the whole output)."
    params_spec = (
        Param("pattern", "str", "the regular expression", check=_check_pattern),
        Param(
            "mode",
            "str",
            "'search': match anywhere; 'fullmatch': the whole output",
            "search",
            choices=("search", "fullmatch"),
        ),
        Param("ignore_case", "bool", "case-insensitive matching", False),
        Param("multiline", "bool", "^ and $ match at every line", False),
        Param("dotall", "bool", ". also matches newlines", False),
        Param("negate", "bool", "pass when the pattern does NOT match", False),
        Param("strip", "bool", "ignore whitespace around the output", True),
        Param("max_input_chars", "int", "longest output the pattern runs on", 20_000, min=1, max=1_000_000),
        Param("timeout_s", "float", "time limit for one match", 1.0, min=0.001, max=30),
    )

    def check_config(self) -> None:
        import regex

        flags = regex.V0
        if self.params["ignore_case"]:
            flags |= regex.IGNORECASE
        if self.params["multiline"]:
            flags |= regex.MULTILINE
        if self.params["dotall"]:
            flags |= regex.DOTALL
        self._compiled = regex.compile(self.params["pattern"], flags)

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        text = output.strip() if self.params["strip"] else output
        limit = self.params["max_input_chars"]
        if len(text) > limit:
            raise ScorerError(
                f"output is {len(text):,} characters; the regular expression runs on at most {limit:,} "
                "(raise max_input_chars to allow longer outputs)"
            )
        match_fn = self._compiled.fullmatch if self.params["mode"] == "fullmatch" else self._compiled.search
        try:
            match = match_fn(text, timeout=self.params["timeout_s"])
        except TimeoutError:
            raise ScorerError(
                f"the regular expression took longer than {self.params['timeout_s']:g} s on this output "
                "(probably catastrophic backtracking: simplify nested repetitions like (a+)+)"
            ) from None
        where = "the whole output" if self.params["mode"] == "fullmatch" else "the output"
        if match:
            detail = f"{where} matches /{self.params['pattern']}/ (matched {clip(match.group(0), 60)})"
        else:
            detail = f"{where} does not match /{self.params['pattern']}/"
        hit = bool(match) != self.params["negate"]
        if self.params["negate"]:
            detail += " (negated: the pattern must not match)"
        return Measure(1.0 if hit else 0.0, detail)
