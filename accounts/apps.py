from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from . import history, sessions  # noqa: F401  (sessions: records sessions at sign-in)
        from .models import Membership

        history.track(Membership)
