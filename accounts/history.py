"""Who changed what: the change log of jobs, tasks, use cases, thresholds, budgets, models and members.

django-auditlog records every create, update and delete of a tracked model with the before and after of
the fields that changed, who did it (from `HistoryMiddleware`) and when. Each tracked model mixes in
`TeamHistory`, which stores the team the object belongs to in the entry's additional data, so a team's
history is one indexed filter (migration accounts/0003). Instance-wide objects (a model registered for
every team) have no team: instance administrators read them in the Django admin.

Bulk writes (`bulk_create`, `QuerySet.update`) send no signals and are not recorded one by one; the
callers that use them (imports, verdict recomputation) change computed fields or say what they imported.
The governance trail (audits/trail.py) is separate: hash-chained, for audit events.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import TeamHistory
from .ratelimit import client_address

# Bookkeeping that changes on every save and says nothing about who decided what.
ALWAYS_EXCLUDED = ("created", "updated", "code")
ACTION_WORDS = {
    LogEntry.Action.CREATE: "created",
    LogEntry.Action.UPDATE: "changed",
    LogEntry.Action.DELETE: "deleted",
}


def track(model: type[models.Model], *, exclude: tuple[str, ...] = (), mask: tuple[str, ...] = ()) -> None:
    """Record every create, update and delete of `model` (which mixes in TeamHistory)."""
    if not issubclass(model, TeamHistory):
        raise TypeError(f"{model.__name__} must mix in TeamHistory to say which team a change belongs to")
    auditlog.register(model, exclude_fields=[*ALWAYS_EXCLUDED, *exclude], mask_fields=list(mask))


class HistoryMiddleware(AuditlogMiddleware):
    """auditlog's middleware (the signed-in user becomes the actor), with the client address taken the way
    the sign-in limits take it: X-Forwarded-For only from a configured trusted proxy, never from anyone."""

    @staticmethod
    def _get_remote_addr(request) -> str | None:
        """The address, or None when it is not one (no REMOTE_ADDR, a malformed proxy header): the change
        log stores an IP address, and a request must not fail for want of one."""
        address = client_address(request)
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            return None

    @staticmethod
    def _get_remote_port(request) -> int | None:
        return None


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryRow:
    entry: LogEntry
    action: str
    kind: str
    changes: list[Change]

    @property
    def object_key(self) -> str:
        return object_key(self.entry.content_type, self.entry.object_pk)


def object_key(content_type: ContentType, pk) -> str:
    """`app_label.model:pk`, the `object` filter of the history page."""
    return f"{content_type.app_label}.{content_type.model}:{pk}"


def key_for(instance: models.Model) -> str:
    return object_key(ContentType.objects.get_for_model(instance), instance.pk)


def for_team(team_id: int):
    return (
        LogEntry.objects.filter(additional_data__team=team_id)
        .select_related("content_type", "actor")
        .order_by("-timestamp", "-pk")
    )


def filter_object(entries, key: str):
    """Entries of one object, from an `app_label.model:pk` key; none for a key that names nothing."""
    label, _, pk = key.partition(":")
    app_label, _, model = label.partition(".")
    content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
    if content_type is None or not pk:
        return entries.none()
    return entries.filter(content_type=content_type, object_pk=pk)


def _field_words(model_class, name: str, value) -> tuple[str, str]:
    """The field's verbose name and the value in words (a choice's label), from the model's own fields."""
    try:
        field = model_class._meta.get_field(name)
    except Exception:  # a field removed since the entry was written
        return name.replace("_", " "), "" if value is None else str(value)
    label = str(getattr(field, "verbose_name", name))
    text = "" if value in (None, "None") else str(value)
    choices = dict(getattr(field, "flatchoices", None) or ())
    if text and choices:
        text = str(choices.get(text, text))
    return label, text


def rows(entries) -> list[HistoryRow]:
    """Entries made readable: the action and the object's kind in words, each change as before → after.
    No query per row (content types and actors come with the entries; field names from model classes)."""
    result = []
    for entry in entries:
        model_class = entry.content_type.model_class()
        kind = str(model_class._meta.verbose_name) if model_class else entry.content_type.model
        changes = []
        for name, values in (entry.changes_dict or {}).items():
            before, after = (list(values) + [None, None])[:2] if isinstance(values, list) else (None, values)
            if model_class is None:
                changes.append(Change(name, str(before or ""), str(after or "")))
                continue
            label, before_text = _field_words(model_class, name, before)
            _, after_text = _field_words(model_class, name, after)
            changes.append(Change(label, before_text, after_text))
        result.append(HistoryRow(entry, ACTION_WORDS.get(entry.action, "recorded"), kind, changes))
    return result
