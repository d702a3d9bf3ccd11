"""Tasks that only test workers load (`celery worker --include tests.worker_tasks`)."""

from __future__ import annotations

import os

from celery import shared_task

from accounts.models import Team


@shared_task(name="tests.rename_team")
def rename_team(team_id: int, suffix: str) -> dict:
    """Reads a row the test committed, writes to it, and says which process did it."""
    team = Team.objects.get(id=team_id)
    team.name = f"{team.name} {suffix}"
    team.save(update_fields=["name"])
    return {"name": team.name, "worker_pid": os.getpid()}
