"""The OpenAPI schema and its documentation page (Swagger UI from drf-spectacular-sidecar's static
files; the start-up script is a separate same-origin request, as the content security policy wants)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from .base import ApiMixin


class Schema(ApiMixin, SpectacularJSONAPIView):
    permission_classes = [AllowAny]


class Docs(ApiMixin, SpectacularSwaggerSplitView):
    permission_classes = [AllowAny]
    url_name = "api:schema"
    title = "Assay REST API"
