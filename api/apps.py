from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the bearer-token scheme with drf-spectacular's schema generator.
        from . import authentication  # noqa: F401
