from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    name = "opportunities"

    def ready(self) -> None:
        from accounts import history

        from . import receivers  # noqa: F401  (connects the verdict roll-up to experiment evidence)
        from .models import FeasibilityPolicy, Job, Task, UseCase

        history.track(Job)
        # What the verdict roll-up computes is not a person's change: it is explained on the task page.
        computed = (
            "verdict",
            "feasibility",
            "feasibility_basis",
            "verdict_warnings",
            "verdict_rules_version",
        )
        computed += ("verdict_reasons", "verdict_run", "verdict_updated", "model_cost_per_year")
        history.track(Task, exclude=computed)
        history.track(UseCase)
        history.track(FeasibilityPolicy)
