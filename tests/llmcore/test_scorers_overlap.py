from __future__ import annotations

import pytest

from llmcore.scoring import InvalidScorerConfig, ScoreStatus, ScoringCase, build_scorer

REFERENCE = ScoringCase(
    expected_output="The customer was charged twice and wants a refund for the second charge."
)
CLOSE = "The customer was charged twice and would like the second charge refunded."
UNRELATED = "Our office is closed on public holidays."


@pytest.mark.parametrize("name", ["rouge_l", "bleu", "chrf"])
def test_a_close_output_scores_higher_than_an_unrelated_one(name):
    scorer = build_scorer(name)
    close, unrelated = scorer.score(CLOSE, REFERENCE), scorer.score(UNRELATED, REFERENCE)
    assert 0 <= unrelated.value < close.value <= 1
    assert close.passed is True
    assert unrelated.passed is False


@pytest.mark.parametrize("name", ["rouge_l", "bleu", "chrf"])
def test_an_identical_output_scores_one(name):
    assert build_scorer(name).score(REFERENCE.expected_output, REFERENCE).value == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["rouge_l", "bleu", "chrf"])
def test_a_case_without_reference_is_an_error(name):
    result = build_scorer(name).score(CLOSE, ScoringCase())
    assert result.status == ScoreStatus.ERROR
    assert "no expected output" in result.rationale


def test_rouge_l_reports_precision_recall_and_f_and_can_use_recall():
    result = build_scorer("rouge_l", threshold=None).score(
        "the cat sat on the mat", ScoringCase("a cat sat on the mat")
    )
    assert result.value == pytest.approx(5 / 6)
    assert result.rationale == "ROUGE-L precision 0.833, recall 0.833, F 0.833 (using fmeasure)"
    recall = build_scorer("rouge_l", {"measure": "recall"}).score("cat", ScoringCase("a cat sat on the mat"))
    assert recall.value == pytest.approx(1 / 6)


def test_rouge_l_explains_text_its_tokenizer_cannot_read():
    result = build_scorer("rouge_l").score("привет мир", ScoringCase("привет мир"))
    assert result.status == ScoreStatus.ERROR
    assert "ASCII letters or digits" in result.rationale


def test_bleu_matches_sacrebleu_on_a_known_pair():
    result = build_scorer("bleu").score("the cat sat on the mat", ScoringCase("a cat sat on the mat"))
    # sacrebleu sentence BLEU with effective order: 75.98
    assert result.value == pytest.approx(0.7598, abs=1e-4)
    assert "brevity penalty 1.000" in result.rationale
    assert result.rationale.endswith("0.760 meets the threshold 0.3")


def test_bleu_tokenizer_choice_is_validated():
    with pytest.raises(
        InvalidScorerConfig, match=r"bleu\.tokenize: must be one of 13a, intl, char, zh, none"
    ):
        build_scorer("bleu", {"tokenize": "moses"})


def test_chrf_plus_plus_with_word_order():
    result = build_scorer("chrf", {"word_order": 2}).score(CLOSE, REFERENCE)
    assert result.rationale.startswith("chrF++ ")
    with pytest.raises(InvalidScorerConfig, match=r"chrf\.word_order: must be at most 2, got 3"):
        build_scorer("chrf", {"word_order": 3})


def test_library_versions_are_part_of_the_scorer_version():
    assert build_scorer("bleu").version.startswith("1+sacrebleu-2.")
    assert build_scorer("rouge_l").version.startswith("1+rouge-score-0.")
