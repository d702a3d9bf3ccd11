from django.apps import AppConfig


class OpportunitiesConfig(AppConfig):
    name = "opportunities"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the verdict roll-up to experiment evidence)
