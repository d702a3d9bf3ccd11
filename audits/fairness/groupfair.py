"""Group fairness of classification-style outputs with fairlearn's MetricFrame: pure functions over plain
records (expected label, predicted label or None when the output named none, sensitive attributes),
returning every figure with its breakdown and bootstrap interval, and a verdict with its reason in words.

- Multiclass labels are assessed one-vs-rest: for label L, "selected" means the output named L and the
  "true" positives are the cases whose expected label is L. With two labels and a positive label, only
  that label is assessed (the usual binary setting).
- Two attributes give intersectional groups ("female × 18-29").
- Outputs that named no label are counted per group and left out of the rates, never dropped silently.
- Groups smaller than `min_group_size` are flagged, not hidden.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

RULES_VERSION = "1"
SEPARATOR = " × "


@dataclass(frozen=True)
class Record:
    expected: str
    predicted: str | None  # None: the output named no label
    attributes: dict


@dataclass(frozen=True)
class Rule:
    """Pass when `metric` (per assessed label) is ≥ threshold for ratios, ≤ threshold for differences."""

    metric: str = "selection_rate_ratio"
    threshold: float = 0.8

    METRICS = {
        "selection_rate_ratio": ("selection-rate ratio (lowest group ÷ highest)", "min"),
        "demographic_parity_difference": ("demographic parity difference (highest − lowest)", "max"),
        "equalized_odds_difference": ("equalized odds difference", "max"),
        "equalized_odds_ratio": ("equalized odds ratio", "min"),
    }

    def __post_init__(self):
        if self.metric not in self.METRICS:
            raise ValueError(f"unknown rule metric {self.metric!r}; choose one of {', '.join(self.METRICS)}")
        if not (0 <= self.threshold <= 1):
            raise ValueError(f"the threshold must be between 0 and 1, got {self.threshold}")

    @property
    def is_four_fifths(self) -> bool:
        return self.metric == "selection_rate_ratio" and self.threshold == 0.8

    def describe(self) -> str:
        label, kind = self.METRICS[self.metric]
        sign = "≥" if kind == "min" else "≤"
        name = " (the four-fifths rule)" if self.is_four_fifths else ""
        return f"{label} {sign} {self.threshold:g}{name}"

    def to_dict(self) -> dict:
        return {"metric": self.metric, "threshold": self.threshold}


@dataclass
class Options:
    attributes: Sequence[str]
    labels: Sequence[str] = ()
    positive_label: str = ""
    min_group_size: int = 30
    n_boot: int = 200
    seed: int = 0
    rule: Rule = field(default_factory=Rule)


class AssessmentError(ValueError):
    """The records cannot be assessed; the message says why and what to change."""


def _clean(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def group_of(attributes: dict, names: Sequence[str]) -> str | None:
    values = [str(attributes.get(name, "")).strip() for name in names]
    if any(not v for v in values):
        return None
    return SEPARATOR.join(values)


def assess(records: Sequence[Record], options: Options) -> dict:
    """Everything the assessment page and its JSON show. Raises AssessmentError for unusable input."""
    import numpy as np
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    names = list(options.attributes)
    if not 1 <= len(names) <= 2:
        raise AssessmentError("Choose one sensitive attribute, or two for intersectional groups.")
    if options.min_group_size < 1 or options.n_boot < 0:
        raise AssessmentError("The minimum group size must be at least 1 and bootstrap samples 0 or more.")
    missing_attribute = 0
    rows: list[tuple[str, str, str | None]] = []
    for record in records:
        group = group_of(record.attributes, names)
        if group is None or not record.expected:
            missing_attribute += 1
            continue
        rows.append((group, record.expected, record.predicted))
    if not rows:
        raise AssessmentError(
            f"No output has an expected label and a value for {' and '.join(names)}; the dataset's cases "
            "need both."
        )
    labels = list(options.labels) or sorted({expected for _, expected, _ in rows})
    unknown = sorted({expected for _, expected, _ in rows} - set(labels))
    if unknown:
        raise AssessmentError(
            f"Expected labels {', '.join(map(repr, unknown))} are not among the labels {', '.join(labels)}."
        )
    if options.positive_label and options.positive_label not in labels:
        raise AssessmentError(
            f"The positive label {options.positive_label!r} is not one of {', '.join(labels)}."
        )
    if len(labels) < 2:
        raise AssessmentError(
            "Fairness needs at least two labels (one label gives every group the same rate)."
        )
    assessed = [options.positive_label] if options.positive_label else labels
    if len(labels) == 2 and not options.positive_label:
        assessed = labels  # both sides of a binary task, each one-vs-rest

    groups = sorted({group for group, _, _ in rows})
    unparsed = Counter(group for group, _, predicted in rows if predicted is None)
    totals = Counter(group for group, _, _ in rows)
    parsed = [(g, e, p) for g, e, p in rows if p is not None]
    if not parsed:
        raise AssessmentError("No output named one of the labels, so no rate can be computed.")
    sf = np.array([g for g, _, _ in parsed])
    y_true = np.array([e for _, e, _ in parsed])
    y_pred = np.array([p for _, _, p in parsed])
    boot = {}
    if options.n_boot:
        boot = {"n_boot": options.n_boot, "ci_quantiles": [0.025, 0.975], "random_state": options.seed}

    accuracy_frame = MetricFrame(
        metrics={"accuracy": _accuracy},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sf,
        **boot,
    )
    per_label = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rates over a group with no positives are reported as missing
        for label in assessed:
            frame = MetricFrame(
                metrics={
                    "count": count,
                    "selection_rate": selection_rate,
                    "true_positive_rate": true_positive_rate,
                    "false_positive_rate": false_positive_rate,
                    "false_negative_rate": false_negative_rate,
                },
                y_true=(y_true == label).astype(int),
                y_pred=(y_pred == label).astype(int),
                sensitive_features=sf,
                **boot,
            )
            per_label.append(_label_figures(label, frame, options))

    small = [g for g in groups if totals[g] < options.min_group_size]
    group_rows = []
    by_group_acc = accuracy_frame.by_group["accuracy"]
    acc_ci = accuracy_frame.by_group_ci if options.n_boot else None
    for group in groups:
        n_parsed = totals[group] - unparsed[group]
        group_rows.append(
            {
                "group": group,
                "n": totals[group],
                "parsed": n_parsed,
                "unparsed": unparsed[group],
                "accuracy": _clean(by_group_acc.get(group)) if n_parsed else None,
                "accuracy_ci": _ci(acc_ci, group, "accuracy"),
                "small": group in small,
            }
        )
    verdict = _verdict(per_label, options, small)
    return {
        "attributes": names,
        "labels": labels,
        "assessed_labels": assessed,
        "positive_label": options.positive_label,
        "n": len(rows),
        "unparsed": sum(unparsed.values()),
        "left_out": missing_attribute,
        "overall_accuracy": _clean(accuracy_frame.overall["accuracy"]),
        "groups": group_rows,
        "small_groups": small,
        "per_label": per_label,
        "verdict": verdict,
        "rule": options.rule.to_dict() | {"text": options.rule.describe()},
        "min_group_size": options.min_group_size,
        "n_boot": options.n_boot,
        "seed": options.seed,
        "rules_version": RULES_VERSION,
    }


def _accuracy(y_true, y_pred) -> float:
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def _ci(frames, group, metric):
    if not frames:
        return None
    low, high = (_clean(frame[metric].get(group)) for frame in frames)
    return None if low is None or high is None else [low, high]


def _scalar_ci(pair) -> list[float] | None:
    if not pair:
        return None
    low, high = (_clean(v) for v in pair)
    return None if low is None or high is None else [low, high]


def _label_figures(label: str, frame, options: Options) -> dict:
    by_group = frame.by_group
    cis = frame.by_group_ci if options.n_boot else None
    groups = []
    for group in by_group.index:
        groups.append(
            {
                "group": str(group),
                "count": int(by_group.loc[group, "count"]),
                **{
                    name: _clean(by_group.loc[group, name])
                    for name in (
                        "selection_rate",
                        "true_positive_rate",
                        "false_positive_rate",
                        "false_negative_rate",
                    )
                },
                "selection_rate_ci": _ci(cis, group, "selection_rate"),
            }
        )
    difference, ratio = frame.difference(), frame.ratio()
    tpr_d, fpr_d = _clean(difference["true_positive_rate"]), _clean(difference["false_positive_rate"])
    tpr_r, fpr_r = _clean(ratio["true_positive_rate"]), _clean(ratio["false_positive_rate"])
    figures = {
        "demographic_parity_difference": _clean(difference["selection_rate"]),
        "demographic_parity_ratio": _clean(ratio["selection_rate"]),
        "true_positive_rate_difference": tpr_d,
        "false_positive_rate_difference": fpr_d,
        # fairlearn's definitions: the worse of the two rates' gaps.
        "equalized_odds_difference": None if tpr_d is None or fpr_d is None else max(tpr_d, fpr_d),
        "equalized_odds_ratio": None if tpr_r is None or fpr_r is None else min(tpr_r, fpr_r),
    }
    intervals = {}
    if options.n_boot:
        d_ci, r_ci = frame.difference_ci(), frame.ratio_ci()
        intervals = {
            "demographic_parity_difference": _scalar_ci([d["selection_rate"] for d in d_ci]),
            "demographic_parity_ratio": _scalar_ci([r["selection_rate"] for r in r_ci]),
            "true_positive_rate_difference": _scalar_ci([d["true_positive_rate"] for d in d_ci]),
            "false_positive_rate_difference": _scalar_ci([d["false_positive_rate"] for d in d_ci]),
        }
    rates = [(g["group"], g["selection_rate"]) for g in groups if g["selection_rate"] is not None]
    lowest = min(rates, key=lambda item: item[1]) if rates else None
    highest = max(rates, key=lambda item: item[1]) if rates else None
    return {
        "label": label,
        "groups": groups,
        "figures": figures,
        "intervals": intervals,
        "lowest": lowest,
        "highest": highest,
    }


def _rule_value(figures: dict, rule: Rule) -> float | None:
    key = "demographic_parity_ratio" if rule.metric == "selection_rate_ratio" else rule.metric
    return figures.get(key)


def _verdict(per_label: list[dict], options: Options, small: list[str]) -> dict:
    rule = options.rule
    _, kind = Rule.METRICS[rule.metric]
    reasons, failed, undecided = [], [], []
    for item in per_label:
        value = _rule_value(item["figures"], rule)
        label = item["label"]
        if value is None:
            undecided.append(label)
            reasons.append(
                f"{label!r}: the {Rule.METRICS[rule.metric][0]} is undefined (a group has no data for it)."
            )
            continue
        ok = value >= rule.threshold if kind == "min" else value <= rule.threshold
        if not ok:
            failed.append(label)
        detail = ""
        if rule.metric in ("selection_rate_ratio", "demographic_parity_difference") and item["lowest"]:
            (low_g, low_v), (high_g, high_v) = item["lowest"], item["highest"]
            op = "÷" if rule.metric == "selection_rate_ratio" else "−"
            a, b = (low_v, high_v) if op == "÷" else (high_v, low_v)
            ga, gb = (low_g, high_g) if op == "÷" else (high_g, low_g)
            detail = f" ({ga} {a:.2f} {op} {gb} {b:.2f})"
        sign = ("≥" if ok else "<") if kind == "min" else ("≤" if ok else ">")
        reasons.append(
            f"{label!r}: {Rule.METRICS[rule.metric][0]} = {value:.3f}{detail} {sign} {rule.threshold:g}"
            f" — {'passes' if ok else 'fails'}."
        )
    if failed:
        passed, headline = False, f"Fails {rule.describe()} for {', '.join(map(repr, failed))}."
    elif undecided:
        passed, headline = None, f"Cannot decide {rule.describe()} for {', '.join(map(repr, undecided))}."
    else:
        passed, headline = True, f"Passes {rule.describe()} for every assessed label."
    if small:
        reasons.append(
            f"Groups under {options.min_group_size} outputs ({', '.join(small)}) make these figures uncertain; "
            "read their intervals."
        )
    return {"passed": passed, "headline": headline, "reasons": reasons}
