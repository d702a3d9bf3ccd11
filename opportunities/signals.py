"""Signals other apps listen to without this app knowing them (audits imports opportunities, never the
reverse)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that created the use case, with use_case and user.
use_case_created = Signal()
# Sent inside the transaction that moved the stage, with use_case, change (the StageChange), user and
# override: None, or {"reason": ..., "missing": [requirement texts]} when an admin moved it past a gate.
stage_moved = Signal()
# Sent when a stage gate refused a move (nothing changed), with use_case, target, user and missing (the
# requirement texts).
stage_refused = Signal()
# Sent after a team's feasibility thresholds were saved, with team, user and changes
# ({field: [old, new]}).
thresholds_changed = Signal()
