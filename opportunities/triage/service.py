"""Running the exposure pre-screen for a team: embed every task (cached by text), measure the classifier
on the team's human labels under job-grouped cross-validation, train it on all of them, and predict every
task without a human label. A human label always wins: tasks labelled by a person are never predicted,
and their old predictions are removed.

Predictions are written to ExposurePrediction (confidence, probabilities, the most similar labelled
tasks) and to the task's `exposure_label` with `label_source = "predicted"`, which pages and exports
already show as a prediction. Task rows are updated in bulk, so the change log records people's label
changes, not the pre-screen's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Team

from ..models import ExposurePrediction, Job, LabelSource, Task, TriageRun
from . import classifier, evaluation, rubric

log = logging.getLogger(__name__)

EXPLANATION_NEIGHBOURS = 5  # similar labelled tasks kept with each prediction
RETRAIN_DELAY_S = 30  # after a person's label, wait for more before retraining
RUBRIC_MAX_TASKS = 200  # model calls per run when a model labels by the rubric
RUBRIC_CHUNK = 32  # requests per model call (progress moves after each)
State = TriageRun.State


@dataclass
class TeamTasks:
    ids: list[int]
    statements: list[str]
    jobs: list[int]
    labels: list[str]  # "" when no human label

    @property
    def human(self) -> list[int]:
        return [i for i, label in enumerate(self.labels) if label]


def team_tasks(team: Team) -> TeamTasks:
    rows = (
        Task.objects.for_team(team)
        .order_by("id")
        .values_list("id", "statement", "job_id", "exposure_label", "label_source")
    )
    out = TeamTasks([], [], [], [])
    for task_id, statement, job_id, label, source in rows:
        out.ids.append(task_id)
        out.statements.append(statement)
        out.jobs.append(job_id)
        out.labels.append(label if source == LabelSource.HUMAN and label in classifier.LABELS else "")
    return out


KEEP_MODEL = object()  # start(): the model of the team's last run


def start(team: Team, user=None, countdown: float = 0, model=KEEP_MODEL) -> tuple[TriageRun, bool]:
    """The team's queued or running triage, or a new one queued (and sent to a worker on commit, after
    `countdown` seconds)."""
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one start at a time per team
        active = TriageRun.objects.filter(team=team, status__in=(State.QUEUED, State.RUNNING)).first()
        if active is not None:
            return active, False
        if model is KEEP_MODEL:  # a retraining keeps the model the team chose last
            model = (
                TriageRun.objects.filter(team=team)
                .order_by("-created")
                .values_list("model", flat=True)
                .first()
            )
        run = TriageRun.objects.create(
            team=team, started_by=user, stage="Waiting for a worker", model_id=getattr(model, "pk", model)
        )
        from ..tasks import triage_team

        transaction.on_commit(
            lambda: triage_team.apply_async((run.pk,), queue="cpu", countdown=countdown or None)
        )
    return run, True


def labels_changed(team: Team) -> TriageRun | None:
    """A person changed exposure labels: retrain, debounced. A team that uses the pre-screen (it has run
    once) gets a run queued RETRAIN_DELAY_S from now, which takes every label given meanwhile; a queued
    run reads the labels when it starts, and a running one queues its successor when it finishes if the
    labels moved under it (see _human_fingerprint)."""
    if not TriageRun.objects.filter(team=team).exists():
        return None
    if TriageRun.objects.filter(team=team, status__in=(State.QUEUED, State.RUNNING)).exists():
        return None
    run, _ = start(team, countdown=RETRAIN_DELAY_S)
    return run


def human_labels_changed(team: Team, task_ids: list[int] | None = None) -> None:
    """Tasks a person just labelled (or unlabelled) lose their predictions; the pre-screen retrains."""
    if task_ids:
        ExposurePrediction.objects.filter(task_id__in=task_ids).delete()
    labels_changed(team)


def _human_fingerprint(team: Team) -> str:
    """A digest of every human label of the team (task ids and labels)."""
    digest = hashlib.sha256()
    rows = (
        Task.objects.for_team(team)
        .filter(label_source=LabelSource.HUMAN)
        .order_by("id")
        .values_list("id", "exposure_label")
    )
    for task_id, label in rows.iterator(chunk_size=5000):
        digest.update(f"{task_id}:{label};".encode())
    return digest.hexdigest()


def _progress(run: TriageRun, stage: str, done: int, total: int) -> None:
    run.stage, run.done, run.total = stage, done, total
    TriageRun.objects.filter(pk=run.pk).update(stage=stage, done=done, total=total)


def execute(run_id: int) -> TriageRun:
    run = TriageRun.objects.select_related("team").get(pk=run_id)
    if run.status not in (State.QUEUED, State.RUNNING):
        return run
    TriageRun.objects.filter(pk=run.pk).update(status=State.RUNNING)
    try:
        _execute(run)
    except Exception as error:
        log.exception("triage run %s failed", run_id)
        TriageRun.objects.filter(pk=run.pk).update(
            status=State.FAILED, message=f"{type(error).__name__}: {error}", finished=timezone.now()
        )
        raise
    run.refresh_from_db()
    return run


def _execute(run: TriageRun) -> None:
    from llmcore.scoring.embedding_cache import embed_cached

    fingerprint = _human_fingerprint(run.team)
    tasks = team_tasks(run.team)
    _progress(run, "Reading the tasks' embeddings", 0, len(tasks.ids))
    vectors, embedded = embed_cached(
        tasks.statements,
        on_progress=lambda done, total: _progress(run, "Embedding new task statements", done, total),
    )
    human = tasks.human
    labels = [tasks.labels[i] for i in human]
    run.embedded, run.method = embedded, classifier.METHOD
    quality = evaluation.evaluate(
        vectors[human],
        labels,
        [tasks.jobs[i] for i in human],
        on_step=lambda done, total: _progress(
            run, "Measuring it on your labels (grouped by job)", done, total
        ),
    )
    run.quality = quality.to_dict()
    enough = len(human) >= classifier.MIN_LABELS and len(set(labels)) >= 2
    unlabelled = [i for i, label in enumerate(tasks.labels) if not label]
    _progress(run, "Predicting", 0, len(unlabelled))
    predictions = []
    note = ""
    if not enough and unlabelled and run.model_id:
        predictions, note = _rubric_predictions(run, tasks, vectors, unlabelled)
    elif enough and unlabelled:
        model = classifier.ExposureClassifier().fit(vectors[human], labels)
        result = model.predict(vectors[unlabelled])
        for row, i in enumerate(unlabelled):
            near = [
                [tasks.ids[human[j]], labels[j], round(float(s), 3)]
                for j, s in zip(
                    result.neighbours[row][:EXPLANATION_NEIGHBOURS],
                    result.similarities[row][:EXPLANATION_NEIGHBOURS],
                    strict=True,
                )
            ]
            predictions.append(
                ExposurePrediction(
                    task_id=tasks.ids[i],
                    run=run,
                    label=result.labels[row],
                    confidence=round(float(result.confidence[row]), 4),
                    method=classifier.METHOD_CODE,
                    probabilities={
                        label: round(float(p), 4)
                        for label, p in zip(classifier.LABELS, result.probabilities[row], strict=True)
                    },
                    neighbours=near,
                )
            )
    with transaction.atomic():
        ExposurePrediction.objects.filter(task__job__team=run.team).delete()
        ExposurePrediction.objects.bulk_create(predictions, batch_size=2000)
        _write_task_labels(run.team, predictions)
        TriageRun.objects.filter(pk=run.pk).update(
            status=State.DONE,
            stage="Done",
            done=len(predictions),
            total=len(unlabelled),
            predicted=len(predictions),
            embedded=embedded,
            method=run.method,
            quality=run.quality,
            finished=timezone.now(),
            message=note if note or enough else (
                f"Predictions need at least {classifier.MIN_LABELS} tasks labelled by a person, with at "
                f"least two different labels; the team has {len(human)}. Label some on the Label next "
                "list, or choose a model to label them by the rubric meanwhile."
            ),
        )  # fmt: skip
    if _human_fingerprint(run.team) != fingerprint:
        # People labelled tasks while this run worked: learn those too.
        start(run.team, countdown=RETRAIN_DELAY_S)


def _rubric_predictions(
    run: TriageRun, tasks: TeamTasks, vectors, unlabelled: list[int]
) -> tuple[list[ExposurePrediction], str]:
    """Labels from the run's model by the rubric, each with the model's reason; the team's labelled
    tasks most similar to each task are its examples. At most RUBRIC_MAX_TASKS tasks per run (a model
    call each); returns the predictions and a note for the run's message."""
    from django.conf import settings

    from llmcore import services as llm
    from llmcore.engine.types import ModelUnavailable, TransientBackendError
    from llmcore.models import ModelConfig

    config = ModelConfig.objects.get(pk=run.model_id)
    try:
        llm.check_model_allowed(config, run.team, role=None)
        llm.check_budget(run.team)
    except (llm.ModelNotAllowed, llm.BudgetExceeded) as refused:
        return [], f"{config.name} could not label tasks: {refused}"
    limit = getattr(settings, "ASSAY_TRIAGE_RUBRIC_MAX_TASKS", RUBRIC_MAX_TASKS)
    chosen = unlabelled[:limit]
    human = tasks.human
    titles = dict(Job.objects.filter(team=run.team).values_list("id", "title"))
    predictions: list[ExposurePrediction] = []
    for start_at in range(0, len(chosen), RUBRIC_CHUNK):
        part = chosen[start_at : start_at + RUBRIC_CHUNK]
        requests, near_by_task = [], {}
        for i in part:
            near = []
            if human:
                similarity = vectors[human] @ vectors[i]
                near = [
                    (human[j], float(similarity[j]))
                    for j in similarity.argsort()[::-1][: rubric.MAX_EXAMPLES]
                ]
            near_by_task[i] = near
            examples = [rubric.Example(tasks.statements[j], tasks.labels[j]) for j, _ in near]
            requests.append(
                rubric.request_for(tasks.statements[i], titles.get(tasks.jobs[i], ""), examples, str(i))
            )
        try:
            results = llm.run_inference(config.pk, requests, team_id=run.team_id, purpose="triage")
        except (ModelUnavailable, TransientBackendError) as error:
            return predictions, f"{config.name} stopped after {len(predictions)} tasks: {error}"
        for i, result in zip(part, results, strict=True):
            answer = rubric.parse(result.text) if result.ok else None
            if answer is None or answer.label is None:
                continue
            predictions.append(
                ExposurePrediction(
                    task_id=tasks.ids[i],
                    run=run,
                    label=answer.label,
                    confidence=0.0,  # a model's word is not a calibrated probability
                    method=rubric.METHOD_CODE,
                    probabilities={},
                    neighbours=[[tasks.ids[j], tasks.labels[j], round(s, 3)] for j, s in near_by_task[i]],
                    rationale=answer.rationale,
                )
            )
        _progress(run, f"Labelling by the rubric with {config.name}", start_at + len(part), len(chosen))
    skipped = len(chosen) - len(predictions)
    note = (
        f"Too few human labels for the classifier: {config.name} labelled {len(predictions)} task"
        f"{'s' if len(predictions) != 1 else ''} by the rubric"
        + (f" ({skipped} answers had no label)" if skipped else "")
        + (
            f"; the first {limit} of {len(unlabelled)} unlabelled tasks only"
            if len(unlabelled) > limit
            else ""
        )
        + ". Its labels are not measured on your labels; label tasks to train the classifier."
    )
    return predictions, note


