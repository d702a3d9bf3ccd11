"""Signals other apps listen to without this app knowing them (accounts sits below every other app)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a membership was added, changed or removed, with team, user (the member), old_role ("" when
# added), new_role ("" when removed) and by (who did it). The audit trail records it.
role_changed = Signal()
