"""The scoring stage: each generated output scored by the experiment's scorers (an LLM judge through the
registry's inference), stored as Score rows, then the output's combined pass/fail. Safe to run twice."""

from __future__ import annotations

from django.utils import timezone

from llmcore import services as llm_services
from llmcore.engine.params import InferenceParams
from llmcore.engine.types import GenerationRequest
from llmcore.models import ModelConfig

from .models import Experiment, Generation, Run, Score
from .signals import send_evidence_changed

# Rows per bulk write.
CHUNK = 500


def scoring_queue(experiment: Experiment) -> str:
    """'default', unless an LLM judge scores the outputs: then the judge model's queue."""
    judge = _judge_model(experiment)
    return judge.queue if judge is not None else "default"


def _judge_model(experiment: Experiment) -> ModelConfig | None:
    for config in experiment.scorers:
        if config.get("name") == "llm_judge":
            name = (config.get("params") or {}).get("judge_model", "")
            return ModelConfig.objects.for_team(experiment.team).filter(name=name, is_active=True).first()
    return None


def score_generations(run_id: int, generation_ids: list[int]) -> int:
    """Scores the given outputs with the experiment's scorers; outputs with an error are marked
    scored without a score (the error is kept apart). Safe to run twice. Returns how many were scored."""
    from llmcore.scoring import GenerationMeta, ScoringCase, aggregate, build_from_config

    run = Run.objects.select_related("experiment").filter(pk=run_id).first()
    if run is None:
        return 0
    experiment = run.experiment
    generations = list(
        Generation.objects.filter(run=run, pk__in=generation_ids, scored__isnull=True).select_related(
            "case_version"
        )
    )
    if not generations:
        return 0
    now = timezone.now()
    ok = [g for g in generations if g.ok]
    results_by_generation: dict[int, list] = {g.pk: [] for g in ok}
    for position, config in enumerate(experiment.scorers):
        scorer = build_from_config(config)
        cases = [
            ScoringCase(
                expected_output=g.case_version.expected_output,
                expected_label=g.case_version.expected_label,
                variables=g.case_version.inputs,
            )
            for g in ok
        ]
        metas = [
            GenerationMeta(
                latency_s=g.latency_s, tokens_in=g.tokens_in, tokens_out=g.tokens_out, cost=float(g.cost)
            )
            for g in ok
        ]
        if config.get("name") == "llm_judge":
            results = _judge(scorer, experiment, [g.text for g in ok], cases)
        else:
            results = scorer.score_many(list(zip([g.text for g in ok], cases, metas, strict=True)))
        for generation, result in zip(ok, results, strict=True):
            results_by_generation[generation.pk].append((position, result))
    scores = [
        Score(
            generation_id=pk,
            position=position,
            scorer=result.scorer,
            scorer_version=result.version,
            value=result.value,
            passed=result.passed,
            status=str(result.status),
            rationale=result.rationale[:4000],
            weight=result.weight,
            threshold=result.threshold,
        )
        for pk, pairs in results_by_generation.items()
        for position, result in pairs
    ]
    Score.objects.bulk_create(scores, ignore_conflicts=True, batch_size=CHUNK)
    for generation in generations:
        pairs = results_by_generation.get(generation.pk)
        if pairs:
            combined = aggregate([result for _, result in pairs])
            generation.weighted_score, generation.passed = combined.weighted_score, combined.passed
        generation.scored = now
    Generation.objects.bulk_update(generations, ["weighted_score", "passed", "scored"], batch_size=CHUNK)
    send_evidence_changed(experiment.pk)
    return len(ok)


def _judge(scorer, experiment: Experiment, outputs: list[str], cases: list) -> list:
    from llmcore.scoring import ScoreStatus

    judge = _judge_model(experiment)
    if judge is None:
        name = scorer.params.get("judge_model") or "(none chosen)"
        message = f"the judge model {name} is not available to this team"
        return [scorer.result(None, message, ScoreStatus.ERROR) for _ in outputs]
    requests = [
        GenerationRequest.from_prompt(
            scorer.build_prompt(output, case),
            InferenceParams(max_new_tokens=200),
            key=str(i),
            system=scorer.system_prompt,
        )
        for i, (output, case) in enumerate(zip(outputs, cases, strict=True))
    ]
    replies = llm_services.run_inference(
        judge.pk, requests, team_id=experiment.team_id, user_id=experiment.started_by_id, purpose="judge"
    )
    return [
        scorer.score_reply(reply.text)
        if reply.ok
        else scorer.result(None, f"the judge model failed: {reply.error}", ScoreStatus.ERROR)
        for reply in replies
    ]
