"""Audit writes: each one checks its rule, changes the data and appends its trail entry in one
transaction. Refusals raise AuditError with a message for the person who tried."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from opportunities.models import UseCase

from . import evidence_kinds, files, trail
from .catalogues import templates, unresolved_references
from .models import (
    SIGNED,
    Answer,
    Audit,
    AuditItem,
    AuditStatus,
    Comment,
    Dimension,
    Evidence,
    GatePolicy,
    Kind,
    ModelCard,
    Risk,
    SignOff,
    TeamTemplateItem,
    TierAssessment,
)
from .tiers import assess_tier

NOTES_MAX = 5000
COMMENT_MAX = 3000


class AuditError(Exception):
    pass


def _user_name(user) -> str:
    return user.get_username() if user is not None else ""


# --- audits ------------------------------------------------------------------------------------------


@transaction.atomic
def start_audit(use_case: UseCase, kind: str, user) -> Audit:
    if kind not in Kind.values:
        raise AuditError(f"Unknown audit kind {kind!r}: choose governance, model or application.")
    current = Audit.objects.filter(use_case=use_case, kind=kind).current().first()
    if current is not None:
        raise AuditError(
            f"This use case already has a {Kind(kind).label.lower()} audit (version {current.version}); "
            "reopen it to start a new version."
        )
    template = templates()[kind]
    team_items = list(TeamTemplateItem.objects.filter(team=use_case.team, kind=kind))
    version = template.version + (f"+team.{len(team_items)}" if team_items else "")
    audit = Audit.objects.create(
        team=use_case.team,
        use_case=use_case,
        kind=kind,
        stage=template.stage,
        template_key=template.key,
        template_version=version,
        preparer=user,
    )
    rows = [
        AuditItem(
            audit=audit,
            key=item["key"],
            position=index,
            dimension=item["dimension"],
            text=item["text"],
            guidance=item.get("guidance", ""),
            references=item.get("references", {}),
            requires_evidence=item.get("requires_evidence") or "",
        )
        for index, item in enumerate(template.items)
    ]
    rows += [
        AuditItem(
            audit=audit,
            key=f"team-{item.key}",
            position=len(template.items) + index,
            dimension=item.dimension,
            text=item.text,
            guidance=item.guidance,
            references=item.references,
            requires_evidence=item.requires_evidence,
        )
        for index, item in enumerate(team_items)
    ]
    AuditItem.objects.bulk_create(rows)
    trail.record(
        "audit.created",
        team=use_case.team,
        user=user,
        obj=audit,
        use_case=use_case,
        change={"kind": kind, "template": f"{template.key}-{version}", "items": len(rows)},
    )
    return audit


def _editable(audit: Audit) -> None:
    if audit.is_frozen:
        raise AuditError(
            f"Version {audit.version} of this audit is signed ({audit.get_status_display().lower()}) and "
            "frozen: reopen it to make a new version."
        )


@transaction.atomic
def answer_item(item: AuditItem, *, answer: str, notes: str, user) -> AuditItem:
    audit = item.audit
    _editable(audit)
    if answer not in Answer.values and answer != "":
        raise AuditError(f"Unknown answer {answer!r}: choose yes, partial, no or not applicable.")
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        raise AuditError(f"The notes are too long ({len(notes)} characters; at most {NOTES_MAX}).")
    before = {"answer": item.answer, "notes": item.notes}
    if before == {"answer": answer, "notes": notes}:
        return item
    item.answer, item.notes = answer, notes
    item.answered_by, item.answered_at = user, timezone.now()
    item.save(update_fields=["answer", "notes", "answered_by", "answered_at"])
    Audit.objects.filter(pk=audit.pk).update(updated=timezone.now())
    trail.record(
        "audit.answered",
        team=audit.team,
        user=user,
        obj=audit,
        use_case=audit.use_case,
        change={
            "item": item.key,
            "answer": [before["answer"], answer],
            "notes_changed": before["notes"] != notes,
        },
    )
    return item


@transaction.atomic
def add_comment(item: AuditItem, body: str, user) -> Comment:
    body = body.strip()
    if not body:
        raise AuditError("Write a comment first.")
    if len(body) > COMMENT_MAX:
        raise AuditError(f"The comment is too long ({len(body)} characters; at most {COMMENT_MAX}).")
    comment = Comment.objects.create(item=item, author=user, body=body)
    trail.record(
        "audit.commented",
        team=item.audit.team,
        user=user,
        obj=item.audit,
        use_case=item.audit.use_case,
        change={"item": item.key, "comment": body[:200]},
    )
    return comment


@transaction.atomic
def submit(audit: Audit, user) -> Audit:
    _editable(audit)
    if audit.status == AuditStatus.SUBMITTED:
        raise AuditError("This audit is already waiting for sign-off.")
    unanswered = audit.items.filter(answer="").count()
    if unanswered:
        raise AuditError(
            f"{unanswered} item{'s are' if unanswered != 1 else ' is'} not answered yet: answer every item "
            "(not applicable counts) before asking for sign-off."
        )
    audit.status, audit.submitted = AuditStatus.SUBMITTED, timezone.now()
    audit.save(update_fields=["status", "submitted", "updated"])
    trail.record("audit.submitted", team=audit.team, user=user, obj=audit, use_case=audit.use_case)
    return audit


def sign_problem(audit: Audit, user) -> str | None:
    """Why `user` may not sign `audit` (role checks are the view's: auditors and admins only)."""
    if audit.is_signed:
        return f"This audit is already signed ({audit.get_status_display().lower()})."
    if audit.status != AuditStatus.SUBMITTED:
        return "The preparer has not asked for sign-off yet."
    if audit.preparer_id == user.pk:
        return "You prepared this audit: a second person (an auditor or admin) must sign it off."
    if audit.items.filter(answered_by=user).exists():
        return "You answered items of this audit: sign-off must come from someone who did not prepare it."
    return None


@transaction.atomic
def sign(audit: Audit, *, user, decision: str, comment: str) -> SignOff:
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    problem = sign_problem(audit, user)
    if problem:
        raise AuditError(problem)
    comment = comment.strip()
    if decision not in SignOff.Decision.values:
        raise AuditError("Choose approve or reject.")
    if decision == SignOff.Decision.REJECTED and not comment:
        raise AuditError("Give the reason for rejecting, so the preparer knows what to fix.")
    if len(comment) > COMMENT_MAX:
        raise AuditError(f"The comment is too long ({len(comment)} characters; at most {COMMENT_MAX}).")
    sign_off = SignOff.objects.create(audit=audit, signer=user, decision=decision, comment=comment)
    audit.status = AuditStatus.APPROVED if decision == SignOff.Decision.APPROVED else AuditStatus.REJECTED
    audit.save(update_fields=["status", "updated"])
    trail.record(
        "audit.signed",
        team=audit.team,
        user=user,
        obj=audit,
        use_case=audit.use_case,
        change={"decision": decision, "comment": comment[:500], "preparer": _user_name(audit.preparer)},
    )
    return sign_off


@transaction.atomic
def reopen(audit: Audit, user) -> Audit:
    """A new version with the signed one's answers, notes and evidence; the signed one stays as it is."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.status not in SIGNED:
        raise AuditError("Only a signed audit is reopened; this one can still be edited.")
    if Audit.objects.filter(previous=audit).exists():
        raise AuditError("This version was already reopened: work on the newest version.")
    new = Audit.objects.create(
        team=audit.team,
        use_case=audit.use_case,
        kind=audit.kind,
        stage=audit.stage,
        template_key=audit.template_key,
        template_version=audit.template_version,
        version=audit.version + 1,
        previous=audit,
        preparer=user,
    )
    old_items = list(audit.items.all())
    AuditItem.objects.bulk_create(
        AuditItem(
            audit=new,
            key=item.key,
            position=item.position,
            dimension=item.dimension,
            text=item.text,
            guidance=item.guidance,
            references=item.references,
            requires_evidence=item.requires_evidence,
            answer=item.answer,
            notes=item.notes,
            answered_by=item.answered_by,
            answered_at=item.answered_at,
        )
        for item in old_items
    )
    new_items = {item.key: item for item in new.items.all()}
    by_old = {item.pk: item.key for item in old_items}
    copies = []
    for evidence in Evidence.objects.filter(item__audit=audit):
        copies.append(
            Evidence(
                team=evidence.team,
                item=new_items[by_old[evidence.item_id]],
                kind=evidence.kind,
                title=evidence.title,
                file=evidence.file,
                filename=evidence.filename,
                linked_code=evidence.linked_code,
                url=evidence.url,
                passed=evidence.passed,
                summary=evidence.summary,
                result_updated=evidence.result_updated,
                added_by=evidence.added_by,
            )
        )
    Evidence.objects.bulk_create(copies)
    trail.record(
        "audit.reopened",
        team=audit.team,
        user=user,
        obj=new,
        use_case=audit.use_case,
        change={"from_version": audit.version, "version": new.version},
    )
    return new


def diff(old: Audit, new: Audit) -> list[dict]:
    """Per item key, what changed between two versions: answer and notes; items only in one."""
    before = {item.key: item for item in old.items.all()}
    after = {item.key: item for item in new.items.all()}
    rows = []
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            item = a or b
            rows.append({"key": key, "text": item.text, "change": "removed" if b is None else "added"})
            continue
        if a.answer != b.answer or a.notes != b.notes:
            rows.append(
                {
                    "key": key,
                    "text": b.text,
                    "change": "changed",
                    "answer": (a.get_answer_display() or "—", b.get_answer_display() or "—"),
                    "notes": (a.notes, b.notes) if a.notes != b.notes else None,
                }
            )
    return rows


# --- evidence ------------------------------------------------------------------------------------------


@transaction.atomic
def add_file(item: AuditItem, upload, user) -> Evidence:
    _editable(item.audit)
    checked = files.check_upload(upload)
    stored, created = files.store(item.audit.team, checked)
    filename = (upload.name or "file")[-255:]
    evidence = Evidence.objects.create(
        team=item.audit.team,
        item=item,
        kind=Evidence.FILE,
        title=filename,
        file=stored,
        filename=filename,
        added_by=user,
    )
    trail.record(
        "evidence.added",
        team=item.audit.team,
        user=user,
        obj=evidence,
        object_label=filename,
        use_case=item.audit.use_case,
        change={"item": item.key, "sha256": stored.sha256, "size": stored.size, "deduplicated": not created},
    )
    return evidence


@transaction.atomic
def link_result(item: AuditItem, kind: str, code: str, user) -> Evidence:
    _editable(item.audit)
    team = item.audit.team
    if evidence_kinds.get(kind) is None:
        raise AuditError(f"{evidence_kinds.label(kind)} results cannot be linked yet in this installation.")
    result = evidence_kinds.resolve(team, kind, code)
    if result is None:
        raise AuditError(f"No {evidence_kinds.label(kind).lower()} {code!r} in this team.")
    if Evidence.objects.filter(item=item, kind=kind, linked_code=result.code).exists():
        raise AuditError(f"“{result.title}” is already linked to this item.")
    evidence = Evidence.objects.create(
        team=team,
        item=item,
        kind=kind,
        title=result.title[:255],
        linked_code=result.code,
        url=result.url,
        passed=result.passed,
        summary=result.summary,
        result_updated=result.updated,
        added_by=user,
    )
    trail.record(
        "evidence.added",
        team=team,
        user=user,
        obj=evidence,
        object_label=result.title,
        use_case=item.audit.use_case,
        change={
            "item": item.key,
            "kind": kind,
            "code": result.code,
            "passed": result.passed,
            "summary": result.summary,
        },
    )
    return evidence


@transaction.atomic
def remove_evidence(evidence: Evidence, user) -> None:
    audit = evidence.item.audit
    _editable(audit)
    trail.record(
        "evidence.removed",
        team=audit.team,
        user=user,
        obj=evidence,
        object_label=evidence.title,
        use_case=audit.use_case,
        change={
            "item": evidence.item.key,
            "kind": evidence.kind,
            "code": evidence.linked_code,
            "sha256": evidence.file.sha256 if evidence.file_id else "",
        },
    )
    evidence.delete()


# --- risks ----------------------------------------------------------------------------------------------

RISK_FIELDS = [
    "dimension",
    "description",
    "likelihood",
    "impact",
    "mitigation",
    "owner",
    "due",
    "status",
    "residual_likelihood",
    "residual_impact",
]


def _risk_state(risk: Risk) -> dict:
    state = {}
    for name in RISK_FIELDS:
        value = getattr(risk, name)
        if name == "owner":
            value = _user_name(value) if value else ""
        elif isinstance(value, date):
            value = value.isoformat()
        state[name] = value
    state["score"] = risk.score
    state["residual_score"] = risk.residual_score
    return state


@transaction.atomic
def save_risk(risk: Risk, user, *, created: bool) -> Risk:
    before = {} if created else _risk_state(Risk.objects.get(pk=risk.pk))
    risk.save()
    after = _risk_state(risk)
    change = after if created else {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if change:
        trail.record(
            "risk.created" if created else "risk.changed",
            team=risk.team,
            user=user,
            obj=risk,
            use_case=risk.use_case,
            change=change,
        )
    return risk


def risk_from_item(item: AuditItem, user) -> Risk:
    """A risk drafted from an item answered no or partial, linked to it."""
    if item.answer not in (Answer.NO, Answer.PARTIAL):
        raise AuditError("Only an item answered “no” or “partial” becomes a risk.")
    existing = Risk.objects.filter(source_item=item).first()
    if existing is not None:
        raise AuditError("This item already has a risk in the register.")
    audit = item.audit
    likelihood, impact = (4, 3) if item.answer == Answer.NO else (3, 3)
    risk = Risk(
        team=audit.team,
        use_case=audit.use_case,
        dimension=item.dimension,
        description=f"{item.text} — answered {item.get_answer_display().lower()} in the "
        f"{audit.get_kind_display().lower()} audit (v{audit.version})."
        + (f" Notes: {item.notes}" if item.notes else ""),
        likelihood=likelihood,
        impact=impact,
        residual_likelihood=likelihood,
        residual_impact=impact,
        owner=audit.use_case.owner,
        source_item=item,
        source_label=f"{audit.get_kind_display()} audit v{audit.version}: {item.text}"[:300],
        source_url=reverse("audits:audit_detail", args=[audit.team.slug, audit.code]) + f"#item-{item.pk}",
        created_by=user,
    )
    return save_risk(risk, user, created=True)


def risk_from_result(use_case: UseCase, kind: str, code: str, user, dimension: str = "") -> Risk:
    """A risk drafted from a linked result that failed its rule (a probe, a run); `dimension` is the
    audit item's it was linked to, else guessed from the kind."""
    result = evidence_kinds.resolve(use_case.team, kind, code)
    if result is None:
        raise AuditError(f"No {evidence_kinds.label(kind).lower()} {code!r} in this team.")
    if result.passed is not False:
        raise AuditError(f"“{result.title}” did not fail: only a failed result becomes a risk.")
    if Risk.objects.filter(use_case=use_case, source_url=result.url).exists():
        raise AuditError(f"“{result.title}” already has a risk in the register.")
    risk = Risk(
        team=use_case.team,
        use_case=use_case,
        dimension=dimension
        or (
            Dimension.FAIRNESS
            if "fair" in kind or "probe" in kind
            else Dimension.SECURITY
            if "redteam" in kind
            else Dimension.TRANSPARENCY
        ),
        description=f"{evidence_kinds.label(kind)} “{result.title}” does not meet its rule.",
        likelihood=3,
        impact=3,
        residual_likelihood=3,
        residual_impact=3,
        owner=use_case.owner,
        source_label=f"{evidence_kinds.label(kind)}: {result.title}"[:300],
        source_url=result.url,
        created_by=user,
    )
    return save_risk(risk, user, created=True)


# --- tier, policy, team items, model card --------------------------------------------------------------


@transaction.atomic
def record_tier(use_case: UseCase, answers: dict, user) -> TierAssessment:
    result = assess_tier(**answers)
    assessment = TierAssessment.objects.create(
        use_case=use_case, answers=answers, tier=result.tier, rationale=result.rationale, assessed_by=user
    )
    old = use_case.risk_tier
    UseCase.objects.filter(pk=use_case.pk).update(risk_tier=result.tier, updated=timezone.now())
    use_case.risk_tier = result.tier
    trail.record(
        "usecase.tier_assessed",
        team=use_case.team,
        user=user,
        obj=use_case,
        object_type="usecase",
        use_case=use_case,
        change={"tier": [old, result.tier], "rationale": result.rationale, "answers": answers},
    )
    return assessment


@transaction.atomic
def save_policy(policy: GatePolicy, before: dict, user) -> GatePolicy:
    policy.save()
    after = {
        f.name: getattr(policy, f.name)
        for f in GatePolicy._meta.fields
        if f.name not in ("id", "team", "updated")
    }
    change = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if change:
        trail.record(
            "gate_policy.changed",
            team=policy.team,
            user=user,
            object_type="gatepolicy",
            object_code=str(policy.team.code),
            object_label=f"Gate policy of {policy.team}",
            change=change,
        )
    return policy


@transaction.atomic
def add_team_item(team, user, **fields) -> TeamTemplateItem:
    missing = unresolved_references(fields.get("references", {}))
    if missing:
        raise AuditError(f"Unknown reference {missing[0]}: use an identifier from the catalogues.")
    if TeamTemplateItem.objects.filter(team=team, kind=fields["kind"], key=fields["key"]).exists():
        raise AuditError(f"The team's {fields['kind']} template already has an item {fields['key']!r}.")
    item = TeamTemplateItem.objects.create(team=team, created_by=user, **fields)
    trail.record(
        "template.item_added",
        team=team,
        user=user,
        object_type="teamtemplateitem",
        object_code=str(item.pk),
        object_label=item.text,
        change={"kind": item.kind, "key": item.key, "dimension": item.dimension},
    )
    return item


@transaction.atomic
def save_model_card(use_case: UseCase, fields: dict, user) -> ModelCard:
    card, _ = ModelCard.objects.get_or_create(use_case=use_case)
    changed = sorted(k for k in set(card.fields) | set(fields) if card.fields.get(k) != fields.get(k))
    card.fields, card.updated_by = fields, user
    card.save()
    if changed:
        trail.record(
            "model_card.edited",
            team=use_case.team,
            user=user,
            object_type="modelcard",
            object_code=str(use_case.code),
            object_label=f"Model card of {use_case}",
            use_case=use_case,
            change={"fields": changed},
        )
    return card
