from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from accounts.pages import page_context

from . import evidence_kinds, files, gates, report, services
from .access import (
    ADMIN,
    AUDIT,
    PREPARE,
    READ,
    get_audit,
    get_audits_team,
    get_evidence,
    get_item,
    get_risk,
    get_usecase,
)
from .catalogues import catalogues, describe_references, templates
from .forms import GatePolicyForm, ModelCardForm, RiskForm, TeamItemForm, TierForm
from .models import (
    Answer,
    Audit,
    AuditItem,
    AuditStatus,
    Comment,
    Dimension,
    Evidence,
    Kind,
    ModelCard,
    Risk,
    SignOff,
    TeamTemplateItem,
    TierAssessment,
    TrailEntry,
)
from .risks import BAND_TEXT, FORMULA, IMPACT_LABELS, LIKELIHOOD_LABELS, heat_map
from .services import AuditError
from .tiers import (
    CHATBOT_QUESTION,
    HIGH_RISK_AREAS,
    PROFILING_QUESTION,
    PROHIBITED_QUESTION,
    SYNTHETIC_QUESTION,
)

PAGE_SIZE = 50


# --- audits of a use case and of the team ---------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def usecase_audits(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase(request, team_slug, code, PREPARE if request.method == "POST" else READ)
    if request.method == "POST":
        try:
            audit = services.start_audit(use_case, request.POST.get("kind", ""), request.user)
        except AuditError as error:
            messages.error(request, str(error))
            return redirect("audits:usecase_audits", team_slug=team_slug, code=code)
        messages.success(request, f"Started the {audit.get_kind_display().lower()} audit.")
        return redirect("audits:audit_detail", team_slug=team_slug, code=audit.code)
    audits = list(
        Audit.objects.filter(use_case=use_case)
        .with_progress()
        .select_related("preparer")
        .order_by("kind", "-version")
    )
    started = {a.kind for a in audits}
    kinds = [
        {"value": value, "label": label, "template": templates()[value], "started": value in started}
        for value, label in Kind.choices
    ]
    return render(
        request,
        "audits/usecase_audits.html",
        page_context(
            access,
            "audits",
            use_case=use_case,
            audits=audits,
            kinds=kinds,
            chosen=request.GET.get("kind", ""),
        ),
    )


