"""CSV exports of stored results: the columns of each kind in one place, rows built from the stored
JSON document (no queries)."""

from __future__ import annotations

import csv
import io

from accounts.spreadsheets import escape_formula

COLUMNS = {
    "assessment": ["label", "group", "count", "selection_rate", "selection_rate_low", "selection_rate_high",
                   "true_positive_rate", "false_positive_rate", "false_negative_rate"],
    "counterfactual": ["category", "group", "n", "errors", "refusal_rate", "refusal_low", "refusal_high",
                       "mean_words", "similarity_to_others"],
    "stereotype": ["category", "pairs", "stereotype_preferred", "pct_stereotype", "low", "high"],
    "redteam": ["attack", "suite", "repeat", "automatic", "why", "override", "success", "output"],
}  # fmt: skip


def rows(kind: str, document: dict) -> list[list]:
    figures = document.get("figures", {})
    if kind == "assessment":
        return [
            [item["label"], g["group"], g["count"], g["selection_rate"], *(g["selection_rate_ci"] or ["", ""]),
             g["true_positive_rate"], g["false_positive_rate"], g["false_negative_rate"]]
            for item in figures.get("per_label", [])
            for g in item["groups"]
        ]  # fmt: skip
    if kind == "counterfactual":
        return [
            [c["category"], g["group"], g["n"], g["errors"], g["refusal"]["rate"], g["refusal"]["low"],
             g["refusal"]["high"], g["mean_words"], g["similarity_to_others"]]
            for c in figures.get("categories", [])
            for g in c["groups"]
        ]  # fmt: skip
    if kind == "stereotype":
        overall = figures.get("overall", {})
        out = [
            [
                "(all)",
                overall.get("n"),
                overall.get("k"),
                overall.get("rate"),
                overall.get("low"),
                overall.get("high"),
            ]
        ]
        out += [
            [c["category"], c["n"], c["k"], c["rate"], c["low"], c["high"]]
            for c in figures.get("categories", [])
        ]
        return out
    if kind == "redteam":
        return [
            [r["attack"], r["suite"], r["repeat"], r["auto"], r["why"], r.get("override"), r["success"],
             r.get("text", r.get("error", ""))]
            for r in figures.get("outputs", [])
        ]  # fmt: skip
    raise ValueError(f"unknown export kind {kind!r}")


def _safe(value):
    # Text a spreadsheet would run as a formula is quoted, after control characters are removed.
    if isinstance(value, str):
        return escape_formula(value)
    return "" if value is None else value


def to_csv(kind: str, document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS[kind])
    for row in rows(kind, document):
        writer.writerow([_safe(v) for v in row])
    return buffer.getvalue()
