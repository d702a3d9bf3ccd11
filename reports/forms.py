from __future__ import annotations

from django import forms

from accounts.models import Team
from experiments.models import Experiment, Status
from opportunities.models import Job

from .models import Format, Kind

MAX_JOBS = 500  # jobs one request may name (the whole portfolio needs none)


class ReportRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.PORTFOLIO, label="Report")
    format = forms.ChoiceField(choices=Format.choices, initial=Format.PDF)
    jobs = forms.MultipleChoiceField(
        required=False,
        label="Jobs (portfolio report)",
        help_text="None selected: the whole portfolio. Ctrl- or Cmd-click to choose several.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    experiment = forms.ChoiceField(required=False, label="Experiment (experiment report)")

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["jobs"].choices = [
            (str(code), title)
            for code, title in Job.objects.filter(team=team)
            .order_by("title", "id")
            .values_list("code", "title")
        ]
        experiments = (
            Experiment.objects.filter(team=team, trial=False)
            .exclude(status=Status.DRAFT)
            .order_by("-created", "-id")
            .values_list("code", "name")
        )
        self.fields["experiment"].choices = [
            ("", "Choose an experiment"),
            *((str(c), n) for c, n in experiments),
        ]
        self.fields["jobs"].error_messages["invalid_choice"] = (
            "A job you chose is no longer in this team (deleted?): choose again."
        )
        self.fields["experiment"].error_messages["invalid_choice"] = (
            "That experiment is not a started experiment of this team: choose another."
        )

    def clean(self):
        data = super().clean()
        if data.get("kind") == Kind.EXPERIMENT and not data.get("experiment"):
            self.add_error("experiment", "Choose the experiment the report is about.")
        if data.get("kind") == Kind.PORTFOLIO and len(data.get("jobs") or []) > MAX_JOBS:
            self.add_error("jobs", f"Choose at most {MAX_JOBS} jobs, or none for the whole portfolio.")
        return data

    def parameters(self) -> dict:
        if self.cleaned_data["kind"] == Kind.EXPERIMENT:
            return {"experiment": self.cleaned_data["experiment"]}
        return {"jobs": sorted(self.cleaned_data.get("jobs") or [])}

    def title(self) -> str:
        data = self.cleaned_data
        if data["kind"] == Kind.EXPERIMENT:
            name = dict(self.fields["experiment"].choices)[data["experiment"]]
            return f"Experiment report: {name}"
        jobs = data.get("jobs") or []
        if not jobs:
            return "Portfolio report: every job"
        names = dict(self.fields["jobs"].choices)
        shown = ", ".join(names[code] for code in jobs[:3])
        more = f" and {len(jobs) - 3} more" if len(jobs) > 3 else ""
        return f"Portfolio report: {shown}{more}"
