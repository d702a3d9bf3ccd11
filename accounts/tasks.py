from __future__ import annotations

import os

from celery import shared_task
from django.db import connection

from .models import Team


@shared_task(name="assay.ping")
def ping() -> dict:
    """Health check: proves a worker is consuming and can read the database."""
    return {
        "pong": True,
        "database": connection.vendor,
        "teams": Team.objects.count(),
        "worker_pid": os.getpid(),
    }
