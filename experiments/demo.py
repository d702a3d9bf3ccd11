"""Demo data for experiments, picked up by `manage.py seed_demo` (see opportunities/demo.py)."""

from __future__ import annotations

from .models import Experiment
from .seed import seed_demo_experiments


def seed_demo(ctx) -> None:
    before = set(Experiment.objects.filter(team=ctx.team).values_list("id", flat=True))
    experiments = seed_demo_experiments(ctx.team, ctx.admin)
    created = [e.name for e in experiments if e.id not in before]
    if created:
        ctx.log(f"Created demo experiments: {', '.join(created)}.")