def _write_task_labels(team: Team, predictions: list[ExposurePrediction]) -> None:
    """Each predicted task carries its predicted label; human labels are not touched."""
    by_label: dict[str, list[int]] = {}
    for prediction in predictions:
        by_label.setdefault(prediction.label, []).append(prediction.task_id)
    not_human = Task.objects.for_team(team).exclude(label_source=LabelSource.HUMAN)
    for label, ids in by_label.items():
        for start in range(0, len(ids), 5000):
            not_human.filter(id__in=ids[start : start + 5000]).update(
                exposure_label=label, label_source=LabelSource.PREDICTED
            )


@dataclass
class Explanation:
    label: str
    confidence: float
    method: str
    similar: list[tuple[Task, str, float]]  # (labelled task, its label, similarity), most similar first
    rationale: str = ""  # a model's reason, when a model labelled it by the rubric


def explain(task: Task) -> Explanation | None:
    """Why the pre-screen predicted this task's label: the labelled tasks it resembles most (two
    queries), or None when its label is not a prediction."""
    prediction = ExposurePrediction.objects.filter(task=task).select_related("run__model").first()
    if prediction is None or task.label_source != LabelSource.PREDICTED:
        return None
    near = prediction.neighbours[:EXPLANATION_NEIGHBOURS]
    tasks = Task.objects.filter(job__team_id=task.job.team_id).in_bulk([n[0] for n in near])
    similar = [(tasks[n[0]], n[1], n[2]) for n in near if n[0] in tasks]
    if prediction.method == classifier.METHOD_CODE:
        method = classifier.METHOD
    else:
        model = prediction.run.model
        method = f"{model.name if model else 'a model'}"
    return Explanation(prediction.label, prediction.confidence, method, similar, prediction.rationale)


def latest(team: Team) -> TriageRun | None:
    return TriageRun.objects.filter(team=team).order_by("-created").first()


def label_next(team: Team, limit: int = 20):
    """Tasks without a human label whose label would teach the pre-screen most: the least confident
    predictions first; before any prediction, tasks in job order."""
    unlabelled = (
        Task.objects.for_team(team)
        .exclude(label_source=LabelSource.HUMAN)
        .select_related("job", "exposure_prediction")
    )
    predicted = unlabelled.filter(exposure_prediction__isnull=False).order_by(
        "exposure_prediction__confidence", "id"
    )
    rows = list(predicted[:limit])
    if len(rows) < limit:
        rows += list(
            unlabelled.filter(exposure_prediction__isnull=True).order_by("job__title", "id")[
                : limit - len(rows)
            ]
        )
    return rows
