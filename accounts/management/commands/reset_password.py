from __future__ import annotations

import secrets
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.sessions import sign_out_everywhere


class Command(BaseCommand):
    help = (
        "Set a new password for a user (an instance administrator's reset) and sign them out everywhere. "
        "Without --stdin a strong random password is generated and printed once."
    )

    stealth_options = ("stdin",)  # a stream in place of sys.stdin, for call_command

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--from-stdin",
            action="store_true",
            help="Read the new password from standard input (one line).",
        )

    def handle(self, *args, username: str, from_stdin: bool, **options) -> None:
        stdin = from_stdin
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        password = (
            (options.get("stdin") or sys.stdin).readline().rstrip("\n")
            if stdin
            else secrets.token_urlsafe(15)
        )
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("The password was refused: " + " ".join(exc.messages)) from exc
        user.set_password(password)
        user.save(update_fields=["password"])
        ended = sign_out_everywhere(user)
        self.stdout.write(f"Password of {username!r} reset; {ended} session(s) signed out.")
        if not stdin:
            self.stdout.write(f"New password (shown once): {password}")
