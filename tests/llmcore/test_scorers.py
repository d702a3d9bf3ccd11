from __future__ import annotations

import json

import pytest

from llmcore.engine.types import FinishReason, GenerationResult
from llmcore.scoring import (
    REGISTRY,
    GenerationMeta,
    InvalidScorerConfig,
    ScoreResult,
    ScoreStatus,
    ScoringCase,
    aggregate,
    build_from_config,
    build_scorer,
    catalog,
    overall_pass,
    weighted_score,
)
from llmcore.scoring.text import normalise


def case(expected: str = "", label: str = "", **variables) -> ScoringCase:
    return ScoringCase(expected_output=expected, expected_label=label, variables=variables)


class TestRegistry:
    def test_every_scorer_the_issue_asks_for_is_registered(self):
        assert set(REGISTRY) >= {
            "exact_match",
            "normalised_match",
            "contains",
            "not_contains",
            "regex",
            "json_valid",
            "json_schema",
            "label_match",
            "rouge_l",
            "bleu",
            "chrf",
            "semantic_similarity",
            "bertscore",
            "llm_judge",
            "length_limit",
            "latency_limit",
            "cost_limit",
        }

    def test_an_unknown_scorer_names_the_known_ones(self):
        with pytest.raises(InvalidScorerConfig, match=r"nope\.name: unknown scorer \(known: bertscore, bleu"):
            build_scorer("nope")

    def test_the_catalog_describes_parameters_for_forms(self):
        entries = {entry["name"]: entry for entry in catalog()}
        regex_params = {p["name"]: p for p in entries["regex"]["params"]}
        assert regex_params["pattern"]["required"] is True
        assert regex_params["mode"]["choices"] == ["search", "fullmatch"]
        assert entries["rouge_l"]["version"].startswith("1+rouge-score-")

    def test_a_stored_config_rebuilds_the_same_scorer(self):
        scorer = build_scorer(
            "label_match",
            {"labels": ["billing", "technical"], "synonyms": {"billing": ["invoice"]}, "rule": "last"},
            threshold=1.0,
            weight=2,
        )
        stored = json.loads(json.dumps(scorer.config()))
        rebuilt = build_from_config(stored)
        assert rebuilt.config() == scorer.config()
        assert stored["version"] == "2"
        assert stored["weight"] == 2

    def test_each_result_records_the_scorer_version_weight_and_threshold(self):
        result = build_scorer("contains", {"strings": ["refund"]}, weight=3).score("a refund")
        assert (result.scorer, result.version, result.weight, result.threshold) == ("contains", "1", 3.0, 1.0)


class TestParameterValidation:
    def test_every_problem_is_reported_at_once_naming_the_field(self):
        with pytest.raises(InvalidScorerConfig) as exc:
            build_scorer("length_limit", {"unit": "pages", "colour": "red"}, threshold=2, weight=-1)
        assert exc.value.errors == {
            "colour": "unknown parameter (known: max, min, unit)",
            "unit": "must be one of chars, words, tokens; got 'pages'",
            "threshold": "must be between 0 and 1 (scores are 0..1), got 2",
            "weight": "must be between 0 and 100, got -1",
        }
        assert str(exc.value).startswith("length_limit.colour: unknown parameter")

    @pytest.mark.parametrize(
        ("weight", "message"),
        [("1e30", "must be between 0 and 100, got 1e+30"), ("inf", "must be a finite number, got 'inf'")],
    )
    def test_a_weight_is_bounded(self, weight, message):
        with pytest.raises(InvalidScorerConfig) as exc:
            build_scorer("length_limit", {"max": 10}, weight=weight)
        assert exc.value.errors == {"weight": message}

    def test_a_missing_required_parameter_says_what_it_is_for(self):
        with pytest.raises(
            InvalidScorerConfig, match=r"contains\.strings: is required \(the texts to look for"
        ):
            build_scorer("contains", {})

    def test_cross_parameter_checks_explain_the_conflict(self):
        with pytest.raises(InvalidScorerConfig, match=r"min \(5\) must not exceed max \(2\)"):
            build_scorer("length_limit", {"min": 5, "max": 2})
        with pytest.raises(InvalidScorerConfig, match="set min, max or both"):
            build_scorer("length_limit", {"unit": "chars"})

    def test_wrong_types_are_named(self):
        with pytest.raises(InvalidScorerConfig, match=r"latency_limit\.max_s: must be a number, got 'fast'"):
            build_scorer("latency_limit", {"max_s": "fast"})
        with pytest.raises(InvalidScorerConfig, match=r"length_limit\.max: must be a whole number, got 2\.5"):
            build_scorer("length_limit", {"max": 2.5})
        with pytest.raises(
            InvalidScorerConfig, match=r"exact_match\.strip: must be true or false, got 'maybe'"
        ):
            build_scorer("exact_match", {"strip": "maybe"})
        with pytest.raises(InvalidScorerConfig, match=r"contains\.strings: entry 2 is empty"):
            build_scorer("contains", {"strings": ["refund", " "]})

    def test_form_values_are_converted(self):
        scorer = build_scorer(
            "contains", {"strings": "refund\n\nsorry\n", "case_sensitive": "yes"}, threshold=""
        )
        assert scorer.params["strings"] == ("refund", "sorry")
        assert scorer.params["case_sensitive"] is True
        assert scorer.threshold is None

    def test_a_scorer_without_threshold_informs_but_does_not_decide(self):
        result = build_scorer("exact_match", threshold=None).score("Paris", case("Paris"))
        assert result.value == 1.0
        assert result.passed is None
        assert not result.gates


