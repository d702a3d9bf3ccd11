"""Prompt templates and their versions, through experiments.services.prompts (validated as in the
builder; identical content is the same version)."""

from __future__ import annotations

from django.db.models import Max
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from experiments.access import get_prompt_for_user
from experiments.models import PromptTemplate
from experiments.rendering import Example, PromptContent, PromptError
from experiments.services import prompts

from ..serializers.prompts import (
    NewPromptSerializer,
    NewVersionSerializer,
    PromptDetailSerializer,
    PromptSerializer,
    PromptVersionSerializer,
)
from .base import TeamScoped


def _content(data: dict, field: str) -> PromptContent:
    examples = []
    for number, example in enumerate(data.get("examples") or [], start=1):
        if not isinstance(example["input"], str | dict):
            raise ValidationError(
                {field: [f"example {number}: input must be text or an object of variables"]}
            )
        examples.append(Example(input=example["input"], output=example["output"]))
    return PromptContent(
        instruction=data["instruction"],
        system_prompt=data.get("system_prompt", ""),
        technique=data.get("technique", "zero-shot"),
        examples=tuple(examples),
        output_format=data.get("output_format", ""),
    )


def _detail(template: PromptTemplate) -> dict:
    template = PromptTemplate.objects.annotate(latest_version=Max("versions__number")).get(pk=template.pk)
    template.versions_list = list(template.versions.order_by("number"))
    return PromptDetailSerializer(template, context={"team": template.team}).data


class PromptList(TeamScoped, generics.ListAPIView):
    """The team's prompt templates; editors and admins create one with its first version."""

    serializer_class = PromptSerializer

    def get_queryset(self):
        if self.is_fake:
            return PromptTemplate.objects.none()
        templates = PromptTemplate.objects.filter(team=self.access().team).select_related("dataset")
        return templates.annotate(latest_version=Max("versions__number")).order_by("name", "id")

    @extend_schema(request=NewPromptSerializer, responses={201: PromptDetailSerializer})
    def post(self, request, team_slug: str):
        access = self.access(write=True)
        body = NewPromptSerializer(data=request.data, context={"team": access.team})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            template = prompts.create_prompt_template(
                access.team,
                request.user,
                data["name"],
                _content(data["content"], "content"),
                description=data.get("description", ""),
                dataset=data.get("dataset"),
            )
        except PromptError as error:
            raise ValidationError({"content": [str(error)]}) from None
        return Response(_detail(template), status=status.HTTP_201_CREATED)


class PromptDetail(TeamScoped, generics.GenericAPIView):
    serializer_class = PromptDetailSerializer

    def get(self, request, team_slug: str, code):
        """The template with every version, oldest first."""
        return Response(_detail(get_prompt_for_user(request, team_slug, code)[1]))


class PromptVersions(TeamScoped, generics.ListAPIView):
    serializer_class = PromptVersionSerializer

    def get_queryset(self):
        if self.is_fake:
            return PromptTemplate.objects.none()
        _, template = get_prompt_for_user(self.request, self.kwargs["team_slug"], self.kwargs["code"])
        return template.versions.order_by("number")

    @extend_schema(
        request=NewVersionSerializer,
        responses={201: PromptVersionSerializer, 200: PromptVersionSerializer},
        description="A new immutable version (201), or the existing version with identical content (200).",
    )
    def post(self, request, team_slug: str, code):
        _, template = get_prompt_for_user(request, team_slug, code, write=True)
        body = NewVersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            version, created = prompts.save_prompt_version(
                template,
                request.user,
                _content(body.validated_data, "examples"),
                body.validated_data["change_note"],
            )
        except PromptError as error:
            raise ValidationError({"instruction": [str(error)]}) from None
        return Response(
            PromptVersionSerializer(version).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
