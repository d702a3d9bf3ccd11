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
            finished = list(
                Experiment.objects.filter(pk__in=watched, status__in=FINISHED)
                .select_related("team")
                .order_by("id")
            )
            for experiment in finished:
                level = messages.SUCCESS if experiment.status == Status.DONE else messages.WARNING
                messages.add_message(request, level, _notice(experiment))
            done = {experiment.pk for experiment in finished}
            # Deleted experiments (or ones in a team the person left) leave the list too.
            existing = (
                set(Experiment.objects.filter(pk__in=watched).values_list("pk", flat=True))
                if done != set(watched)
                else done
            )
            request.session[SESSION_KEY] = [pk for pk in watched if pk in existing and pk not in done]
        return self.get_response(request)
