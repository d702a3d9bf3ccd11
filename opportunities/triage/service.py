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

from ..models import ExposurePrediction, LabelSource, Task, TriageRun
from . import classifier, evaluation

log = logging.getLogger(__name__)

EXPLANATION_NEIGHBOURS = 5  # similar labelled tasks kept with each prediction
RETRAIN_DELAY_S = 30  # after a person's label, wait for more before retraining
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


def start(team: Team, user=None, countdown: float = 0) -> tuple[TriageRun, bool]:
    """The team's queued or running triage, or a new one queued (and sent to a worker on commit, after
    `countdown` seconds)."""
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one start at a time per team
        active = TriageRun.objects.filter(team=team, status__in=(State.QUEUED, State.RUNNING)).first()
        if active is not None:
            return active, False
        run = TriageRun.objects.create(team=team, started_by=user, stage="Waiting for a worker")
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
    if enough and unlabelled:
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
            message="" if enough else (
                f"Predictions need at least {classifier.MIN_LABELS} tasks labelled by a person, with at "
                f"least two different labels; the team has {len(human)}. Label some on the Label next list."
            ),
        )  # fmt: skip
    if _human_fingerprint(run.team) != fingerprint:
        # People labelled tasks while this run worked: learn those too.
        start(run.team, countdown=RETRAIN_DELAY_S)


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


def explain(task: Task) -> Explanation | None:
    """Why the pre-screen predicted this task's label: the labelled tasks it resembles most (two
    queries), or None when its label is not a prediction."""
    prediction = ExposurePrediction.objects.filter(task=task).first()
    if prediction is None or task.label_source != LabelSource.PREDICTED:
        return None
    near = prediction.neighbours[:EXPLANATION_NEIGHBOURS]
    tasks = Task.objects.for_team(task.job.team).in_bulk([n[0] for n in near])
    similar = [(tasks[n[0]], n[1], n[2]) for n in near if n[0] in tasks]
    method = classifier.METHOD if prediction.method == classifier.METHOD_CODE else prediction.method
    return Explanation(prediction.label, prediction.confidence, method, similar)


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
