"""Signals other apps listen to without this app knowing them (dependency direction: opportunities and
audits import llmcore, never the reverse)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with experiment_ids=[...] when an experiment's evidence changed: a run finished, outputs were
# scored, a person reviewed an output. opportunities recomputes the verdicts of the tasks linked to them.
evidence_changed = Signal()


def send_evidence_changed(*experiment_ids: int) -> None:
    ids = sorted({pk for pk in experiment_ids if pk is not None})
    if ids:
        evidence_changed.send(sender=None, experiment_ids=ids)
