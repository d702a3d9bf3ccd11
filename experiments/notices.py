"""Telling people when a long experiment they started has finished: a notice on the next page they open.

Starting an experiment puts it on the starter's session list; on each full page load the middleware
looks the listed experiments up (one query, only while the list is not empty), adds a message for each
that has finished, and drops them from the list. The experiment page itself also says so in the
browser's title while it polls (templates/experiments/experiment_detail.html).
"""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.html import format_html

from .models import FINISHED, Experiment, Status

SESSION_KEY = "assay_watched_experiments"
MAX_WATCHED = 20


def watch(request, experiment: Experiment) -> None:
    watched = [pk for pk in request.session.get(SESSION_KEY, []) if pk != experiment.pk]
    request.session[SESSION_KEY] = [*watched, experiment.pk][-MAX_WATCHED:]


def _notice(experiment: Experiment) -> str:
    url = reverse("experiments:experiment_detail", args=[experiment.team.slug, experiment.code])
    outcome = {
        Status.DONE: "finished",
        Status.FAILED: "failed",
        Status.CANCELLED: "was cancelled",
    }.get(experiment.status, "stopped")
    detail = f": {experiment.message}" if experiment.message else "."
    return format_html('Experiment <a href="{}">{}</a> {}{}', url, experiment.name, outcome, detail)


class ExperimentNoticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        watched = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if watched and request.method == "GET" and not getattr(request, "htmx", False):
            # One query; experiments deleted since, or in a team the person has left, drop off the list.
            experiments = list(
                Experiment.objects.filter(pk__in=watched, team__memberships__user=request.user)
                .select_related("team")
                .order_by("id")
            )
            still_running = []
            for experiment in experiments:
                if experiment.status not in FINISHED:
                    still_running.append(experiment.pk)
                    continue
                level = messages.SUCCESS if experiment.status == Status.DONE else messages.WARNING
                messages.add_message(request, level, _notice(experiment))
            request.session[SESSION_KEY] = still_running
        return self.get_response(request)
