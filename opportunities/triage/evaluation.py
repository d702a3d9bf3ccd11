"""How good the pre-screen is on the team's own labels: cross-validation grouped by job (no job has
tasks in both the training and the test fold, so the figures say how it does on a job it has not seen),
and a learning curve (the same folds, trained on 20, 50, 200, 1,000 and all labels of each training fold)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .classifier import LABELS, ExposureClassifier

FOLDS = 5
CURVE_SIZES = (20, 50, 200, 1000)  # 20: the fewest labels it predicts from


@dataclass
class Quality:
    labels: int  # human labels it learned from
    jobs: int
    folds: int
    accuracy: float | None = None
    kappa: float | None = None
    per_label_recall: dict[str, float | None] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)  # rows: human label, columns: predicted
    learning_curve: list[dict] = field(default_factory=list)  # [{labels, accuracy, kappa}]
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, cohen_kappa_score

    return float(accuracy_score(truth, predicted)), float(cohen_kappa_score(truth, predicted))


def grouped_folds(groups: np.ndarray, folds: int = FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    splitter = GroupKFold(n_splits=folds)
    return list(splitter.split(np.zeros(len(groups)), groups=groups))


def evaluate(
    task_vectors: np.ndarray,
    labels: list[str],
    groups: list[int],
    curve_sizes: tuple[int, ...] = CURVE_SIZES,
    seed: int = 0,
    on_step: Callable[[int, int], None] | None = None,
) -> Quality:
    """Grouped cross-validation of ExposureClassifier on the labelled rows; `on_step(done, total)` is
    called after each fit (for a progress bar)."""
    y = np.array([LABELS.index(label) for label in labels])
    groups_arr = np.asarray(groups)
    jobs = len(set(groups_arr.tolist()))
    counts = {label: int((y == i).sum()) for i, label in enumerate(LABELS)}
    quality = Quality(labels=len(y), jobs=jobs, folds=min(FOLDS, jobs), label_counts=counts)
    if jobs < 2 or len(set(y.tolist())) < 2:
        quality.folds = 0
        quality.note = "Needs labelled tasks in at least two jobs and two labels to be measured."
        return quality
    splits = grouped_folds(groups_arr, quality.folds)
    sizes = [s for s in curve_sizes if s < min(len(train) for train, _ in splits)]
    total, done = len(splits) * (1 + len(sizes)), 0
    rng = np.random.default_rng(seed)
    curve_predictions = {size: np.zeros(len(y), dtype=np.int64) for size in sizes}
    predicted = np.zeros(len(y), dtype=np.int64)
    for train, test in splits:
        for size in [None, *sizes]:
            rows = train if size is None else rng.choice(train, size=size, replace=False)
            model = ExposureClassifier(seed=seed).fit(task_vectors[rows], [labels[i] for i in rows])
            guess = model.predict(task_vectors[test]).labels
            target = predicted if size is None else curve_predictions[size]
            target[test] = [LABELS.index(g) for g in guess]
            done += 1
            if on_step:
                on_step(done, total)
    quality.accuracy, quality.kappa = (round(v, 4) for v in _scores(y, predicted))
    for i, label in enumerate(LABELS):
        mask = y == i
        quality.per_label_recall[label] = (
            round(float((predicted[mask] == i).mean()), 4) if mask.any() else None
        )
    quality.confusion = [[int(((y == a) & (predicted == b)).sum()) for b in range(3)] for a in range(3)]
    for size in sizes:
        accuracy, kappa = _scores(y, curve_predictions[size])
        quality.learning_curve.append(
            {"labels": size, "accuracy": round(accuracy, 4), "kappa": round(kappa, 4)}
        )
    typical_train = int(np.mean([len(train) for train, _ in splits]))
    quality.learning_curve.append(
        {"labels": typical_train, "accuracy": quality.accuracy, "kappa": quality.kappa, "all": True}
    )
    return quality
