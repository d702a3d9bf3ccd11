"""The audit report of a use case: one dict (the versioned JSON export) that the Markdown and PDF
exports render. It includes a model card whose section and field names follow Model Card Toolkit's
schema (model_details, model_parameters, quantitative_analysis, considerations), filled from Assay's data
— the model registry's names, the experiment runs of the use case's tasks, the risk register — and from
what a person edited before exporting (audits.models.ModelCard)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from experiments.evidence import evidence_by_run
from experiments.models import Run
from llmcore.stats import proportion
from opportunities.models import UseCase

from . import gates
from .catalogues import describe_references
from .evidence_kinds import label as kind_label
from .models import Audit, AuditItem, Dimension, Evidence, ModelCard, Risk, TierAssessment
from .risks import BAND_TEXT, FORMULA, heat_map

SCHEMA = "assay.audit-report"
SCHEMA_VERSION = 1
RUN_LIMIT = 20


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _runs(use_case: UseCase) -> list[Run]:
    return list(
        Run.objects.filter(experiment__tasks__use_cases=use_case)
        .select_related("experiment__dataset", "prompt_version__template", "model")
        .distinct()
        .order_by("-created", "-id")[:RUN_LIMIT]
    )


def _audits(use_case: UseCase) -> list[dict]:
    audits = list(
        Audit.objects.filter(use_case=use_case)
        .current()
        .select_related("preparer", "sign_off__signer")
        .order_by("kind")
    )
    items_by_audit: dict[int, list] = {}
    items = list(AuditItem.objects.filter(audit__in=audits).order_by("audit_id", "position"))
    for item in items:
        items_by_audit.setdefault(item.audit_id, []).append(item)
    evidence_by_item: dict[int, list] = {}
    for evidence in Evidence.objects.filter(item__in=items).select_related("file"):
        evidence_by_item.setdefault(evidence.item_id, []).append(evidence)
    shown = []
    for audit in audits:
        rows = items_by_audit.get(audit.pk, [])
        dimensions = []
        for value, label in Dimension.choices:
            in_dimension = [item for item in rows if item.dimension == value]
            if in_dimension:
                answered = sum(1 for item in in_dimension if item.answer)
                dimensions.append(
                    {"dimension": value, "label": label, "answered": answered, "items": len(in_dimension)}
                )
        sign_off = getattr(audit, "sign_off", None) if audit.is_signed else None
        shown.append(
            {
                "code": str(audit.code),
                "kind": audit.kind,
                "version": audit.version,
                "status": audit.status,
                "status_label": audit.get_status_display(),
                "template": f"{audit.template_key}-{audit.template_version}",
                "preparer": audit.preparer.get_username(),
                "sign_off": None
                if sign_off is None
                else {
                    "signer": sign_off.signer.get_username(),
                    "decision": sign_off.decision,
                    "comment": sign_off.comment,
                    "signed_at": sign_off.signed_at.isoformat(),
                },
                "answered": sum(1 for item in rows if item.answer),
                "items_total": len(rows),
                "dimensions": dimensions,
                "items": [
                    {
                        "key": item.key,
                        "dimension": item.dimension,
                        "text": item.text,
                        "answer": item.answer,
                        "answer_label": item.get_answer_display(),
                        "notes": item.notes,
                        "references": describe_references(item.references),
                        "evidence": [
                            {
                                "kind": e.kind,
                                "kind_label": "File" if e.is_file else kind_label(e.kind),
                                "title": e.title,
                                "sha256": e.file.sha256 if e.file_id else None,
                                "code": e.linked_code or None,
                                "passed": e.passed,
                                "summary": e.summary,
                            }
                            for e in evidence_by_item.get(item.pk, [])
                        ],
                    }
                    for item in rows
                ],
            }
        )
    return shown


def _risks(use_case: UseCase) -> list[dict]:
    return [
        {
            "code": str(risk.code),
            "dimension": risk.dimension,
            "description": risk.description,
            "likelihood": risk.likelihood,
            "impact": risk.impact,
            "score": risk.score,
            "band": risk.band,
            "mitigation": risk.mitigation,
            "owner": risk.owner.get_username() if risk.owner else "",
            "due": risk.due.isoformat() if risk.due else None,
            "status": risk.status,
            "residual_likelihood": risk.residual_likelihood,
            "residual_impact": risk.residual_impact,
            "residual_score": risk.residual_score,
            "residual_band": risk.residual_band,
            "source": risk.source_label,
        }
        for risk in Risk.objects.filter(use_case=use_case).select_related("owner").order_by("-id")
    ]


def default_card_text(use_case: UseCase, audits: list[dict]) -> dict:
    """The editable model card fields as Assay fills them before anyone edits them."""
    limitations = [
        f"{item['text']} ({item['answer_label'].lower()}){': ' + item['notes'] if item['notes'] else ''}"
        for audit in audits
        for item in audit["items"]
        if item["answer"] in ("no", "partial")
    ]
    return {
        "overview": use_case.description,
        "users": "",
        "use_cases": use_case.description or use_case.name,
        "limitations": "\n".join(limitations),
        "tradeoffs": "",
    }


def model_card(use_case: UseCase, audits: list[dict], risks: list[dict]) -> dict:
    edited = ModelCard.objects.filter(use_case=use_case).first()
    text = {**default_card_text(use_case, audits), **(edited.fields if edited else {})}
    runs = _runs(use_case)
    facts = evidence_by_run([run.pk for run in runs])
    metrics = []
    models, datasets = {}, {}
    for run in runs:
        evidence = facts[run.pk]
        rate = proportion(evidence.cases_passed, evidence.cases_scored)
        if run.model is not None:
            models[run.model_name] = f"{run.model_name} ({run.model.backend}, {run.model.source})"
        else:
            models.setdefault(run.model_name, run.model_name)
        datasets[run.experiment.dataset.name] = run.experiment.dataset.name
        if rate.rate is not None:
            metrics.append(
                {
                    "type": "pass rate (automatic scorers)",
                    "value": round(rate.rate, 4),
                    "slice": f"{run.experiment.name}: {run.label}",
                    "confidence_interval": {
                        "lower_bound": round(rate.low, 4),
                        "upper_bound": round(rate.high, 4),
                    },
                    "n": rate.n,
                }
            )
    return {
        "model_details": {
            "name": use_case.name,
            "overview": text["overview"],
            "version": {"name": timezone.now().date().isoformat()},
            "owners": [{"name": use_case.owner.get_username()}] if use_case.owner else [],
            "references": [],
        },
        "model_parameters": {
            "model_architecture": "; ".join(models.values()) or "No experiment run yet",
            "data": [{"name": name} for name in datasets],
        },
        "quantitative_analysis": {"performance_metrics": metrics},
        "considerations": {
            "users": [{"description": line} for line in _lines(text["users"])],
            "use_cases": [{"description": line} for line in _lines(text["use_cases"])],
            "limitations": [{"description": line} for line in _lines(text["limitations"])],
            "tradeoffs": [{"description": line} for line in _lines(text["tradeoffs"])],
            "ethical_considerations": [
                {
                    "name": risk["description"],
                    "mitigation_strategy": risk["mitigation"] or "None recorded yet",
                }
                for risk in risks
            ],
        },
    }


def build(use_case: UseCase) -> dict:
    team = use_case.team
    audits = _audits(use_case)
    risks = _risks(use_case)
    tier = TierAssessment.objects.filter(use_case=use_case).first()
    target = use_case.next_stage()
    missing = gates.stage_gate(use_case, target) if target else []
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": timezone.now().isoformat(),
        "team": {"name": team.name, "slug": team.slug},
        "use_case": {
            "code": str(use_case.code),
            "name": use_case.name,
            "description": use_case.description,
            "stage": use_case.stage,
            "stage_label": use_case.get_stage_display(),
            "owner": use_case.owner.get_username() if use_case.owner else "",
        },
        "risk_tier": {
            "tier": use_case.risk_tier,
            "label": use_case.get_risk_tier_display(),
            "rationale": tier.rationale if tier else [],
            "assessed": tier.assessed.isoformat() if tier else None,
        },
        "audits": audits,
        "risk_formula": {"formula": FORMULA, "bands": BAND_TEXT},
        "risks": risks,
        "gate": {
            "next_stage": target,
            "missing": [requirement.text for requirement in missing],
        },
        "model_card": model_card(use_case, audits, risks),
    }


def to_markdown(report: dict) -> str:
    return render_to_string("audits/report.md", {"r": report}, using=None)


def chart_context(report: dict) -> dict:
    risks = report["risks"]
    open_risks = [r for r in risks if r["status"] in ("open", "mitigating")]
    bars = []
    for index, metric in enumerate(report["model_card"]["quantitative_analysis"]["performance_metrics"]):
        bars.append(
            {
                "y": index * 26,
                "width": round(300 * metric["value"]),
                "low": 160 + round(300 * metric["confidence_interval"]["lower_bound"]),
                "high": 160 + round(300 * metric["confidence_interval"]["upper_bound"]),
                "label": metric["slice"][:28],
                "value": metric["value"],
            }
        )
    return {
        "inherent_cells": heat_map([(r["likelihood"], r["impact"]) for r in open_risks]),
        "residual_cells": heat_map([(r["residual_likelihood"], r["residual_impact"]) for r in open_risks]),
        "bars": bars,
        "bars_height": max(26, 26 * len(bars)),
    }


def _refuse_fetch(url: str, *args, **kwargs):
    raise ValueError(f"The report never loads external resources ({url[:60]}).")


def to_pdf(report: dict) -> bytes:
    import logging

    # WeasyPrint reports each layout step at INFO (from its import on); keep the log for warnings.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    html = render_to_string("audits/report_pdf.html", {"r": report, **chart_context(report)})
    return HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
