"""Writes that span models or call a model: assessments computed from a run, probes and red-team runs
created as experiments (so they get the engine's batches, progress, cancel and resume), and their
results stored as versioned JSON documents."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from experiments.importing import CaseData
from experiments.models import FINISHED as FINISHED_RUN
from experiments.models import Dataset, Experiment, Generation, PromptVersion, Run, Score
from experiments.models import Status as ExperimentStatus
from experiments.rendering import PromptContent
from experiments.services import datasets as dataset_services
from experiments.services import grid
from experiments.services import prompts as prompt_services
from llmcore.engine.params import InferenceParams
from llmcore.scoring import build_from_config, build_scorer

from . import counterfactual, groupfair, redteam, stereotype
from .models import (
    RESULT_SCHEMA,
    CounterfactualProbe,
    FairnessAssessment,
    PairScore,
    PairSuite,
    RedTeamOverride,
    RedTeamRun,
    Status,
    StereotypeProbe,
)

LIBRARIES = (
    "fairlearn",
    "scikit-learn",
    "pandas",
    "numpy",
    "torch",
    "transformers",
    "phonenumbers",
    "python-stdnum",
)


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def envelope(
    kind: str, *, inputs: dict, parameters: dict, figures: dict, now: datetime | None = None
) -> dict:
    """The versioned JSON every result is stored and exported as."""
    return {
        "schema": RESULT_SCHEMA,
        "kind": kind,
        "computed": (now or timezone.now()).isoformat(),
        "inputs": inputs | {"sha256": sha256_json(inputs)},
        "parameters": parameters,
        "libraries": library_versions(),
        "figures": figures,
        "verdict": figures.get("verdict"),
    }


# Group fairness of a run --------------------------------------------------------------------------


def label_extractor(run: Run, labels: list[str]):
    """The experiment's label-extraction scorer when it has one, else one over the given labels."""
    for config in run.experiment.scorers:
        if config.get("name") == "label_match":
            return build_from_config(config)
    return build_scorer("label_match", {"labels": labels}, threshold=None)


def run_records(run: Run, labels: list[str] | None = None) -> tuple[list[groupfair.Record], list[str], int]:
    """Each output of the run as (expected label, extracted label or None, attributes); outputs that
    failed are counted apart. One query."""
    rows = list(
        Generation.objects.filter(run=run).values_list(
            "text", "error", "case_version__expected_label", "case_version__sensitive_attributes"
        )
    )
    known = labels or sorted({expected for _, _, expected, _ in rows if expected})
    if len(known) < 2:
        raise groupfair.AssessmentError(
            "The run's cases need expected labels (at least two different ones) to assess fairness."
        )
    extractor = label_extractor(run, known)
    records, failed = [], 0
    for text, error, expected, attributes in rows:
        if error:
            failed += 1
            continue
        records.append(groupfair.Record(expected, extractor.extract(text).label, attributes or {}))
    return records, list(extractor.params["labels"]), failed


def sensitive_attribute_names(run: Run) -> list[str]:
    names: set[str] = set()
    for attributes in (
        Generation.objects.filter(run=run)
        .values_list("case_version__sensitive_attributes", flat=True)
        .distinct()
    ):
        names.update((attributes or {}).keys())
    return sorted(names)


def options_to_dict(options: groupfair.Options) -> dict:
    return {
        "attributes": list(options.attributes),
        "labels": list(options.labels),
        "positive_label": options.positive_label,
        "min_group_size": options.min_group_size,
        "n_boot": options.n_boot,
        "seed": options.seed,
        "rule": options.rule.to_dict(),
    }


def options_from_dict(data: dict) -> groupfair.Options:
    rule = data.get("rule") or {}
    return groupfair.Options(
        attributes=list(data["attributes"]),
        labels=list(data.get("labels") or ()),
        positive_label=data.get("positive_label", ""),
        min_group_size=int(data.get("min_group_size", 30)),
        n_boot=int(data.get("n_boot", 200)),
        seed=int(data.get("seed", 0)),
        rule=groupfair.Rule(rule.get("metric", "selection_rate_ratio"), float(rule.get("threshold", 0.8))),
    )


