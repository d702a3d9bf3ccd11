from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"

    def ready(self) -> None:
        from opportunities.panels import register_home_panel, register_usecase_panel
        from opportunities.usecases import register_stage_gate

        from . import evidence_kinds, receivers  # noqa: F401  (experiment_run evidence; trail receivers)
        from .gates import stage_gate
        from .panels import home_panel, usecase_panel

        register_stage_gate(stage_gate)
        register_home_panel(home_panel)
        register_usecase_panel(usecase_panel)
