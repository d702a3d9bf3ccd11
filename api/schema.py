"""OpenAPI generation: tags by resource and the error responses every operation may give."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from .serializers.common import ErrorSerializer

ERRORS = {
    "400": "Invalid input: `fields` names each field and what is wrong with it.",
    "401": "No token, or the token is unknown, expired or revoked.",
    "403": "Your role in this team cannot make this change.",
    "404": "No such object in your teams (including teams you are not a member of).",
    "429": "Too many requests with this token: wait as long as the Retry-After header says.",
}


class ApiSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        parts = [p for p in self.path.split("/") if p and not p.startswith("{") and p not in ("api", "v1")]
        if len(parts) > 1 and parts[0] == "teams":
            return [parts[1]]
        return parts[:1]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, description in ERRORS.items():
            if status not in responses:
                responses[status] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), status, direction=direction
                )
        return responses