def default_assessment_name(run: Run, options: groupfair.Options) -> str:
    return f"Fairness of {run.label} by {' × '.join(options.attributes)}"


def request_assessment(
    team, user, run: Run, options: groupfair.Options, name: str = ""
) -> FairnessAssessment:
    """Assesses a finished run now; a run still going gets a queued assessment, computed when it finishes
    (experiments' evidence_changed signal). AssessmentError (nothing stored) for a finished run that cannot
    be assessed."""
    if run.status in FINISHED_RUN:
        return assess_run(team, user, run, options, name)
    if run.status not in (ExperimentStatus.QUEUED, ExperimentStatus.RUNNING):
        raise groupfair.AssessmentError("This run has not been started: start its experiment first.")
    return FairnessAssessment.objects.create(
        team=team,
        name=name or default_assessment_name(run, options),
        run=run,
        status=Status.QUEUED,
        options=options_to_dict(options),
        message="Waiting for the run to finish; the assessment is computed then.",
        created_by=user,
    )


def compute_pending_assessment(assessment: FairnessAssessment) -> FairnessAssessment:
    """The queued assessment's figures, once its run has finished; failed with the reason if unusable."""
    run = assessment.run
    if assessment.status != Status.QUEUED or run is None or run.status not in FINISHED_RUN:
        return assessment
    try:
        if run.status != ExperimentStatus.DONE:
            raise groupfair.AssessmentError(
                f"The run ended without finishing ({run.get_status_display().lower()})."
            )
        figures_doc = _assessment_document(run, options_from_dict(assessment.options))
    except (groupfair.AssessmentError, ValueError) as exc:
        assessment.status, assessment.message = Status.FAILED, str(exc)[:2000]
    else:
        assessment.status, assessment.message, assessment.result = Status.DONE, "", figures_doc
    assessment.save(update_fields=["status", "message", "result", "updated"])
    return assessment


def assess_run(team, user, run: Run, options: groupfair.Options, name: str = "") -> FairnessAssessment:
    """Computes and stores an assessment; AssessmentError (nothing stored) when it cannot."""
    if run.status != ExperimentStatus.DONE:
        raise groupfair.AssessmentError("Only a run that finished can be assessed.")
    document = _assessment_document(run, options)
    return FairnessAssessment.objects.create(
        team=team,
        name=name or default_assessment_name(run, options),
        run=run,
        status=Status.DONE,
        options=options_to_dict(options),
        result=document,
        created_by=user,
    )


def _assessment_document(run: Run, options: groupfair.Options) -> dict:
    records, labels, failed = run_records(run, list(options.labels) or None)
    options.labels = labels
    figures = groupfair.assess(records, options)
    figures["failed_outputs"] = failed
    inputs = {
        "experiment": str(run.experiment.code),
        "run": str(run.code),
        "run_label": run.label,
        "model": run.model_name,
        "model_identity": run.model_identity,
        "outputs": len(records) + failed,
        "outputs_sha256": sha256_json([[r.expected, r.predicted, r.attributes] for r in records]),
    }
    return envelope(
        "fairness_assessment", inputs=inputs, parameters=options_to_dict(options), figures=figures
    )


# Counterfactual probe -----------------------------------------------------------------------------


