from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from opportunities.demo import DEMO_TEAM_SLUG, seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo team (slug 'demo'), its users (demo/demo is its admin) and a sample portfolio. "
        "Idempotent: creates only what is missing and never changes existing data."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            ctx = seed_demo()
        for message in ctx.messages:
            self.stdout.write(message)
        self.stdout.write(self.style.SUCCESS(f"Demo team ready: /t/{DEMO_TEAM_SLUG}/"))