class TestExactAndNormalisedMatch:
    def test_exact_match_ignores_only_surrounding_whitespace_by_default(self):
        scorer = build_scorer("exact_match")
        assert scorer.score("Paris\n", case("Paris")).passed is True
        failed = scorer.score("paris", case("Paris"))
        assert failed.passed is False
        assert failed.value == 0.0
        assert "'paris' differs from the expected 'Paris'" in failed.rationale

    def test_exact_match_can_ignore_case(self):
        assert build_scorer("exact_match", {"case_sensitive": False}).score("PARIS", case("paris")).passed

    def test_a_case_without_expected_output_is_an_error_not_a_fail(self):
        result = build_scorer("exact_match").score("Paris", case(""))
        assert result.status == ScoreStatus.ERROR
        assert (result.value, result.passed) == (None, None)
        assert "no expected output" in result.rationale

    def test_normalised_match_ignores_case_punctuation_whitespace_and_unicode_width(self):
        scorer = build_scorer("normalised_match")
        assert scorer.score("  The ANSWER:\u00a0 ＰＡＲＩＳ!! ", case("the answer paris")).passed is True
        assert scorer.score("Lyon", case("Paris")).passed is False

    def test_normalisation_options(self):
        assert normalise("Hello,  World!") == "hello world"
        assert normalise("ﬁne") == "fine"  # NFKC unfolds the ligature
        assert normalise("The cat", articles=True) == "cat"
        assert normalise("A  B", whitespace=False, case=False) == "A  B"
        assert (
            build_scorer("normalised_match", {"ignore_case": False}).score("paris", case("Paris")).passed
            is False
        )


class TestContains:
    def test_contains_all_lists_what_is_missing(self):
        result = build_scorer("contains", {"strings": ["refund", "sorry"]}).score("We are SORRY.")
        assert result.passed is False
        assert result.rationale == "does not contain all of the texts: found 'sorry'; missing 'refund'"

    def test_contains_any_needs_one(self):
        assert (
            build_scorer("contains", {"strings": ["refund", "sorry"], "mode": "any"}).score("Sorry!").passed
        )

    def test_case_sensitivity_is_optional(self):
        assert (
            build_scorer("contains", {"strings": ["Refund"], "case_sensitive": True}).score("refund").passed
            is False
        )

    def test_not_contains_fails_on_any_forbidden_text_by_default(self):
        scorer = build_scorer("not_contains", {"strings": ["as an AI", "I cannot"]})
        failed = scorer.score("As an AI language model, I")
        assert failed.passed is False
        assert "forbidden text: found 'as an AI'" in failed.rationale
        assert scorer.score("Here is your summary.").passed is True

    def test_not_contains_all_fails_only_when_every_text_appears(self):
        scorer = build_scorer("not_contains", {"strings": ["foo", "bar"], "mode": "all"})
        assert scorer.score("foo only").passed is True
        assert scorer.score("foo and bar").passed is False


