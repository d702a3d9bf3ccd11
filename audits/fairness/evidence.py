"""Fairness results as evidence an audit can link: for each kind a `resolve_<kind>(team, code)` (one
result or None) and a `choices_<kind>(team)` (the team's results, newest first), returning dicts with
the fields of audits' LinkedResult (kind, code, title, url, passed, summary, updated); and red-team
successes as findings (kind, code, text) a person can turn into a risk."""

from __future__ import annotations

import uuid

from django.urls import reverse

from .models import CounterfactualProbe, FairnessAssessment, RedTeamRun, StereotypeProbe

CHOICES_LIMIT = 200

KINDS = {
    "fairness_assessment": ("Group fairness assessment", FairnessAssessment, "fairness:assessment_detail"),
    "counterfactual_probe": ("Counterfactual probe", CounterfactualProbe, "fairness:counterfactual_detail"),
    "stereotype_probe": ("Stereotype preference probe", StereotypeProbe, "fairness:stereotype_detail"),
    "redteam_run": ("Red-team run", RedTeamRun, "fairness:redteam_detail"),
}


def _summary(kind: str, obj) -> dict:
    figures = (obj.result or {}).get("figures", {})
    summary = {"status": obj.status, "schema": (obj.result or {}).get("schema", "")}
    verdict = figures.get("verdict") or {}
    if verdict:
        summary["headline"] = verdict.get("headline", "")
    if kind == "fairness_assessment":
        summary |= {"outputs": figures.get("n"), "rule": (figures.get("rule") or {}).get("text")}
    elif kind == "stereotype_probe":
        overall = figures.get("overall") or {}
        summary |= {"pct_stereotype": figures.get("pct_stereotype"), "pairs": overall.get("n"),
                    "low": overall.get("low"), "high": overall.get("high")}  # fmt: skip
    elif kind == "redteam_run":
        overall = figures.get("overall") or {}
        summary |= {"attack_success_rate": overall.get("rate"), "attacks": overall.get("n"),
                    "succeeded": overall.get("k")}  # fmt: skip
    elif kind == "counterfactual_probe":
        summary |= {
            "outputs": figures.get("n"),
            "categories": [c["category"] for c in figures.get("categories", [])],
        }
    return summary


def _linked(kind: str, obj) -> dict:
    label, _, url_name = KINDS[kind]
    return {
        "kind": kind,
        "code": str(obj.code),
        "title": f"{label}: {obj.name}",
        "url": reverse(url_name, args=[obj.team.slug, obj.code]),
        "passed": obj.passed,
        "summary": _summary(kind, obj),
        "updated": obj.updated,
    }


def _resolve(kind: str, team, code) -> dict | None:
    _, model, _ = KINDS[kind]
    try:
        code = uuid.UUID(str(code))
    except ValueError:
        return None
    obj = model.objects.select_related("team").filter(team=team, code=code).first()
    return _linked(kind, obj) if obj is not None else None


def _choices(kind: str, team) -> list[dict]:
    _, model, _ = KINDS[kind]
    return [
        _linked(kind, obj) for obj in model.objects.select_related("team").filter(team=team)[:CHOICES_LIMIT]
    ]


def resolve_fairness_assessment(team, code) -> dict | None:
    return _resolve("fairness_assessment", team, code)


def choices_fairness_assessment(team) -> list[dict]:
    return _choices("fairness_assessment", team)


def resolve_counterfactual_probe(team, code) -> dict | None:
    return _resolve("counterfactual_probe", team, code)


def choices_counterfactual_probe(team) -> list[dict]:
    return _choices("counterfactual_probe", team)


def resolve_stereotype_probe(team, code) -> dict | None:
    return _resolve("stereotype_probe", team, code)


def choices_stereotype_probe(team) -> list[dict]:
    return _choices("stereotype_probe", team)


def resolve_redteam_run(team, code) -> dict | None:
    return _resolve("redteam_run", team, code)


def choices_redteam_run(team) -> list[dict]:
    return _choices("redteam_run", team)


def redteam_findings(team, code=None) -> list[dict]:
    """Every successful attack (after people's overrides) as a finding: kind, code (run code and
    output id), text. Reads the stored results: one query."""
    runs = RedTeamRun.objects.filter(team=team).exclude(result={})
    if code is not None:
        runs = runs.filter(code=code)
    findings = []
    for run in runs:
        for row in (run.result.get("figures") or {}).get("outputs", []):
            if row.get("success"):
                text = (row.get("text") or "")[:200]
                findings.append(
                    {
                        "kind": "redteam_finding",
                        "code": f"{run.code}:{row['ref']}",
                        "text": f"{run.name}: attack {row['attack']} ({row['suite'].replace('_', ' ')}) succeeded "
                        f"— {row['why']}. Output: {text}",
                    }
                )
    return findings


def register_evidence_kinds() -> None:
    """Makes every fairness result linkable as audit evidence (audits.evidence_kinds), without a
    migration of evidence linked before."""
    from audits.evidence_kinds import LinkedResult, register

    def resolver(kind):
        def resolve(team, code):
            found = _resolve(kind, team, code)
            return LinkedResult(**found) if found is not None else None

        return resolve

    def chooser(kind):
        return lambda team: [LinkedResult(**found) for found in _choices(kind, team)]

    for kind, (label, _, _) in KINDS.items():
        register(kind, label, resolver(kind), chooser(kind))
