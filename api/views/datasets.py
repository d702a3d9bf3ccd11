"""Datasets and their versioned test cases; cases are added in bulk through the same parsing and
all-or-nothing import as the dataset's import page (experiments/importing.py, services/datasets.py)."""

from __future__ import annotations

import json
import re

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from experiments.access import get_dataset_for_user
from experiments.importing import ImportFailed, parse_jsonl
from experiments.models import Dataset, TestCaseVersion
from experiments.services.datasets import current_versions, import_cases

from ..errors import ImportRejected
from ..serializers.prompts import (
    CaseImportResultSerializer,
    CaseImportSerializer,
    CaseSerializer,
    DatasetSerializer,
)
from .base import TeamScoped

# "line 3, input.ticket: must not be empty" from the JSONL parser; line N is cases[N - 1].
_PROBLEM = re.compile(r"^line (\d+)(?:, ([^:]+))?: (.*)$", re.S)


def _problem(message: str) -> dict:
    found = _PROBLEM.match(message)
    if found is None:
        return {"row": None, "field": "", "message": message}
    return {"row": int(found.group(1)), "field": found.group(2) or "", "message": found.group(3)}


class DatasetList(TeamScoped, generics.ListCreateAPIView):
    """The team's datasets with their number of test cases; editors and admins create one."""

    serializer_class = DatasetSerializer

    def get_queryset(self):
        if self.is_fake:
            return Dataset.objects.none()
        datasets = Dataset.objects.filter(team=self.access(write=self.writing).team)
        return datasets.annotate(case_count=Count("cases", filter=Q(cases__removed__isnull=True))).order_by(
            "name", "id"
        )

    def create(self, request, *args, **kwargs):
        self.access(write=True)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        dataset = serializer.save(team=self.access().team, created_by=self.request.user)
        dataset.case_count = 0


class DatasetDetail(TeamScoped, generics.RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_object(self):
        _, dataset = get_dataset_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        dataset.case_count = dataset.cases.filter(removed__isnull=True).count()
        return dataset


class DatasetCases(TeamScoped, generics.ListAPIView):
    serializer_class = CaseSerializer

    def get_queryset(self):
        """The current version of each case, by key."""
        if self.is_fake:
            return TestCaseVersion.objects.none()
        _, dataset = get_dataset_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        return current_versions(dataset)

    @extend_schema(
        request=CaseImportSerializer,
        responses={200: CaseImportResultSerializer},
        description="Adds or updates test cases, all or nothing: with any problem nothing changes and the "
        "400 error lists each one in `rows` (row N is cases[N-1]).",
    )
    def post(self, request, team_slug: str, code):
        _, dataset = get_dataset_for_user(request, team_slug, code, write=True)
        body = CaseImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lines = [json.dumps(case, ensure_ascii=False) for case in body.validated_data["cases"]]
        problems = [
            {"row": number, "field": "", "message": "contains a NUL character, which cannot be stored"}
            for number, line in enumerate(lines, start=1)
            if "\\u0000" in line
        ]
        if not problems:
            try:
                cases = parse_jsonl("\n".join(lines))
            except ImportFailed as failed:
                problems = [_problem(message) for message in failed.errors]
        if problems:
            count = len(problems)
            raise ImportRejected(
                f"{count} problem{'s' if count != 1 else ''} found; nothing was imported.", problems
            )
        return Response(import_cases(dataset, request.user, cases), status=status.HTTP_200_OK)