class TestRegex:
    def test_search_and_fullmatch(self):
        assert build_scorer("regex", {"pattern": r"\d{3}-\d{4}"}).score("call 555-1234 now").passed
        full = build_scorer("regex", {"pattern": r"\d{3}-\d{4}", "mode": "fullmatch"})
        assert full.score("call 555-1234 now").passed is False
        assert full.score(" 555-1234\n").passed is True

    def test_flags_and_negation(self):
        assert build_scorer("regex", {"pattern": "^yes$", "ignore_case": True}).score("YES").passed
        assert build_scorer("regex", {"pattern": "^b$", "multiline": True}).score("a\nb\nc").passed
        negated = build_scorer("regex", {"pattern": r"https?://", "negate": True})
        assert negated.score("no links here").passed is True
        assert "negated" in negated.score("see http://x").rationale

    def test_an_invalid_pattern_is_refused_with_the_reason_and_position(self):
        with pytest.raises(InvalidScorerConfig) as exc:
            build_scorer("regex", {"pattern": "[a-"})
        assert (
            exc.value.errors["pattern"]
            == "is not a valid regular expression: unterminated character set at position 3"
        )

    def test_an_overlong_pattern_is_refused(self):
        with pytest.raises(InvalidScorerConfig, match="at most 1,000 are allowed"):
            build_scorer("regex", {"pattern": "a" * 1001})

    def test_a_catastrophic_pattern_times_out_as_an_error(self):
        scorer = build_scorer("regex", {"pattern": r"^(a|aa)+$", "timeout_s": 0.05})
        result = scorer.score("a" * 40 + "b")
        assert result.status == ScoreStatus.ERROR
        assert "took longer than 0.05 s" in result.rationale

    def test_outputs_over_the_length_cap_are_not_matched(self):
        result = build_scorer("regex", {"pattern": "x", "max_input_chars": 10}).score("y" * 11)
        assert result.status == ScoreStatus.ERROR
        assert "output is 11 characters; the regular expression runs on at most 10" in result.rationale


class TestJSON:
    def test_valid_json_accepts_a_code_fence(self):
        scorer = build_scorer("json_valid")
        assert scorer.score('```json\n{"topic": "billing"}\n```').passed is True
        assert scorer.score('{"topic": "billing"}').rationale == "valid JSON (object)"

    def test_invalid_json_fails_with_the_parser_position(self):
        result = build_scorer("json_valid").score('{"topic": billing}')
        assert result.passed is False
        assert result.status == ScoreStatus.SCORED
        assert "not valid JSON: Expecting value at line 1 column 11" in result.rationale

    def test_surrounding_text_is_refused_unless_allowed(self):
        reply = 'Sure! Here it is: {"topic": "billing"} Hope it helps.'
        assert build_scorer("json_valid").score(reply).passed is False
        assert build_scorer("json_valid", {"allow_surrounding_text": True}).score(reply).passed is True

    def test_a_required_top_level_type(self):
        scorer = build_scorer("json_valid", {"require_type": "object"})
        result = scorer.score("[1, 2]")
        assert result.passed is False
        assert result.rationale == "valid JSON, but an array where an object is required"

    SCHEMA = {
        "type": "object",
        "required": ["topic", "priority"],
        "properties": {"topic": {"type": "string"}, "priority": {"enum": ["low", "high"]}},
    }

    def test_json_schema_passes_conforming_output(self):
        scorer = build_scorer("json_schema", {"schema": self.SCHEMA})
        assert scorer.score('{"topic": "billing", "priority": "low"}').passed is True

    def test_json_schema_names_where_the_output_breaks_it(self):
        scorer = build_scorer("json_schema", {"schema": json.dumps(self.SCHEMA)})
        result = scorer.score('{"topic": 3, "priority": "urgent"}')
        assert result.passed is False
        assert "at $.priority: 'urgent' is not one of ['low', 'high']" in result.rationale
        assert "at $.topic: 3 is not of type 'string'" in result.rationale
        missing = scorer.score('{"topic": "billing"}')
        assert "at $: 'priority' is a required property" in missing.rationale

    def test_json_schema_fails_non_json_output(self):
        result = build_scorer("json_schema", {"schema": self.SCHEMA}).score("billing, low")
        assert result.passed is False
        assert "not valid JSON" in result.rationale

    def test_an_invalid_schema_is_refused_with_where_and_why(self):
        with pytest.raises(
            InvalidScorerConfig, match=r"json_schema\.schema: is not a valid JSON Schema \(type\)"
        ):
            build_scorer("json_schema", {"schema": {"type": "objekt"}})
        with pytest.raises(InvalidScorerConfig, match=r"schema: is not valid JSON: Expecting"):
            build_scorer("json_schema", {"schema": "{type: object}"})
        with pytest.raises(InvalidScorerConfig, match="must be a JSON Schema object, got an array"):
            build_scorer("json_schema", {"schema": [1]})


