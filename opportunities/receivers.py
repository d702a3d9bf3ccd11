"""Keeps stored task verdicts in step with experiment evidence (see opportunities.verdicts)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from experiments.models import Experiment
from experiments.signals import evidence_changed

from . import demo_reviews, verdicts


@receiver(evidence_changed, dispatch_uid="opportunities-evidence-changed")
def _evidence_changed(sender, experiment_ids, **kwargs) -> None:
    ids = list(experiment_ids)
    transaction.on_commit(lambda: verdicts.recompute_for_experiments(ids))
    transaction.on_commit(lambda: demo_reviews.review_demo_experiments(ids))


@receiver(pre_delete, sender=Experiment, dispatch_uid="opportunities-experiment-deleted")
def _experiment_deleted(sender, instance, **kwargs) -> None:
    # The links go with the experiment: recompute its tasks once the deletion is committed.
    verdicts.recompute_on_commit(list(instance.tasks.values_list("pk", flat=True)))
