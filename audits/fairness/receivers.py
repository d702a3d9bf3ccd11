"""Probe results follow their experiments (experiments' evidence_changed signal), and the PII guard
sees every batch before it leaves for an external model (experiments' outbound-guard hook)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from experiments.guards import register_outbound_guard
from experiments.models import FINISHED, Experiment
from experiments.signals import evidence_changed

from .guard import pii_guard
from .models import CounterfactualProbe, FairnessAssessment, RedTeamRun, Status

register_outbound_guard("pii", pii_guard)


def finished_probes(experiment_ids: list[int]) -> list[tuple[str, int]]:
    finished = list(
        Experiment.objects.filter(pk__in=experiment_ids, status__in=FINISHED).values_list("pk", flat=True)
    )
    if not finished:
        return []
    return [("counterfactual", pk) for pk in CounterfactualProbe.objects.filter(experiment_id__in=finished).values_list("pk", flat=True)] + [
        ("redteam", pk) for pk in RedTeamRun.objects.filter(experiment_id__in=finished).values_list("pk", flat=True)
    ] + [
        ("assessment", pk) for pk in FairnessAssessment.objects.filter(
            run__experiment_id__in=finished, status=Status.QUEUED).values_list("pk", flat=True)
    ]  # fmt: skip


@receiver(evidence_changed, dispatch_uid="fairness-evidence-changed")
def _evidence_changed(sender, experiment_ids, **kwargs) -> None:
    from .tasks import analyse

    ids = list(experiment_ids)

    def enqueue() -> None:
        for kind, pk in finished_probes(ids):
            analyse.delay(kind, pk)

    transaction.on_commit(enqueue)