class TestLabelMatch:
    LABELS = {
        "labels": ["billing", "technical", "account access"],
        "synonyms": {"billing": ["invoice", "refund"]},
    }

    def scorer(self, **params):
        return build_scorer("label_match", {**self.LABELS, **params})

    def test_the_whole_output_as_a_label_is_taken_case_insensitively(self):
        result = self.scorer().score(" Billing. ", case(label="billing"))
        assert result.passed is True
        assert "the whole output" in result.rationale

    def test_a_label_in_free_text_is_found_as_a_whole_word(self):
        scorer = self.scorer()
        assert scorer.score("The topic is TECHNICAL.", case(label="technical")).passed is True
        result = scorer.score("Nontechnical rebilling question", case(label="billing"))
        assert result.passed is False
        assert result.rationale.startswith(
            "no label found: none of billing, technical, account access appears"
        )

    def test_synonyms_map_to_their_label(self):
        result = self.scorer().score("They want a refund.", case(label="billing"))
        assert result.passed is True
        assert "found 'billing' via 'refund'" in result.rationale

    def test_multi_word_labels_match_across_spacing(self):
        assert self.scorer().score("Category:  account\naccess", case(label="Account Access")).passed is True

    def test_the_first_or_last_mention_decides(self):
        text = "Not technical; this is billing."
        assert self.scorer(rule="first").extract(text).label == "technical"
        assert self.scorer(rule="last").extract(text).label == "billing"
        result = self.scorer(rule="first").score(text, case(label="billing"))
        assert result.passed is False
        assert result.rationale == "found 'technical' (the first mention); expected 'billing'"

    def test_the_only_rule_refuses_answers_naming_two_labels(self):
        scorer = self.scorer(rule="only")
        result = scorer.score("billing or technical", case(label="billing"))
        assert result.passed is False
        assert "names 2 different labels (billing, technical)" in result.rationale
        assert scorer.score("billing, an invoice issue", case(label="billing")).passed is True

    def test_by_default_an_output_listing_every_label_is_ambiguous_never_a_pass(self):
        scorer = build_scorer("label_match", {"labels": ["billing", "technical", "account", "shipping"]})
        assert scorer.params["rule"] == "only" and scorer.version == "2"
        result = scorer.score("Billing, technical, account, shipping", case(label="billing"))
        assert (result.status, result.passed) == (ScoreStatus.SCORED, False)
        assert result.rationale.startswith("ambiguous: the output names 4 different labels")
        # The team may choose to leave such outputs undecided instead of failing them.
        unparsed = build_scorer(
            "label_match", {"labels": ["billing", "technical"], "ambiguous": "unparsed"}
        ).score("billing, technical", case(label="billing"))
        assert (unparsed.status, unparsed.passed) == (ScoreStatus.UNPARSED, None)
        assert unparsed.rationale.startswith("ambiguous: ")
        # "first" stays available as an explicit choice.
        assert self.scorer(rule="first").score("billing, technical", case(label="billing")).passed is True

    def test_no_label_is_a_fail_with_rationale_not_an_error(self):
        result = self.scorer().score("I am not sure.", case(label="billing"))
        assert (result.status, result.passed, result.value) == (ScoreStatus.SCORED, False, 0.0)
        assert "expected 'billing'" in result.rationale

    def test_an_expected_label_outside_the_set_is_an_error(self):
        result = self.scorer().score("billing", case(label="shipping"))
        assert result.status == ScoreStatus.ERROR
        assert "'shipping' is not one of the labels" in result.rationale

    def test_a_missing_expected_label_is_an_error(self):
        assert self.scorer().score("billing", case()).status == ScoreStatus.ERROR

    def test_label_set_mistakes_are_refused(self):
        with pytest.raises(InvalidScorerConfig, match="'Billing' repeats 'billing'"):
            build_scorer("label_match", {"labels": ["billing", "Billing"]})
        with pytest.raises(InvalidScorerConfig, match="synonyms: 'shipping' is not one of the labels"):
            build_scorer("label_match", {"labels": ["billing"], "synonyms": {"shipping": ["parcel"]}})
        with pytest.raises(
            InvalidScorerConfig, match="'technical' would mean both 'technical' and 'billing'"
        ):
            build_scorer(
                "label_match", {"labels": ["billing", "technical"], "synonyms": {"billing": ["technical"]}}
            )


