"""Meaning-based scorers on the bundled all-MiniLM-L6-v2: sentence cosine similarity and BERTScore.

Both embed in batches when given many outputs (`score_many`), which is how the experiment runner
should call them: one model call per batch instead of one per output.

BERTScore here follows Zhang et al. (2020) with greedy matching and no IDF weighting and **no baseline
rescaling**: each output token is matched to its most similar expected token by cosine of contextual
embeddings (precision), each expected token to its most similar output token (recall), F1 is their
harmonic mean. It uses MiniLM's last layer, not the layer the reference implementation picks per
model, and drops [CLS]/[SEP]. So the numbers are not comparable with published BERTScores; they are
comparable between runs scored by the same scorer version. On this model unrelated sentences land
near 0.0–0.2, close paraphrases near 0.6–0.8, but related sentences that say something different
("wants a refund" / "wants to upgrade") land near 0.5–0.6 too: for meaning, prefer the sentence
cosine, whose default threshold 0.65 separated paraphrases from look-alikes in our spot checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import (
    NO_META,
    GenerationMeta,
    Measure,
    Param,
    Scorer,
    ScoreResult,
    ScoreStatus,
    ScoringCase,
    register,
)
from .embeddings import get_embedder

if TYPE_CHECKING:
    import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


class _EmbeddingScorer(Scorer):
    binary = False

    def measure(self, output: str, case: ScoringCase, meta: GenerationMeta) -> Measure:
        # One output is a batch of one; the work happens in score_many.
        raise NotImplementedError

    def score(
        self, output: str, case: ScoringCase | None = None, meta: GenerationMeta | None = None
    ) -> ScoreResult:
        return self.score_many([(output, case, meta)])[0]

    def score_many(
        self, items: Iterable[tuple[str, ScoringCase | None, GenerationMeta | None]]
    ) -> list[ScoreResult]:
        items = [(output or "", case or ScoringCase(), meta or NO_META) for output, case, meta in items]
        results: list[ScoreResult | None] = [None] * len(items)
        todo = []
        for i, (output, case, _) in enumerate(items):
            if not (case.expected_output or "").strip():
                results[i] = self.result(
                    None, "this case has no expected output to compare with", ScoreStatus.ERROR
                )
            elif not output.strip():
                results[i] = self.result(0.0, "output is empty")
            else:
                todo.append(i)
        if todo:
            try:
                measures = self.measure_batch(
                    [items[i][0] for i in todo], [items[i][1].expected_output for i in todo]
                )
            except Exception as exc:  # the model failed to load or run: every case in the batch is unscored
                message = f"{self.label} failed: {type(exc).__name__}: {exc}"
                measures = [None] * len(todo)
                for i in todo:
                    results[i] = self.result(None, message, ScoreStatus.ERROR)
            for i, measure in zip(todo, measures, strict=True):
                if measure is not None:
                    results[i] = self.result(measure.value, measure.rationale)
        return results  # type: ignore[return-value]

    def measure_batch(self, outputs: list[str], expected: list[str]) -> list[Measure]:
        raise NotImplementedError


@register
class SemanticSimilarity(_EmbeddingScorer):
    name = "semantic_similarity"
    label = "Semantic similarity"
    version = "1+all-MiniLM-L6-v2"
    default_threshold = 0.65
    description = (
        "Cosine similarity of all-MiniLM-L6-v2 sentence embeddings of output and expected output "
        "(negative cosines count as 0)."
    )

    def measure_batch(self, outputs: list[str], expected: list[str]) -> list[Measure]:
        import numpy as np

        vectors = get_embedder().embed(outputs + expected)
        n = len(outputs)
        cosines = np.einsum("ij,ij->i", vectors[:n], vectors[n:])
        return [
            Measure(max(0.0, float(c)), f"cosine similarity {float(c):.3f} ({MODEL_NAME})") for c in cosines
        ]


@register
class BERTScore(_EmbeddingScorer):
    name = "bertscore"
    label = "BERTScore"
    version = "1+all-MiniLM-L6-v2"
    default_threshold = 0.6
    description = (
        "Greedy matching of all-MiniLM-L6-v2 contextual token embeddings between output and expected "
        "output (precision, recall, F1; no baseline rescaling)."
    )
    params_spec = (
        Param("measure", "str", "which BERTScore figure to use", "f1", choices=("f1", "precision", "recall")),
    )

    def measure_batch(self, outputs: list[str], expected: list[str]) -> list[Measure]:
        tokens = get_embedder().token_embeddings(outputs + expected)
        n = len(outputs)
        measures = []
        for candidate, reference in zip(tokens[:n], tokens[n:], strict=True):
            p, r, f = bertscore(candidate, reference)
            value = {"f1": f, "precision": p, "recall": r}[self.params["measure"]]
            measures.append(
                Measure(
                    max(0.0, value),
                    f"BERTScore precision {p:.3f}, recall {r:.3f}, F1 {f:.3f} (using {self.params['measure']}; "
                    f"{MODEL_NAME}, no baseline rescaling)",
                )
            )
        return measures


def bertscore(candidate: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 from unit-length token vectors (tokens × dimension) of both texts."""
    if len(candidate) == 0 or len(reference) == 0:
        return 0.0, 0.0, 0.0
    similarity = candidate @ reference.T
    precision = float(similarity.max(axis=1).mean())
    recall = float(similarity.max(axis=0).mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1