def start_counterfactual(
    team, user, role, *, name: str, template: str, groups: dict[str, list[str]], model, repeats: int,
    seed: int, temperature: float, max_new_tokens: int, decision_labels: list[str], threshold: float,
) -> CounterfactualProbe:  # fmt: skip
    """Creates the probe's dataset (one case per group), prompt and experiment, and starts it.
    Raises ProbeError / ExperimentError / BudgetExceeded / ModelNotAllowed before anything runs."""
    instruction = counterfactual.check_template(template)
    if not 1 <= repeats <= 10:
        raise counterfactual.ProbeError("Repeats must be between 1 and 10.")
    with transaction.atomic():
        dataset = Dataset.objects.create(
            team=team, name=f"Counterfactual probe: {name}"[:200], created_by=user,
            description="Created by a counterfactual probe: one case per group.",
        )  # fmt: skip
        cases = [
            CaseData(key=f"{category}:{i:02d}", inputs={"group": group}, sensitive_attributes={category: group},
                     tags=["counterfactual", category])
            for category, items in groups.items()
            for i, group in enumerate(items)
        ]  # fmt: skip
        dataset_services.import_cases(dataset, user, cases)
        prompt = prompt_services.create_prompt_template(
            team,
            user,
            f"Counterfactual probe: {name}"[:200],
            PromptContent(instruction=instruction),
            dataset=dataset,
        )
        scorers = []
        if decision_labels:
            scorers.append(build_scorer("label_match", {"labels": decision_labels}, threshold=None).config())
        params = InferenceParams(temperature=temperature, seed=seed, max_new_tokens=max_new_tokens)
        experiment = grid.save_experiment(
            team,
            user,
            grid.GridSpec(
                name=f"Counterfactual probe: {name}"[:200],
                dataset=dataset,
                prompt_versions=[prompt.versions.get()],
                model_configs=[model],
                param_sets=[grid.ParamSet(f"t={temperature:g} seed={seed}", params)],
                repeats=repeats,
                scorers=scorers,
                reuse_cached=False,
            ),
        )
        probe = CounterfactualProbe.objects.create(
            team=team, name=name, template=template, groups=groups, decision_labels=decision_labels,
            repeats=repeats, seed=seed, temperature=temperature, max_new_tokens=max_new_tokens,
            threshold=threshold, model=model, experiment=experiment, created_by=user, status=Status.RUNNING,
        )  # fmt: skip
        grid.start_experiment(experiment, user, role)
    return probe


def counterfactual_outputs(probe: CounterfactualProbe) -> list[counterfactual.Output]:
    """The probe's outputs with their group, label and scores: two queries."""
    generations = list(
        Generation.objects.filter(run__experiment_id=probe.experiment_id).values_list(
            "pk", "repeat", "text", "error", "case_version__sensitive_attributes"
        )
    )
    scores: dict[int, dict] = {}
    labels: dict[int, str | None] = {}
    extractor = (
        build_scorer("label_match", {"labels": probe.decision_labels}, threshold=None)
        if probe.decision_labels
        else None
    )
    for generation_id, scorer, value in Score.objects.filter(
        generation__run__experiment_id=probe.experiment_id
    ).values_list("generation_id", "scorer", "value"):
        if scorer != "label_match":
            scores.setdefault(generation_id, {})[scorer] = value
    outputs = []
    for pk, repeat, text, error, attributes in generations:
        ((category, group),) = (attributes or {"?": "?"}).items()
        if extractor is not None and not error:
            labels[pk] = extractor.extract(text).label
        outputs.append(
            counterfactual.Output(
                category, group, repeat, text, error, labels.get(pk), scores.get(pk, {}), str(pk)
            )
        )
    return outputs


def analyse_counterfactual(probe: CounterfactualProbe, embed=None) -> CounterfactualProbe:
    """Computes the result once the probe's experiment has finished (embeddings: MiniLM by default)."""
    experiment = Experiment.objects.filter(pk=probe.experiment_id).first()
    if experiment is None:
        CounterfactualProbe.objects.filter(pk=probe.pk).update(
            status=Status.FAILED, message="The experiment was deleted."
        )
        return probe
    if not experiment.is_finished:
        return probe
    if embed is None:
        from llmcore.scoring.embeddings import embed as minilm

        embed = minilm
    outputs = counterfactual_outputs(probe)
    figures = counterfactual.analyse(outputs, decision_labels=probe.decision_labels, threshold=probe.threshold,
                                     embed=embed, seed=probe.seed)  # fmt: skip
    run = experiment.runs.first()
    inputs = {
        "template": probe.template,
        "groups": probe.groups,
        "experiment": str(experiment.code),
        "model": run.model_name if run else "",
        "model_identity": run.model_identity if run else "",
        "outputs_sha256": sha256_json([[o.category, o.group, o.repeat, o.text, o.error] for o in outputs]),
    }
    parameters = {
        "repeats": probe.repeats, "seed": probe.seed, "temperature": probe.temperature,
        "max_new_tokens": probe.max_new_tokens, "decision_labels": probe.decision_labels,
        "threshold": probe.threshold, "embedder": "all-MiniLM-L6-v2",
    }  # fmt: skip
    status = {ExperimentStatus.DONE: Status.DONE, ExperimentStatus.CANCELLED: Status.CANCELLED}.get(
        experiment.status, Status.FAILED
    )
    probe.result = envelope("counterfactual_probe", inputs=inputs, parameters=parameters, figures=figures)
    probe.status, probe.message = status, experiment.message
    probe.save(update_fields=["result", "status", "message", "updated"])
    return probe


