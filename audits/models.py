"""Responsible-AI audits of use cases: checklists from versioned templates, answers, sign-off, evidence,
the risk register, risk tiers, gate policy and the hash-chained trail."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q

from accounts.models import Team
from opportunities.models import RiskTier, Stage, UseCase

from .risks import risk_score


class Kind(models.TextChoices):
    GOVERNANCE = "governance", "Governance"
    MODEL = "model", "Model"
    APPLICATION = "application", "Application"


class Dimension(models.TextChoices):
    FAIRNESS = "fairness", "Fairness"
    TRANSPARENCY = "transparency", "Transparency"
    PRIVACY = "privacy", "Privacy"
    SECURITY = "security", "Security"
    ETHICAL_USE = "ethical_use", "Ethical use"


class AuditStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Waiting for sign-off"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


SIGNED = (AuditStatus.APPROVED, AuditStatus.REJECTED)


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    PARTIAL = "partial", "Partial"
    NO = "no", "No"
    NOT_APPLICABLE = "na", "Not applicable"


class TeamTemplateItem(models.Model):
    """An item a team admin added to the team's copy of a template; audits started later include it."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="audit_template_items")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.SlugField(max_length=60)
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    text = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    references = models.JSONField(default=dict, blank=True)
    requires_evidence = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "kind", "key"], name="team_item_unique_key")]


class AuditQuerySet(models.QuerySet):
    def with_progress(self):
        """answered / item_count per audit, one query for any number of audits."""
        return self.annotate(
            item_count=Count("items", distinct=True),
            answered=Count("items", filter=~Q(items__answer=""), distinct=True),
        )

    def current(self):
        """The newest version of each (use case, kind): those no later version reopened."""
        return self.filter(next_version__isnull=True)


class Audit(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="audits")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # RESTRICT: a use case with audits cannot be deleted on its own, but goes with its team.
    use_case = models.ForeignKey(UseCase, models.RESTRICT, related_name="audits")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    template_key = models.CharField(max_length=40)
    # The file version, plus "+team.<n>" when the team's own items were included.
    template_version = models.CharField(max_length=40)
    version = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", models.RESTRICT, null=True, blank=True, related_name="next_version"
    )
    status = models.CharField(max_length=12, choices=AuditStatus.choices, default=AuditStatus.IN_PROGRESS)
    preparer = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="prepared_audits")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    submitted = models.DateTimeField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["use_case_id", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "kind", "version"], name="audit_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} audit v{self.version} of {self.use_case}"

    @property
    def is_signed(self) -> bool:
        return self.status in SIGNED

    @property
    def is_frozen(self) -> bool:
        """Signed audits never change; reopening makes a new version."""
        return self.is_signed

    @property
    def percent(self) -> int:
        """Needs `with_progress()`."""
        return round(100 * self.answered / self.item_count) if self.item_count else 0


