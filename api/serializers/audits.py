"""Audits (with their sign-off) and the risk register, read only: answers, evidence, risks and
sign-offs are written on the pages, where the preparer/signer rules live."""

from __future__ import annotations

from rest_framework import serializers

from audits.models import Audit, AuditItem, AuditStatus, Dimension, Kind, Risk, RiskStatus


class SignOffSerializer(serializers.Serializer):
    signer = serializers.CharField(source="signer.username")
    decision = serializers.CharField()
    comment = serializers.CharField()
    signed_at = serializers.DateTimeField()


class AuditSerializer(serializers.ModelSerializer):
    use_case = serializers.UUIDField(source="use_case.code", read_only=True)
    use_case_name = serializers.CharField(source="use_case.name", read_only=True)
    preparer = serializers.CharField(source="preparer.username", read_only=True)
    items = serializers.IntegerField(source="item_count", read_only=True)
    answered = serializers.IntegerField(read_only=True)
    sign_off = serializers.SerializerMethodField()

    class Meta:
        model = Audit
        fields = [
            "code", "use_case", "use_case_name", "kind", "stage", "template_key", "template_version", "version",
            "status", "preparer", "items", "answered", "sign_off", "created", "updated", "submitted",
        ]  # fmt: skip
        read_only_fields = fields

    def get_sign_off(self, audit: Audit) -> SignOffSerializer(allow_null=True):  # type: ignore[valid-type]
        sign_off = getattr(audit, "sign_off", None)
        return SignOffSerializer(sign_off).data if sign_off is not None else None


class AuditItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditItem
        fields = ["key", "position", "dimension", "text", "answer", "notes", "answered_at"]
        read_only_fields = fields


class AuditDetailSerializer(AuditSerializer):
    answers = AuditItemSerializer(source="items_list", many=True, read_only=True)

    class Meta(AuditSerializer.Meta):
        fields = [*AuditSerializer.Meta.fields, "answers"]
        read_only_fields = fields


class AuditFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=AuditStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    use_case = serializers.UUIDField(required=False, help_text="Only the audits of this use case (its code).")
    updated_after = serializers.DateTimeField(
        required=False, help_text="Only audits changed after this time."
    )


class RiskSerializer(serializers.ModelSerializer):
    use_case = serializers.UUIDField(source="use_case.code", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True, default=None)
    score = serializers.IntegerField(read_only=True, help_text="likelihood × impact")
    residual_score = serializers.IntegerField(read_only=True)

    class Meta:
        model = Risk
        fields = [
            "code", "use_case", "dimension", "description", "likelihood", "impact", "score", "mitigation",
            "owner", "due", "status", "residual_likelihood", "residual_impact", "residual_score", "created",
            "updated",
        ]  # fmt: skip
        read_only_fields = fields


class RiskFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=RiskStatus.choices, required=False)
    dimension = serializers.ChoiceField(choices=Dimension.choices, required=False)
    use_case = serializers.UUIDField(required=False, help_text="Only the risks of this use case (its code).")
    updated_after = serializers.DateTimeField(required=False, help_text="Only risks changed after this time.")