# Stereotype probe ---------------------------------------------------------------------------------


def suite_pairs(probe: StereotypeProbe) -> list[stereotype.Pair]:
    if probe.suite_id is None:
        return stereotype.builtin_pairs()
    return [stereotype.Pair.from_dict(p) for p in probe.suite.pairs]


def save_suite(team, user, name: str, pairs: list[stereotype.Pair]) -> PairSuite:
    return PairSuite.objects.create(
        team=team,
        name=name,
        pairs=[p.to_dict() for p in pairs],
        sha256=stereotype.pairs_hash(pairs),
        created_by=user,
    )


def start_stereotype(team, user, role, *, model, suite: PairSuite | None, name: str = "") -> StereotypeProbe:
    from llmcore import services as llm_services

    if not model.is_local:
        raise stereotype.PairsInvalid(
            [f"{model.name} is a hosted model; the stereotype probe needs a local model."]
        )
    llm_services.check_budget(team)
    llm_services.check_model_allowed(model, team, role)
    total = len(suite.pairs) if suite is not None else len(stereotype.builtin_pairs())
    with transaction.atomic():
        probe = StereotypeProbe.objects.create(
            team=team, name=name or f"Stereotype preference of {model.name}", suite=suite, model=model,
            model_name=model.name, total=total, created_by=user,
        )  # fmt: skip
        transaction.on_commit(lambda: enqueue_stereotype_chunk(probe))
    return probe


def enqueue_stereotype_chunk(probe: StereotypeProbe) -> None:
    """The next chunk goes to the model's queue, like an experiment's batch: other work (a user's
    experiment, scoring) is taken between chunks instead of waiting for the whole probe."""
    from llmcore.tasks import queue_for

    from .tasks import run_stereotype_probe

    queue = queue_for(probe.model) if probe.model is not None else "default"
    run_stereotype_probe.apply_async((probe.pk,), queue=queue)


def resume_stereotype(probe: StereotypeProbe) -> bool:
    with transaction.atomic():
        count = StereotypeProbe.objects.filter(
            pk=probe.pk, status__in=[Status.CANCELLED, Status.FAILED]
        ).update(status=Status.QUEUED, message="", finished=None)
        if count:
            transaction.on_commit(lambda: enqueue_stereotype_chunk(probe))
    return bool(count)


def cancel_stereotype(probe: StereotypeProbe, user) -> bool:
    by = getattr(user, "username", "") or "someone"
    return bool(
        StereotypeProbe.objects.filter(pk=probe.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.CANCELLED, finished=timezone.now(), message=f"Cancelled by {by}; resume to finish."
        )
    )


def stereotype_result(probe: StereotypeProbe, pairs: list[stereotype.Pair]) -> dict:
    results = [
        stereotype.PairResult(i, a, b) for i, a, b in probe.scores.values_list("index", "ll_more", "ll_less")
    ]
    figures = stereotype.summarise(pairs, results)
    figures["verdict"] = None  # an indicator, not a pass/fail (see the caveat)
    figures["caveat"] = stereotype.CROWS_CAVEAT
    inputs = {
        "suite": probe.suite_name,
        "pairs": len(pairs),
        "pairs_sha256": stereotype.pairs_hash(pairs),
        "model": probe.model_name,
        "model_identity": probe.model.to_spec().cache_key.__repr__() if probe.model else "",
    }
    parameters = {"score": "sum of token log-likelihoods, first token conditioned on BOS", "batch_size": 64}
    return envelope("stereotype_probe", inputs=inputs, parameters=parameters, figures=figures)


