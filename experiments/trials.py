"""Try-outs from the builder: before saving an experiment, run its first prompt version × model ×
parameter set on a few cases and see the outputs and scores in seconds.

A trial is a real experiment marked `trial` (so it runs on the workers through the same guards, budget,
usage log and scorers as any other), limited to ASSAY_TRIAL_CASES cases and one repeat, and left out of
the team's experiment lists. Each person keeps only their latest trials: starting one deletes their
earlier finished ones.
"""

from __future__ import annotations

import dataclasses

from .models import FINISHED, Experiment
from .services import grid


def start_trial(team, user, role: str | None, spec: grid.GridSpec) -> Experiment:
    """Saves and starts the trial of `spec`; raises what start_experiment raises (budget, model, cases)."""
    trial_spec = dataclasses.replace(
        spec,
        name=f"Try-out: {spec.name}"[:200],
        prompt_versions=spec.prompt_versions[:1],
        model_configs=spec.model_configs[:1],
        param_sets=spec.param_sets[:1],
        repeats=1,
    )
    Experiment.objects.filter(team=team, created_by=user, trial=True, status__in=FINISHED).delete()
    experiment = grid.save_experiment(team, user, trial_spec)
    Experiment.objects.filter(pk=experiment.pk).update(trial=True)
    experiment.trial = True
    return grid.start_experiment(experiment, user, role)