class AuditItem(models.Model):
    """One checklist item, copied from the template when the audit started, with its answer."""

    audit = models.ForeignKey(Audit, models.CASCADE, related_name="items")
    key = models.CharField(max_length=60)
    position = models.PositiveIntegerField()
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    text = models.CharField(max_length=300)
    guidance = models.TextField(blank=True)
    references = models.JSONField(default=dict, blank=True)
    requires_evidence = models.CharField(max_length=40, blank=True)
    answer = models.CharField(max_length=8, choices=Answer.choices, blank=True)
    notes = models.TextField(blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["audit_id", "position"]
        constraints = [models.UniqueConstraint(fields=["audit", "key"], name="audit_item_unique_key")]

    def __str__(self) -> str:
        return self.text


class SignOff(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    audit = models.OneToOneField(Audit, models.CASCADE, related_name="sign_off")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    signed_at = models.DateTimeField(auto_now_add=True)


class Comment(models.Model):
    item = models.ForeignKey(AuditItem, models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]


class EvidenceFile(models.Model):
    """A file's bytes, stored once per team under ASSAY_DATA_DIR by their sha256."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="evidence_files")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "sha256"], name="evidence_file_unique_hash")]


class Evidence(models.Model):
    """A file or a link to a result (see audits.evidence_kinds) attached to an audit item.

    A link stores the kind and public code of the result plus what it showed when linked (title,
    verdict, headline figures, when it last changed), so new kinds need no migration."""

    FILE = "file"

    team = models.ForeignKey(Team, models.CASCADE, related_name="evidence")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    item = models.ForeignKey(AuditItem, models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=40)  # "file" or a registered evidence kind
    title = models.CharField(max_length=255)
    file = models.ForeignKey(EvidenceFile, models.RESTRICT, null=True, blank=True, related_name="uses")
    filename = models.CharField(max_length=255, blank=True)
    linked_code = models.CharField(max_length=64, blank=True)
    url = models.CharField(max_length=500, blank=True)
    passed = models.BooleanField(null=True)
    summary = models.JSONField(default=dict, blank=True)
    result_updated = models.DateTimeField(null=True, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item_id", "added", "id"]

    @property
    def is_file(self) -> bool:
        return self.kind == self.FILE


class RiskStatus(models.TextChoices):
    OPEN = "open", "Open"
    MITIGATING = "mitigating", "Mitigating"
    ACCEPTED = "accepted", "Accepted"
    CLOSED = "closed", "Closed"


# Statuses that still count against the stage gate and the "overdue" list.
OPEN_RISK_STATUSES = (RiskStatus.OPEN, RiskStatus.MITIGATING)

SCALE = [MinValueValidator(1), MaxValueValidator(5)]


class Risk(models.Model):
    team = models.ForeignKey(Team, models.CASCADE, related_name="risks")
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    use_case = models.ForeignKey(UseCase, models.RESTRICT, related_name="risks")
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    description = models.TextField(max_length=10_000)
    likelihood = models.PositiveSmallIntegerField(validators=SCALE)
    impact = models.PositiveSmallIntegerField(validators=SCALE)
    mitigation = models.TextField(blank=True, max_length=10_000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="owned_risks"
    )
    due = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RiskStatus.choices, default=RiskStatus.OPEN)
    residual_likelihood = models.PositiveSmallIntegerField(validators=SCALE)
    residual_impact = models.PositiveSmallIntegerField(validators=SCALE)
    # Where it came from: an audit item answered "no"/"partial", or a failed result.
    source_item = models.ForeignKey(AuditItem, models.SET_NULL, null=True, blank=True, related_name="risks")
    source_label = models.CharField(max_length=300, blank=True)
    source_url = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["use_case_id", "-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(likelihood__gte=1, likelihood__lte=5, impact__gte=1, impact__lte=5),
                name="risk_inherent_1_5",
            ),
            models.CheckConstraint(
                condition=Q(
                    residual_likelihood__gte=1,
                    residual_likelihood__lte=5,
                    residual_impact__gte=1,
                    residual_impact__lte=5,
                ),
                name="risk_residual_1_5",
            ),
        ]

    def __str__(self) -> str:
        return self.description[:80]

    @property
    def score(self) -> int:
        return risk_score(self.likelihood, self.impact).score

    @property
    def residual_score(self) -> int:
        return risk_score(self.residual_likelihood, self.residual_impact).score

    @property
    def band(self) -> str:
        return risk_score(self.likelihood, self.impact).band

    @property
    def residual_band(self) -> str:
        return risk_score(self.residual_likelihood, self.residual_impact).band

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_RISK_STATUSES


class TierAssessment(models.Model):
    """The answers to the risk tier questionnaire, the tier they give and why; the newest counts."""

    use_case = models.ForeignKey(UseCase, models.CASCADE, related_name="tier_assessments")
    answers = models.JSONField(default=dict)
    tier = models.CharField(max_length=12, choices=RiskTier.choices)
    rationale = models.JSONField(default=list)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    assessed = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-assessed", "-id"]


class GatePolicy(models.Model):
    """A team's stage-gate rules (audits.gates); a team without a row uses the defaults."""

    team = models.OneToOneField(Team, models.CASCADE, related_name="gate_policy")
    build_needs_governance = models.BooleanField(
        "entering Build needs a signed-off governance audit", default=True
    )
    deploy_needs_model = models.BooleanField("entering Deploy needs a signed-off model audit", default=True)
    deploy_needs_application = models.BooleanField(
        "entering Deploy needs a signed-off application audit", default=True
    )
    deploy_high_needs_governance = models.BooleanField(
        "high-risk use cases entering Deploy need a signed-off governance audit", default=True
    )
    max_open_residual = models.PositiveSmallIntegerField(
        "highest residual score an open risk may have when entering Deploy",
        default=9,
        validators=[MinValueValidator(1), MaxValueValidator(25)],
    )
    updated = models.DateTimeField(auto_now=True)


class ModelCard(models.Model):
    """What a person edited in a use case's model card before export; the rest is filled from data."""

    use_case = models.OneToOneField(UseCase, models.CASCADE, related_name="model_card")
    fields = models.JSONField(default=dict)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    updated = models.DateTimeField(auto_now=True)


class AppendOnly(Exception):
    pass


ACTION_LABELS = {
    "usecase.created": "created the use case",
    "usecase.stage_moved": "moved the stage",
    "usecase.stage_refused": "was refused a stage move",
    "usecase.stage_overridden": "overrode a stage gate",
    "usecase.tier_assessed": "assessed the risk tier",
    "audit.created": "started an audit",
    "audit.answered": "answered an item",
    "audit.commented": "commented on an item",
    "audit.submitted": "asked for sign-off",
    "audit.signed": "signed an audit",
    "audit.reopened": "reopened an audit",
    "evidence.added": "added evidence",
    "evidence.removed": "removed evidence",
    "risk.created": "added a risk",
    "risk.changed": "changed a risk",
    "thresholds.changed": "changed the feasibility thresholds",
    "gate_policy.changed": "changed the gate policy",
    "template.item_added": "added a template item",
    "model_card.edited": "edited the model card",
    "member.added": "added a member",
    "member.removed": "removed a member",
    "member.role_changed": "changed a member's role",
}


class TrailQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Trail entries are never changed.")

    def delete(self):
        raise AppendOnly("Trail entries are never deleted.")


class TrailEntry(models.Model):
    """One governance-relevant event. Append-only: each entry's hash is an HMAC (keyed with a secret
    that is not in the database) over its content and the previous entry's hash; see audits.trail."""

    seq = models.PositiveBigIntegerField(unique=True)
    # No cascades: deleting a team or a user must not rewrite (and so break) the chain.
    team = models.ForeignKey(Team, models.DO_NOTHING, null=True, db_constraint=False, related_name="trail")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.DO_NOTHING, null=True, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_code = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=300, blank=True)
    use_case_code = models.CharField(max_length=64, blank=True)
    change = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = TrailQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["team", "-seq"], name="trail_team_seq"),
            models.Index(fields=["use_case_code", "-seq"], name="trail_usecase_seq"),
        ]

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("Trail entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Trail entries are never deleted.")


class TrailHead(models.Model):
    """One row, locked while an entry is appended so the chain stays a single line."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
