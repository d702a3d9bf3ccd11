from __future__ import annotations

from rest_framework import serializers


class RowProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="Spreadsheet row (the header is row 1).")
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    rows = RowProblemSerializer(many=True, required=False, help_text="Bulk imports: every row problem.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class UpdatedAfterFilter(serializers.Serializer):
    updated_after = serializers.DateTimeField(
        required=False, help_text="Only objects changed after this time (ISO 8601), oldest change first."
    )
