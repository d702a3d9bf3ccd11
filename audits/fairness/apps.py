from __future__ import annotations

from django.apps import AppConfig


class FairnessConfig(AppConfig):
    name = "audits.fairness"
    label = "fairness"
    verbose_name = "Fairness, bias and red-team measurements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (probe results follow their experiments; the PII guard)
        from .evidence import register_evidence_kinds

        register_evidence_kinds()