class TestLimits:
    def test_length_in_words_and_chars(self):
        words = build_scorer("length_limit", {"unit": "words", "min": 2, "max": 3})
        assert words.score("one two three").rationale == "3 words, within ≥ 2 and ≤ 3"
        assert words.score("one").rationale == "1 word, fewer than the minimum 2"
        assert words.score("one two three four").passed is False
        chars = build_scorer("length_limit", {"unit": "chars", "max": 5})
        assert chars.score(" abcde ").passed is True
        assert chars.score("abcdef").passed is False

    def test_length_in_tokens_uses_the_generation_count(self):
        scorer = build_scorer("length_limit", {"unit": "tokens", "max": 100})
        assert scorer.score("x", meta=GenerationMeta(tokens_out=120)).passed is False
        assert scorer.score("x").status == ScoreStatus.ERROR

    def test_latency_and_cost_limits(self):
        latency = build_scorer("latency_limit", {"max_s": 2})
        assert latency.score("x", meta=GenerationMeta(latency_s=1.5)).passed is True
        slow = latency.score("x", meta=GenerationMeta(latency_s=3.25))
        assert (slow.passed, slow.rationale) == (False, "took 3.25 s inside its batch, over the 2 s limit")
        cost = build_scorer("cost_limit", {"max_cost": 0.01})
        assert cost.score("x", meta=GenerationMeta(cost=0.002)).passed is True
        assert cost.score("x", meta=GenerationMeta(cost=0.02)).passed is False

    def test_a_missing_measurement_is_an_error_never_a_pass(self):
        result = build_scorer("latency_limit", {"max_s": 2}).score("x")
        assert (result.status, result.passed) == (ScoreStatus.ERROR, None)
        assert result.rationale == "the generation has no recorded latency"

    def test_meta_comes_from_an_engine_result(self):
        generated = GenerationResult(
            key="k", text="x", finish_reason=FinishReason.STOP, latency_s=0.4, cost=0.1
        )
        meta = GenerationMeta.from_result(generated)
        assert (meta.latency_s, meta.cost) == (0.4, 0.1)


def result(value, passed, status=ScoreStatus.SCORED, weight=1.0, threshold=1.0, scorer="s"):
    return ScoreResult(
        value=value,
        passed=passed,
        rationale="",
        status=status,
        scorer=scorer,
        weight=weight,
        threshold=threshold,
    )


class TestAggregation:
    def test_weighted_score_weighs_values(self):
        results = [result(1.0, True, weight=3), result(0.0, False, weight=1)]
        assert weighted_score(results) == pytest.approx(0.75)

    def test_unparsed_and_errored_results_are_left_out_not_counted_as_zero(self):
        results = [
            result(0.8, True, weight=1, scorer="rouge_l"),
            result(None, None, ScoreStatus.UNPARSED, weight=5, scorer="llm_judge"),
            result(None, None, ScoreStatus.ERROR, weight=5, scorer="latency_limit"),
        ]
        summary = aggregate(results)
        assert summary.weighted_score == pytest.approx(0.8)
        assert [r.scorer for r in summary.skipped] == ["llm_judge", "latency_limit"]
        assert summary.formula() == (
            "(1 × 0.800 (rouge_l)) / 1 = 0.800; left out (not scored): llm_judge (unparsed), latency_limit (error)"
        )

    def test_zero_weight_results_do_not_count_and_nothing_left_means_none(self):
        assert weighted_score([result(1.0, True, weight=0)]) is None
        assert weighted_score([]) is None

    def test_overall_pass_needs_every_gating_scorer_to_pass(self):
        assert overall_pass([result(1.0, True), result(0.9, True, threshold=0.5)]) is True
        assert overall_pass([result(1.0, True), result(0.0, False)]) is False

    def test_scorers_without_threshold_do_not_gate(self):
        assert overall_pass([result(1.0, True), result(0.1, None, threshold=None)]) is True
        assert overall_pass([result(0.1, None, threshold=None)]) is None

    def test_an_unparsed_gate_leaves_the_outcome_undecided_unless_another_failed(self):
        unparsed = result(None, None, ScoreStatus.UNPARSED, threshold=0.75)
        assert overall_pass([result(1.0, True), unparsed]) is None
        assert overall_pass([result(0.0, False), unparsed]) is False


class TestRobustness:
    def test_a_scorer_crash_on_one_output_is_recorded_as_an_error(self, monkeypatch):
        scorer = build_scorer("exact_match")

        def boom(*args):
            raise RuntimeError("library exploded")

        monkeypatch.setattr(scorer, "measure", boom)
        outcome = scorer.score("x", case("x"))
        assert outcome.status == ScoreStatus.ERROR
        assert outcome.rationale == "Exact match failed: RuntimeError: library exploded"

    def test_score_many_keeps_order(self):
        scorer = build_scorer("exact_match")
        outcomes = scorer.score_many([("a", case("a"), None), ("b", case("a"), None)])
        assert [o.passed for o in outcomes] == [True, False]