STEREOTYPE_CHUNK = 64


def run_stereotype_chunks(
    probe_id: int, chunk: int = 256, logliks=None, max_chunks: int | None = None
) -> str:
    """The job: scores pairs not yet scored, chunk by chunk, stopping between chunks when cancelled.
    Safe to run twice (PairScore is unique per pair). Returns the final status, or "running" when it
    stopped after `max_chunks` chunks with pairs left (the caller queues the rest)."""
    claimed = StereotypeProbe.objects.filter(pk=probe_id, status__in=[Status.QUEUED, Status.RUNNING]).update(
        status=Status.RUNNING, started=Coalesce(F("started"), Now())
    )
    probe = StereotypeProbe.objects.select_related("suite", "model").filter(pk=probe_id).first()
    if not claimed or probe is None:
        return probe.status if probe else "missing"
    if probe.model is None:
        StereotypeProbe.objects.filter(pk=probe_id).update(
            status=Status.FAILED, finished=timezone.now(), message="The model was deleted from the registry."
        )
        return Status.FAILED
    pairs = suite_pairs(probe)
    if logliks is None:
        from llmcore.engine.loglik import sequence_logliks

        spec = probe.model.to_spec()

        def logliks(texts):
            return sequence_logliks(spec, texts)

    done = set(probe.scores.values_list("index", flat=True))
    todo = [i for i in range(len(pairs)) if i not in done]
    for number, at in enumerate(range(0, len(todo), chunk)):
        if max_chunks is not None and number >= max_chunks:
            return Status.RUNNING
        if StereotypeProbe.objects.filter(pk=probe_id, status=Status.RUNNING).count() == 0:
            return StereotypeProbe.objects.values_list("status", flat=True).get(pk=probe_id)
        indices = todo[at : at + chunk]
        values = logliks([pairs[i].more for i in indices] + [pairs[i].less for i in indices])
        n = len(indices)
        PairScore.objects.bulk_create(
            [
                PairScore(probe_id=probe_id, index=i, ll_more=values[k].total, ll_less=values[n + k].total,
                          tokens_more=values[k].tokens, tokens_less=values[n + k].tokens)
                for k, i in enumerate(indices)
            ],
            ignore_conflicts=True,
        )  # fmt: skip
    probe.refresh_from_db()
    result = stereotype_result(probe, pairs)
    StereotypeProbe.objects.filter(pk=probe_id, status=Status.RUNNING).update(
        status=Status.DONE, finished=timezone.now(), result=result, message=""
    )
    return Status.DONE


# Red team -----------------------------------------------------------------------------------------


def derived_prompt(version: PromptVersion, canary: str) -> tuple[PromptContent, list[str]]:
    """The target prompt with the canary and the synthetic record added to its system prompt and every
    input slot filled by the attack ({{attack}}). Notes say what had to change."""
    from experiments.rendering import VARIABLE

    content = version.content()
    notes = []
    instruction = VARIABLE.sub("{{attack}}", content.instruction)
    if instruction == content.instruction:
        instruction = f"{content.instruction}\n\n{{{{attack}}}}"
        notes.append("The prompt has no input slot; each attack is appended to its instruction.")
    examples = content.examples
    technique = content.technique
    if any(isinstance(e.input, dict) for e in examples):
        examples, technique = (), "zero-shot"
        notes.append("Few-shot examples with named inputs are left out (their slots now hold the attack).")
    system = "\n\n".join(part for part in (content.system_prompt, redteam.secrets_block(canary)) if part)
    return (
        PromptContent(instruction=instruction, system_prompt=system, technique=technique, examples=examples,
                      output_format=VARIABLE.sub("{{attack}}", content.output_format)),
        notes,
    )  # fmt: skip


