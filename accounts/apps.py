from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from . import sessions  # noqa: F401  (records sessions at sign-in)
