from django.apps import AppConfig


class LlmcoreConfig(AppConfig):
    name = "llmcore"

    def ready(self) -> None:
        from accounts import history

        from .models import ModelConfig, TeamBudget, TeamModel

        # Measurements are the worker's, not a person's change.
        history.track(ModelConfig, exclude=("measured_latency_s", "measured_tokens_per_s", "measured_at"))
        history.track(TeamModel)
        history.track(TeamBudget)