def start_redteam(team, user, role, *, name: str, version: PromptVersion, model, suites: list[str],
                  repeats: int = 1, seed: int = 7) -> RedTeamRun:  # fmt: skip
    attacks = redteam.attacks_for(suites)
    canary = redteam.new_canary()
    content, notes = derived_prompt(version, canary)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            team=team, name=f"Red team: {name}"[:200], created_by=user,
            description="Built-in attacks of the chosen red-team suites.",
        )  # fmt: skip
        dataset_services.import_cases(
            dataset,
            user,
            [
                CaseData(key=a.id, inputs={"attack": a.prompt_input}, tags=["redteam", a.suite])
                for a in attacks
            ],
        )
        prompt = prompt_services.create_prompt_template(
            team, user, f"Red team: {version.label}"[:200], content, dataset=dataset,
            description=f"{version.label} with a canary and a synthetic customer record, for red-team attacks.",
        )  # fmt: skip
        experiment = grid.save_experiment(
            team,
            user,
            grid.GridSpec(
                name=f"Red team: {name}"[:200],
                dataset=dataset,
                prompt_versions=[prompt.versions.get()],
                model_configs=[model],
                param_sets=[grid.ParamSet(f"seed={seed}", InferenceParams(seed=seed, max_new_tokens=160))],
                repeats=repeats,
                reuse_cached=False,
            ),
        )
        run = RedTeamRun.objects.create(
            team=team, name=name, prompt_version=version, model=model, suites=suites, canary=canary,
            experiment=experiment, created_by=user, status=Status.RUNNING, message=" ".join(notes),
        )  # fmt: skip
        grid.start_experiment(experiment, user, role)
    return run


def redteam_outputs(run: RedTeamRun) -> list[redteam.AttackOutput]:
    overrides = {o.generation_id: o for o in RedTeamOverride.objects.filter(redteam=run)}
    outputs = []
    for pk, key, repeat, text, error in Generation.objects.filter(
        run__experiment_id=run.experiment_id
    ).values_list("pk", "case_version__case__key", "repeat", "text", "error"):
        if key not in redteam.BY_ID:
            continue
        override = overrides.get(pk)
        outputs.append(
            redteam.AttackOutput(key, repeat, text, error, pk, override.success if override else None,
                                 override.note if override else "")
        )  # fmt: skip
    return sorted(outputs, key=lambda o: (o.attack_id, o.repeat))


def analyse_redteam(run: RedTeamRun) -> RedTeamRun:
    experiment = Experiment.objects.filter(pk=run.experiment_id).first()
    if experiment is None:
        RedTeamRun.objects.filter(pk=run.pk).update(
            status=Status.FAILED, message="The experiment was deleted."
        )
        return run
    if not experiment.is_finished:
        return run
    outputs = redteam_outputs(run)
    figures = redteam.analyse(outputs, run.canary)
    inputs = {
        "prompt_version": str(run.prompt_version.code) if run.prompt_version else "",
        "prompt_label": run.prompt_version.label if run.prompt_version else "",
        "model": run.model.name if run.model else "",
        "experiment": str(experiment.code),
        "attacks": [a.id for a in redteam.attacks_for(run.suites)],
        "outputs_sha256": sha256_json([[o.attack_id, o.repeat, o.text, o.error] for o in outputs]),
    }
    parameters = {"suites": run.suites, "detectors_version": redteam.RULES_VERSION, "overrides": sum(
        1 for o in outputs if o.override is not None)}  # fmt: skip
    run.result = envelope("redteam_run", inputs=inputs, parameters=parameters, figures=figures)
    run.status = {ExperimentStatus.DONE: Status.DONE, ExperimentStatus.CANCELLED: Status.CANCELLED}.get(
        experiment.status, Status.FAILED
    )
    run.save(update_fields=["result", "status", "updated"])
    return run


def overrule(run: RedTeamRun, generation_id: int, success: bool, note: str, user) -> RedTeamRun:
    if not Generation.objects.filter(pk=generation_id, run__experiment_id=run.experiment_id).exists():
        raise ValueError("That output does not belong to this red-team run.")
    RedTeamOverride.objects.update_or_create(
        redteam=run,
        generation_id=generation_id,
        defaults={"success": success, "note": note[:500], "by": user},
    )
    return analyse_redteam(run)
