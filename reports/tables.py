"""Each report as named tables with typed cells: the XLSX writes one sheet per table, the CSV the main
one (the ranked tasks of a portfolio report, the runs of an experiment report). Columns are declared
here once. Pure: works on the report dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Getter = Callable[[dict], Any]


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]


def _table(title: str, columns: list[tuple[str, Getter]], items: list[dict]) -> Table:
    return Table(title, [name for name, _ in columns], [[get(item) for _, get in columns] for item in items])


def _part(key: str, field: str) -> Getter:
    def get(item: dict) -> Any:
        value = item.get(key)
        return None if value is None else value.get(field)

    return get


def _evidence(field: str, part: str) -> Getter:
    def get(item: dict) -> Any:
        evidence = item.get("evidence") or {}
        value = evidence.get(field)
        return value.get(part) if isinstance(value, dict) else None

    return get


TASK_COLUMNS: list[tuple[str, Getter]] = [
    ("rank", lambda t: t["rank"]),
    ("task_code", lambda t: t["code"]),
    ("job", lambda t: t["job_title"]),
    ("task", lambda t: t["statement"]),
    ("kind", lambda t: t["kind"]),
    ("mode", lambda t: t["mode"]),
    ("hours_per_week", lambda t: t["hours_per_week"]),
    ("hours_per_year", lambda t: t["hours_per_year"]),
    ("annual_value", lambda t: t["annual_value"]),
    ("value_formula", lambda t: t["value_formula"]),
    ("verdict", lambda t: t["verdict"]),
    ("feasibility", lambda t: t["feasibility"]),
    ("feasibility_basis", lambda t: t["feasibility_basis"]),
    ("deciding_run", lambda t: (t.get("evidence") or {}).get("label")),
    ("pass_rate", _evidence("pass_rate", "rate")),
    ("pass_rate_low", _evidence("pass_rate", "low")),
    ("pass_rate_high", _evidence("pass_rate", "high")),
    ("pass_rate_n", _evidence("pass_rate", "n")),
    ("accept_or_edit", _evidence("accept_or_edit", "rate")),
    ("accept_or_edit_low", _evidence("accept_or_edit", "low")),
    ("accept_or_edit_high", _evidence("accept_or_edit", "high")),
    ("reviews", lambda t: (t.get("evidence") or {}).get("reviews")),
    ("verdict_reasons", lambda t: " | ".join(t["verdict_reasons"])),
    ("verdict_warnings", lambda t: " | ".join(t["verdict_warnings"])),
    ("exposure_label", lambda t: t["exposure_label"]),
    ("label_source", lambda t: t["label_source"]),
]

USE_CASE_COLUMNS: list[tuple[str, Getter]] = [
    ("use_case_code", lambda u: u["code"]),
    ("use_case", lambda u: u["name"]),
    ("stage", lambda u: u["stage_label"]),
    ("mode", lambda u: u["mode"]),
    ("risk_tier", lambda u: u["risk_tier"]),
    ("owner", lambda u: u["owner"]),
    ("tasks", lambda u: u["tasks"]),
    ("annual_value", lambda u: u["annual_value"]),
    ("verdict", lambda u: u["verdict"]),
    ("audits", lambda u: "; ".join(f"{a['kind_label']}: {a['status_label']}" for a in u["audits"])),
    ("open_risks", lambda u: u["open_risks"]),
    (
        "top_risks",
        lambda u: "; ".join(
            f"{r['description']} ({r['dimension']}, {r['residual_score']})" for r in u["top_risks"]
        ),
    ),
]

RUN_COLUMNS: list[tuple[str, Getter]] = [
    ("run_code", lambda r: r["code"]),
    ("prompt", lambda r: r["prompt"]),
    ("model", lambda r: r["model"]),
    ("params", lambda r: r["params"]),
    ("status", lambda r: r["status"]),
    ("total", lambda r: r["total"]),
    ("generated", lambda r: r["generated"]),
    ("errors", lambda r: r["errors"]),
    ("pass_rate", _part("pass_rate", "rate")),
    ("pass_rate_low", _part("pass_rate", "low")),
    ("pass_rate_high", _part("pass_rate", "high")),
    ("pass_rate_n", _part("pass_rate", "n")),
    ("mean_score", lambda r: r["mean_score"]),
    ("all_repeats_pass_rate", lambda r: r["all_repeats_pass_rate"]),
    ("latency_p50_s", lambda r: r["latency_p50_s"]),
    ("latency_p95_s", lambda r: r["latency_p95_s"]),
    ("single_request_p95_s", lambda r: r["single_request_p95_s"]),
    ("mean_tokens_in", lambda r: r["mean_tokens_in"]),
    ("mean_tokens_out", lambda r: r["mean_tokens_out"]),
    ("cost", lambda r: r["cost"]),
    ("cost_per_1000", lambda r: r["cost_per_1000"]),
    ("reviews_accepted", lambda r: r["reviews"]["accepted"]),
    ("reviews_minor_edit", lambda r: r["reviews"]["minor_edit"]),
    ("reviews_rejected", lambda r: r["reviews"]["rejected"]),
    ("accept_or_edit", lambda r: (r["reviews"]["accept_or_edit"] or {}).get("rate")),
    ("accept_or_edit_low", lambda r: (r["reviews"]["accept_or_edit"] or {}).get("low")),
    ("accept_or_edit_high", lambda r: (r["reviews"]["accept_or_edit"] or {}).get("high")),
    ("scorer_kappa", lambda r: r["scorer_kappa"]),
    ("scorer_kappa_n", lambda r: r["scorer_kappa_n"]),
]


def portfolio_tables(doc: dict) -> list[Table]:
    s = doc["summary"]
    summary = [
        ["Team", doc["team"]["name"]],
        ["Generated", doc["generated"]],
        ["Jobs", s["jobs"]],
        ["Tasks", s["tasks"]],
        ["Hours a year on these tasks", s["hours_per_year"]],
        ["Annual value ($)", s["annual_value"]],
    ]
    for verdict, counts in s["by_verdict"].items():
        summary.append([f"Tasks {verdict}", counts["tasks"]])
        summary.append([f"Annual value {verdict} ($)", counts["annual_value"]])
    for label, sources in s["exposure"]["labels"].items():
        summary.append([f"Exposure {label} (human)", sources["human"]])
        summary.append([f"Exposure {label} (predicted)", sources["predicted"]])
    summary.append(["No exposure label", s["exposure"]["unlabelled"]])
    matrix = doc["matrix"]
    quadrants = [[q["label"], q["meaning"], q["tasks"]] for q in matrix["quadrants"]]
    return [
        _table("Tasks", TASK_COLUMNS, doc["tasks"]),
        Table("Summary", ["figure", "value"], summary),
        Table("Matrix", ["quadrant", "meaning", "tasks"], quadrants),
        _table("Use cases", USE_CASE_COLUMNS, doc["use_cases"]),
    ]


def experiment_tables(doc: dict) -> list[Table]:
    e, g = doc["experiment"], doc["grid"]
    grid = [
        ["Experiment", e["name"]],
        ["Status", e["status"]],
        ["Dataset", e["dataset"]],
        ["Cases", g["cases"]],
        ["Repeats", g["repeats"]],
        ["Runs", g["runs"]],
        ["Prompt versions", ", ".join(g["prompt_versions"])],
        ["Models", ", ".join(g["models"])],
        ["Parameter sets", ", ".join(g["param_sets"])],
        ["Scorers", ", ".join(g["scorers"])],
        ["Generated", doc["generated"]],
    ]
    examples = [
        [x["run"], x["side"], x["case"], x["expected"], x["output"], x["weighted_score"], x["passed"]]
        for x in doc["examples"]
    ]
    pairs = [
        [p["first"], p["second"], p["kappa"], p["observed"], p["n"]]
        for p in doc["review_agreement"]["reviewer_pairs"]
    ]
    verdicts = [
        [
            v["code"],
            v["job"],
            v["statement"],
            v["verdict"],
            v["feasibility"],
            v["feasibility_basis"],
            v["decided_by"],
        ]
        for v in doc["verdicts"]
    ]
    scores = [
        [r["label"], sc["scorer"], sc["scored"], sc["mean"]]
        + [None if sc["pass_rate"] is None else sc["pass_rate"][k] for k in ("rate", "low", "high", "n")]
        for r in doc["runs"]
        for sc in r["scorers"]
    ]
    return [
        _table("Runs", RUN_COLUMNS, doc["runs"]),
        Table(
            "Scores",
            [
                "run",
                "scorer",
                "scored",
                "mean",
                "pass_rate",
                "pass_rate_low",
                "pass_rate_high",
                "pass_rate_n",
            ],
            scores,
        ),
        Table("Grid", ["figure", "value"], grid),
        Table(
            "Examples", ["run", "side", "case", "expected", "output", "weighted_score", "passed"], examples
        ),
        Table(
            "Review agreement",
            ["first_reviewer", "second_reviewer", "kappa", "observed_agreement", "n"],
            pairs,
        ),
        Table(
            "Verdicts",
            ["task_code", "job", "task", "verdict", "feasibility", "feasibility_basis", "decided_by"],
            verdicts,
        ),
    ]
