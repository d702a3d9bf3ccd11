"""Reference-overlap scorers: ROUGE-L (`rouge-score`), BLEU and chrF (`sacrebleu`), all as 0..1.

They compare the output with the case's expected output. The libraries are imported on first use so
importing the scoring package stays cheap. Their versions are part of each scorer's version, because
an upgrade can move the numbers.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from .base import (
    GenerationMeta,
    Measure,
    Param,
    Scorer,
    ScorerError,
    ScoringCase,
    register,
    require_expected_output,
)


@cache
def _lib_version(package: str) -> str:
    try:
        return package_version(package)
    except PackageNotFoundError:
        return "missing"


class _LibraryVersioned(Scorer):
    rules_version = "1"
    library = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.library:
            cls.version = f"{cls.rules_version}+{cls.library}-{_lib_version(cls.library)}"


@register
class RougeL(_LibraryVersioned):
    """rouge-score's tokenizer lower-cases and keeps only ASCII letters and digits, so text in other
    scripts has no tokens: such cases are reported as errors rather than scored 0."""

    name = "rouge_l"
    label = "ROUGE-L"
    library = "rouge-score"
    binary = False
    default_threshold = 0.5
    description = (
        "Longest common subsequence of words between output and expected output (F-measure by default)."
    )
    params_spec = (
        Param(
            "measure",
            "str",
            "which ROUGE-L figure to use",
            "fmeasure",
            choices=("fmeasure", "precision", "recall"),
        ),
        Param("use_stemmer", "bool", "reduce English words to their stems (Porter) before matching", True),
    )

    def check_config(self) -> None:
        self._scorer = None

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        from rouge_score import rouge_scorer, tokenize

        expected = require_expected_output(case)
        if self._scorer is None:
            self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=self.params["use_stemmer"])
        if not tokenize.tokenize(expected, None):
            raise ScorerError(
                "the expected output has no ASCII letters or digits, which ROUGE's tokenizer needs"
            )
        score = self._scorer.score(expected, output)["rougeL"]
        value = getattr(score, self.params["measure"])
        return Measure(
            value,
            f"ROUGE-L precision {score.precision:.3f}, recall {score.recall:.3f}, F {score.fmeasure:.3f}"
            f" (using {self.params['measure']})",
        )


@register
class Bleu(_LibraryVersioned):
    """Sentence-level BLEU with sacrebleu's exponential smoothing and effective order (short outputs
    are not zeroed for lacking 4-grams). sacrebleu reports 0..100; the value here is that / 100."""

    name = "bleu"
    label = "BLEU"
    library = "sacrebleu"
    binary = False
    default_threshold = 0.3
    description = "Sentence BLEU (sacrebleu) of the output against the expected output, as 0..1."
    params_spec = (
        Param("tokenize", "str", "sacrebleu tokenizer", "13a", choices=("13a", "intl", "char", "zh", "none")),
        Param("lowercase", "bool", "ignore case", False),
    )

    def check_config(self) -> None:
        self._metric = None

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        from sacrebleu.metrics import BLEU

        expected = require_expected_output(case)
        if self._metric is None:
            self._metric = BLEU(
                tokenize=self.params["tokenize"], lowercase=self.params["lowercase"], effective_order=True
            )
        result = self._metric.sentence_score(output, [expected])
        precisions = "/".join(f"{p:.1f}" for p in result.precisions)
        return Measure(
            result.score / 100,
            f"BLEU {result.score:.1f} (n-gram precisions {precisions}, brevity penalty {result.bp:.3f})",
        )


@register
class ChrF(_LibraryVersioned):
    """Character n-gram F-score (sacrebleu). word_order=2 gives chrF++. 0..100 reported as 0..1."""

    name = "chrf"
    label = "chrF"
    library = "sacrebleu"
    binary = False
    default_threshold = 0.5
    description = (
        "Character n-gram F-score (chrF, or chrF++ with word order 2) against the expected output, as 0..1."
    )
    params_spec = (
        Param("word_order", "int", "word n-gram order: 0 for chrF, 2 for chrF++", 0, min=0, max=2),
        Param("lowercase", "bool", "ignore case", False),
    )

    def check_config(self) -> None:
        self._metric = None

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        from sacrebleu.metrics import CHRF

        expected = require_expected_output(case)
        if self._metric is None:
            self._metric = CHRF(word_order=self.params["word_order"], lowercase=self.params["lowercase"])
        result = self._metric.sentence_score(output, [expected])
        name = "chrF++" if self.params["word_order"] else "chrF"
        return Measure(result.score / 100, f"{name} {result.score:.1f}")
