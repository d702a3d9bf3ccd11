"""Personal API tokens: a person's key for the REST API, acting with that person's teams and roles.

Only the sha256 of a token is stored; the token itself is shown once, when it is created. Its first
characters (`prefix`) stay visible so a person can tell their tokens apart.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=24)
    # sha256 hex of the whole token; every API request looks its token up by it.
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires

    @property
    def is_active(self) -> bool:
        return self.revoked is None and not self.is_expired()
