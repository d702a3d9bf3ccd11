from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from audits.trail import verify


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain: prints 'OK <n> events' or names the first broken entry (exit 1)."
    )

    def handle(self, *args, **options) -> None:
        result = verify()
        if result.ok:
            self.stdout.write(f"OK {result.count} events")
            return
        self.stderr.write(
            f"BROKEN at entry #{result.broken_seq}: {result.problem} ({result.count} events verified before it)"
        )
        sys.exit(1)