@login_required
def audit_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_audits_team(request, team_slug)
    audits = (
        Audit.objects.filter(team=access.team)
        .current()
        .with_progress()
        .select_related("use_case", "preparer")
    )
    status = request.GET.get("status", "")
    if status in AuditStatus.values:
        audits = audits.filter(status=status)
    page = Paginator(audits.order_by("use_case__name", "kind"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "audits/audit_list.html",
        page_context(
            access,
            "audits",
            page=page,
            status=status,
            statuses=AuditStatus.choices,
            query=urlencode({"status": status}) if status else "",
        ),
    )


def _evidence_state(team, evidence: list[Evidence], choices: dict[str, list]) -> None:
    """Adds `current` (the result now) and `warning` to each linked evidence row. Results are looked up
    in the kind's `choices` (fetched once per kind, also for the picker) and resolved one by one only
    when older than those, so the page's queries do not grow with its evidence."""
    now: dict[tuple[str, str], evidence_kinds.LinkedResult | None] = {}
    for kind in {row.kind for row in evidence if not row.is_file}:
        if kind not in choices and evidence_kinds.get(kind) is not None:
            choices[kind] = evidence_kinds.get(kind).choices(team)
        for result in choices.get(kind, []):
            now[(kind, result.code)] = result
    for row in evidence:
        row.kind_label = "File" if row.is_file else evidence_kinds.label(row.kind)
        row.warning = ""
        if row.is_file:
            continue
        key = (row.kind, row.linked_code)
        if key not in now:
            now[key] = evidence_kinds.resolve(team, row.kind, row.linked_code)
        current = row.current = now[key]
        if current is None:
            row.warning = "This result no longer exists (or its kind is not installed)."
        elif row.result_updated and current.updated > row.result_updated:
            if current.passed == row.passed:
                verdict = ""
            elif current.passed:
                verdict = " and now passes"
            elif current.passed is False:
                verdict = " and now does not pass"
            else:
                verdict = " and now has no verdict"
            row.warning = (
                f"Changed since it was linked{verdict}: check it and link it again if it still holds."
            )


def _requirement_state(item: AuditItem, evidence: list[Evidence]) -> dict | None:
    kind = item.requires_evidence
    if not kind:
        return None
    label = evidence_kinds.label(kind)
    if evidence_kinds.get(kind) is None:
        return {
            "state": "unavailable",
            "text": f"Needs a {label.lower()}; this kind of result is not available yet.",
        }
    linked = [e for e in evidence if e.kind == kind]
    if not linked:
        return {"state": "missing", "text": f"Needs a linked {label.lower()}: none yet."}
    if any(e.passed and not e.warning for e in linked):
        return {"state": "current", "text": f"A linked {label.lower()} meets its rule and is current."}
    if any(e.warning for e in linked):
        return {"state": "stale", "text": f"The linked {label.lower()} changed since it was linked."}
    return {"state": "failing", "text": f"No linked {label.lower()} meets its rule yet."}


def _audit_context(request, access, audit: Audit, **extra) -> dict:
    items = list(audit.items.select_related("answered_by"))
    evidence = list(Evidence.objects.filter(item__audit=audit).select_related("file", "added_by"))
    editable = access.can_prepare_audits and not audit.is_frozen
    choices = (
        {kind.kind: kind.choices(access.team) for kind in evidence_kinds.registered().values()}
        if editable
        else {}
    )
    _evidence_state(access.team, evidence, choices)
    comments = list(Comment.objects.filter(item__audit=audit).select_related("author"))
    by_item_evidence: dict[int, list] = {}
    for row in evidence:
        by_item_evidence.setdefault(row.item_id, []).append(row)
    by_item_comments: dict[int, list] = {}
    for comment in comments:
        by_item_comments.setdefault(comment.item_id, []).append(comment)
    risk_items = set(audit.items.filter(risks__isnull=False).values_list("pk", flat=True))
    dimensions = []
    for value, label in Dimension.choices:
        group = [item for item in items if item.dimension == value]
        if not group:
            continue
        for item in group:
            item.evidence_rows = by_item_evidence.get(item.pk, [])
            item.comment_rows = by_item_comments.get(item.pk, [])
            item.reference_rows = describe_references(item.references)
            item.requirement = _requirement_state(item, item.evidence_rows)
            item.has_risk = item.pk in risk_items
        answered = sum(1 for item in group if item.answer)
        dimensions.append(
            {
                "value": value,
                "label": label,
                "items": group,
                "answered": answered,
                "total": len(group),
                "percent": round(100 * answered / len(group)),
            }
        )
    answered = sum(1 for item in items if item.answer)
    kinds = []
    if editable:
        for kind in evidence_kinds.registered().values():
            kinds.append({"kind": kind.kind, "label": kind.label, "choices": choices[kind.kind]})
    versions = list(Audit.objects.filter(use_case=audit.use_case, kind=audit.kind).order_by("-version"))
    return page_context(
        access,
        "audits",
        audit=audit,
        use_case=audit.use_case,
        dimensions=dimensions,
        answered=answered,
        total=len(items),
        percent=round(100 * answered / len(items)) if items else 0,
        editable=editable,
        answers=Answer.choices,
        link_kinds=kinds,
        versions=versions,
        sign_problem=services.sign_problem(audit, request.user) if access.can_audit else None,
        sign_off=getattr(audit, "sign_off", None) if audit.is_signed else None,
        reopened=audit.next_version if hasattr(audit, "next_version") else None,
        max_mb=files.max_bytes() // (1024 * 1024),
        allowed_types=files.ALLOWED_TEXT,
        **extra,
    )


@login_required
def audit_detail(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, audit = get_audit(request, team_slug, code)
    return render(request, "audits/audit_detail.html", _audit_context(request, access, audit))


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _back(audit: Audit, item: AuditItem | None = None) -> HttpResponse:
    url = reverse("audits:audit_detail", args=[audit.team.slug, audit.code])
    return redirect(url + (f"#item-{item.pk}" if item else ""))


@login_required
@require_POST
def item_answer(request: HttpRequest, team_slug: str, code: uuid.UUID, item_id: int) -> HttpResponse:
    access, audit, item = get_item(request, team_slug, code, item_id)
    try:
        services.answer_item(
            item,
            answer=request.POST.get("answer", ""),
            notes=request.POST.get("notes", ""),
            user=request.user,
        )
    except AuditError as error:
        messages.error(request, str(error))
    return _back(audit, item)


@login_required
@require_POST
def item_comment(request: HttpRequest, team_slug: str, code: uuid.UUID, item_id: int) -> HttpResponse:
    access, audit, item = get_item(request, team_slug, code, item_id)
    try:
        services.add_comment(item, request.POST.get("body", ""), request.user)
    except AuditError as error:
        messages.error(request, str(error))
    return _back(audit, item)


@login_required
@require_POST
def item_evidence(request: HttpRequest, team_slug: str, code: uuid.UUID, item_id: int) -> HttpResponse:
    access, audit, item = get_item(request, team_slug, code, item_id)
    try:
        if "file" in request.FILES:
            evidence = services.add_file(item, request.FILES["file"], request.user)
            messages.success(
                request, f"Attached “{evidence.filename}” (sha256 {evidence.file.sha256[:12]}…)."
            )
        elif request.POST.get("kind"):
            evidence = services.link_result(
                item, request.POST["kind"], request.POST.get("result", ""), request.user
            )
            messages.success(request, f"Linked “{evidence.title}”.")
        else:
            messages.error(request, "Choose a file to upload or a result to link.")
    except (AuditError, files.EvidenceFileError) as error:
        messages.error(request, str(error))
    return _back(audit, item)


@login_required
@require_POST
def item_risk(request: HttpRequest, team_slug: str, code: uuid.UUID, item_id: int) -> HttpResponse:
    access, audit, item = get_item(request, team_slug, code, item_id)
    evidence_code = request.POST.get("evidence", "")
    try:
        if evidence_code:
            evidence = Evidence.objects.filter(item=item, code=_uuid_or_none(evidence_code)).first()
            if evidence is None or evidence.is_file:
                raise AuditError("Choose a linked result of this item.")
            risk = services.risk_from_result(
                audit.use_case, evidence.kind, evidence.linked_code, request.user, dimension=item.dimension
            )
        else:
            risk = services.risk_from_item(item, request.user)
    except AuditError as error:
        messages.error(request, str(error))
        return _back(audit, item)
    messages.success(request, "Added the risk to the register: rate it and plan its mitigation.")
    return redirect("audits:risk_detail", team_slug=team_slug, code=risk.code)


@login_required
@require_POST
def evidence_remove(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, evidence = get_evidence(request, team_slug, code, PREPARE)
    audit = evidence.item.audit
    try:
        services.remove_evidence(evidence, request.user)
        messages.success(request, f"Removed “{evidence.title}”.")
    except AuditError as error:
        messages.error(request, str(error))
    return _back(audit)


@login_required
def evidence_download(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, evidence = get_evidence(request, team_slug, code)
    if not evidence.is_file:
        raise Http404("Not a file")
    path = files.stored_path(evidence.file.sha256)
    if not path.exists():
        raise Http404("The file is missing from storage")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=evidence.filename,
        content_type=evidence.file.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def audit_submit(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, audit = get_audit(request, team_slug, code, PREPARE)
    try:
        services.submit(audit, request.user)
        messages.success(request, "Asked for sign-off: an auditor or admin other than you signs it.")
    except AuditError as error:
        messages.error(request, str(error))
    return _back(audit)


@login_required
@require_POST
def audit_sign(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, audit = get_audit(request, team_slug, code, AUDIT)
    problem = services.sign_problem(audit, request.user)
    if problem and (
        audit.preparer_id == request.user.pk or audit.items.filter(answered_by=request.user).exists()
    ):
        raise PermissionDenied(problem)
    try:
        services.sign(
            audit,
            user=request.user,
            decision=request.POST.get("decision", ""),
            comment=request.POST.get("comment", ""),
        )
    except AuditError as error:
        messages.error(request, str(error))
        return _back(audit)
    audit.refresh_from_db()
    messages.success(request, f"Signed: {audit.get_status_display().lower()}. This version is now frozen.")
    return _back(audit)


@login_required
@require_POST
def audit_reopen(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, audit = get_audit(request, team_slug, code, PREPARE)
    try:
        new = services.reopen(audit, request.user)
    except AuditError as error:
        messages.error(request, str(error))
        return _back(audit)
    messages.success(request, f"Reopened as version {new.version}; version {audit.version} stays as signed.")
    return redirect("audits:audit_detail", team_slug=team_slug, code=new.code)


@login_required
def audit_diff(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, audit = get_audit(request, team_slug, code)
    other_code = request.GET.get("against", "")
    versions = Audit.objects.filter(use_case=audit.use_case, kind=audit.kind)
    try:
        other = versions.filter(code=uuid.UUID(other_code)).first() if other_code else audit.previous
    except ValueError:
        other = None
    if other is None:
        raise Http404("No version to compare with")
    old, new = (other, audit) if other.version < audit.version else (audit, other)
    return render(
        request,
        "audits/audit_diff.html",
        page_context(access, "audits", audit=audit, old=old, new=new, rows=services.diff(old, new)),
    )


# --- risks ------------------------------------------------------------------------------------------------


def _register_context(access, use_case, form) -> dict:
    risks = list(Risk.objects.filter(use_case=use_case).select_related("owner", "source_item__audit"))
    open_risks = [r for r in risks if r.is_open]
    return page_context(
        access,
        "audits",
        use_case=use_case,
        risks=risks,
        form=form,
        formula=FORMULA,
        bands=BAND_TEXT,
        inherent_cells=heat_map([(r.likelihood, r.impact) for r in open_risks]),
        residual_cells=heat_map([(r.residual_likelihood, r.residual_impact) for r in open_risks]),
        likelihood_labels=LIKELIHOOD_LABELS,
        impact_labels=IMPACT_LABELS,
        policy=gates.policy_for(access.team),
    )


@login_required
@require_http_methods(["GET", "POST"])
def risk_register(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase(request, team_slug, code, PREPARE if request.method == "POST" else READ)
    form = RiskForm(request.POST or None, team=access.team, initial={"owner": use_case.owner_id})
    if request.method == "POST" and form.is_valid():
        risk = form.save(commit=False)
        risk.team, risk.use_case, risk.created_by = access.team, use_case, request.user
        services.save_risk(risk, request.user, created=True)
        messages.success(request, f"Added the risk (score {risk.score}, residual {risk.residual_score}).")
        return redirect("audits:risk_register", team_slug=team_slug, code=code)
    status = 400 if form.errors else 200
    return render(
        request, "audits/risk_register.html", _register_context(access, use_case, form), status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def risk_detail(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, risk = get_risk(request, team_slug, code, PREPARE if request.method == "POST" else READ)
    form = RiskForm(request.POST or None, instance=risk, team=access.team)
    if not access.can_prepare_audits:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        services.save_risk(form.save(commit=False), request.user, created=False)
        messages.success(request, "Saved the risk.")
        return redirect("audits:risk_register", team_slug=team_slug, code=risk.use_case.code)
    entries = TrailEntry.objects.filter(object_code=str(risk.code))[:50]
    return render(
        request,
        "audits/risk_detail.html",
        page_context(
            access,
            "audits",
            risk=risk,
            use_case=risk.use_case,
            form=form,
            formula=FORMULA,
            bands=BAND_TEXT,
            entries=entries,
        ),
        status=400 if form.errors else 200,
    )


# --- tier, policy, team template items ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tier(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase(request, team_slug, code, PREPARE if request.method == "POST" else READ)
    latest = TierAssessment.objects.filter(use_case=use_case).select_related("assessed_by").first()
    form = TierForm(request.POST or None, initial=latest.answers if latest else None)
    if request.method == "POST" and form.is_valid():
        assessment = services.record_tier(use_case, form.answers(), request.user)
        messages.success(request, f"Risk tier: {assessment.get_tier_display()}.")
        return redirect("audits:tier", team_slug=team_slug, code=code)
    return render(
        request,
        "audits/tier.html",
        page_context(
            access,
            "audits",
            use_case=use_case,
            form=form,
            latest=latest,
            history=TierAssessment.objects.filter(use_case=use_case).select_related("assessed_by")[:10],
            questions={
                "prohibited": PROHIBITED_QUESTION,
                "chatbot": CHATBOT_QUESTION,
                "synthetic": SYNTHETIC_QUESTION,
                "narrow": PROFILING_QUESTION,
            },
            areas=HIGH_RISK_AREAS,
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def gate_policy(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_audits_team(request, team_slug, ADMIN if request.method == "POST" else READ)
    policy = gates.policy_for(access.team)
    before = {f: getattr(policy, f) for f in GatePolicyForm.Meta.fields}
    form = GatePolicyForm(request.POST or None, instance=policy)
    if not access.is_admin:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST" and form.is_valid():
        services.save_policy(form.save(commit=False), before, request.user)
        messages.success(request, "Saved the gate policy.")
        return redirect("audits:gate_policy", team_slug=team_slug)
    return render(
        request,
        "audits/gate_policy.html",
        page_context(access, "audits", form=form),
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_items(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_audits_team(request, team_slug, ADMIN if request.method == "POST" else READ)
    form = TeamItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_team_item(access.team, request.user, **form.item_fields())
        except AuditError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Added the item: audits started from now on include it.")
            return redirect("audits:team_items", team_slug=team_slug)
    shipped = [{"template": t, "count": len(t.items), "extra": 0} for t in templates().values()]
    items = list(TeamTemplateItem.objects.filter(team=access.team))
    for row in shipped:
        row["extra"] = sum(1 for i in items if i.kind == row["template"].kind)
    return render(
        request,
        "audits/team_items.html",
        page_context(
            access, "audits", form=form, items=items, shipped=shipped, catalogues=catalogues().values()
        ),
        status=400 if form.errors else 200,
    )


# --- trail ----------------------------------------------------------------------------------------------


@login_required
def trail_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    access = get_audits_team(request, team_slug)
    entries = TrailEntry.objects.filter(team_id=access.team.pk)
    person = request.GET.get("person", "").strip()[:150]
    obj = request.GET.get("object", "").strip()[:64]
    use_case_code = request.GET.get("use_case", "").strip()[:64]
    if person:
        entries = entries.filter(actor_name=person)
    if obj:
        entries = entries.filter(Q(object_code=obj) | Q(object_label__icontains=obj))
    if use_case_code:
        entries = entries.filter(use_case_code=use_case_code)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    people = (
        TrailEntry.objects.filter(team_id=access.team.pk)
        .order_by("actor_name")
        .values_list("actor_name", flat=True)
        .distinct()
    )
    return render(
        request,
        "audits/trail.html",
        page_context(
            access,
            "trail",
            page=page,
            person=person,
            obj=obj,
            use_case_code=use_case_code,
            people=people,
            query=urlencode(
                {k: v for k, v in {"person": person, "object": obj, "use_case": use_case_code}.items() if v}
            ),
        ),
    )


# --- report ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def report_view(request: HttpRequest, team_slug: str, code: uuid.UUID) -> HttpResponse:
    access, use_case = get_usecase(request, team_slug, code, PREPARE if request.method == "POST" else READ)
    card = ModelCard.objects.filter(use_case=use_case).first()
    data = report.build(use_case)
    initial = {**report.default_card_text(use_case, data["audits"]), **(card.fields if card else {})}
    form = ModelCardForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.save_model_card(use_case, form.cleaned_data, request.user)
        messages.success(request, "Saved the model card: the exports use it.")
        return redirect("audits:report", team_slug=team_slug, code=code)
    return render(
        request,
        "audits/report.html",
        page_context(access, "audits", use_case=use_case, r=data, form=form, **report.chart_context(data)),
        status=400 if form.errors else 200,
    )


@login_required
def report_export(request: HttpRequest, team_slug: str, code: uuid.UUID, fmt: str) -> HttpResponse:
    access, use_case = get_usecase(request, team_slug, code)
    data = report.build(use_case)
    name = f"audit-report-{slugify(use_case.name) or use_case.code}"
    if fmt == "json":
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
        )
    elif fmt == "md":
        response = HttpResponse(report.to_markdown(data), content_type="text/markdown; charset=utf-8")
    elif fmt == "pdf":
        response = HttpResponse(report.to_pdf(data), content_type="application/pdf")
    else:
        raise Http404("Unknown format")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


__all__ = ["SignOff"]
