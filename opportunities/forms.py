"""Forms for jobs and tasks, and the portfolio's filter form.

Shares (people doing a task, time saved) are stored as fractions 0..1 but entered as percentages 0..100:
the labels say "%" and the form converts, so people type 30 for 30 %.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db.models import Q

from accounts.models import Team

from .feasibility import RUBRIC_QUESTION
from .models import (
    Exposure,
    FeasibilityPolicy,
    Job,
    LabelSource,
    Mode,
    RubricAnswer,
    Task,
    TaskKind,
    UseCase,
    Verdict,
)
from .value import model_cost_per_year


def _range_messages(low: int | str, high: int | str, what: str = "a number") -> dict[str, str]:
    message = f"Must be {what} between {low} and {high}."
    # max_digits and max_whole_digits: 1e30 has too many digits, which is to say it is out of range.
    return {
        "invalid": message,
        "min_value": message,
        "max_value": message,
        "required": message,
        "max_digits": message,
        "max_whole_digits": message,
    }


class NumberField(forms.DecimalField):
    """A decimal shown without trailing zeros: 8, not 8.00."""

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        return value


class PercentField(forms.DecimalField):
    """A fraction 0..1 shown and typed as a percentage 0..100."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", Decimal(100))
        kwargs.setdefault("max_digits", 5)
        kwargs.setdefault("decimal_places", 1)
        kwargs.setdefault("error_messages", _range_messages(0, 100, "a percentage"))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # Bound data comes back as the typed string; only stored fractions are scaled for display.
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            # str() first: a stored float 0.9 is 0.90000000000000002220... as an exact Decimal.
            return f"{(Decimal(str(value)) * 100).normalize():f}"
        return value

    def clean(self, value):
        percent = super().clean(value)
        return None if percent is None else percent / 100

    def has_changed(self, initial, data) -> bool:
        scaled = initial * 100 if isinstance(initial, Decimal | int | float) else initial
        return super().has_changed(scaled, data)


class JobForm(forms.ModelForm):
    headcount = forms.IntegerField(
        label="Headcount",
        min_value=0,
        max_value=1_000_000,
        initial=1,
        help_text="People in this job.",
        error_messages=_range_messages(0, "1,000,000"),
    )
    hourly_cost = forms.DecimalField(
        label="Loaded hourly cost",
        min_value=Decimal(0),
        max_value=Decimal(10_000),
        max_digits=10,
        decimal_places=2,
        initial=Decimal("50.00"),
        help_text="Salary, benefits and overhead for one hour of this job.",
        error_messages=_range_messages(0, "10,000"),
    )

    class Meta:
        model = Job
        fields = ["title", "description", "headcount", "hourly_cost"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"title": {"required": "Give the job a title."}}

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["hourly_cost"].error_messages["max_decimal_places"] = "Use at most 2 decimal places."

    def clean_title(self) -> str:
        title = self.cleaned_data["title"]
        # The team is not a form field, so the (team, title) constraint is checked here, by name.
        taken = Job.objects.filter(team=self.team, title=title).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"A job titled “{title}” already exists in this team.")
        return title


class JobRowForm(JobForm):
    """The fields that fit in a row of the job list (edited inline); the description keeps its value."""

    class Meta(JobForm.Meta):
        fields = ["title", "headcount", "hourly_cost"]

    def __init__(self, *args, team: Team, html_form: str | None = None, **kwargs):
        super().__init__(*args, team=team, **kwargs)
        if html_form:
            # Inline rows cannot hold a <form>: their inputs point at it by id.
            for field in self.fields.values():
                field.widget.attrs["form"] = html_form


class TaskForm(forms.ModelForm):
    hours_per_week = NumberField(
        label="Hours per week per person",
        min_value=Decimal(0),
        max_value=Decimal(80),
        max_digits=5,
        decimal_places=2,
        initial=Decimal(1),
        help_text="Hours one person doing this task spends on it in a week (0–80).",
        error_messages=_range_messages(0, 80),
    )
    people_share = PercentField(
        label="Share of people doing it (%)",
        initial=Decimal(1),
        help_text="Percentage of the job's headcount who do this task (0–100).",
    )
    time_saved = PercentField(
        label="Expected time saved (%)",
        initial=Decimal("0.3"),
        help_text="Percentage of the task's time the model would save (0–100).",
    )
    cases_per_year = forms.IntegerField(
        label="Cases per year",
        required=False,
        min_value=0,
        max_value=10_000_000_000,
        help_text="How many times a year the task is done (tickets answered, documents drafted). With the "
        "deciding run's measured cost per 1,000 cases it gives the model's running cost per year.",
        error_messages=_range_messages(0, "10 billion", "a whole number"),
    )
    revenue_upside = NumberField(
        label="Revenue upside per year",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=2,
        initial=Decimal(0),
        help_text="Optional extra revenue per year if the task is done with a model.",
        error_messages=_range_messages(0, "a trillion"),
    )

    class Meta:
        model = Task
        fields = [
            "statement",
            "kind",
            "hours_per_week",
            "people_share",
            "mode",
            "time_saved",
            "cases_per_year",
            "exposure_label",
            "label_source",
            "revenue_upside",
            "notes",
        ]
        labels = {"exposure_label": "Exposure", "label_source": "Exposure label source"}
        help_texts = {
            "statement": "What a person does, as a verb phrase: “Answer billing questions by email”.",
            "exposure_label": "E1: a chat model alone could halve the time; E2: only with software built on one.",
        }
        widgets = {
            "statement": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {"statement": {"required": "Describe the task in a few words."}}

    def __init__(self, *args, html_form: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("hours_per_week", "people_share", "time_saved", "revenue_upside"):
            self.fields[name].error_messages["max_decimal_places"] = "Too many decimal places."
            self.fields[name].error_messages["max_digits"] = self.fields[name].error_messages["invalid"]
        if html_form:
            # Inline rows cannot hold a <form>: their inputs point at it by id.
            for field in self.fields.values():
                field.widget.attrs["form"] = html_form

    def clean_revenue_upside(self) -> Decimal:
        return self.cleaned_data["revenue_upside"] or Decimal(0)

    def save(self, commit: bool = True):
        task = super().save(commit=False)
        # The model's running cost follows the volume at once (the measured cost per 1,000 cases
        # comes with the verdict).
        task.model_cost_per_year = model_cost_per_year(task.model_cost_per_1k_cases, task.cases_per_year)
        if commit:
            task.save()
            self.save_m2m()
        return task

    def clean(self) -> dict:
        data = super().clean()
        exposure = data.get("exposure_label")
        if "label_source" in self.fields:
            if not exposure:
                data["label_source"] = ""
            elif "exposure_label" in self.changed_data and "label_source" not in self.changed_data:
                # A person changed the label and left its source as it was: the label is theirs now.
                data["label_source"] = LabelSource.HUMAN
        elif "exposure_label" in self.changed_data:
            # A person just chose (or cleared) this label in the row editor.
            self.instance.label_source = LabelSource.HUMAN if exposure else ""
        return data


class TaskRowForm(TaskForm):
    """The fields that fit in a row of the job's task table (edited inline)."""

    class Meta(TaskForm.Meta):
        fields = [
            "statement",
            "kind",
            "hours_per_week",
            "people_share",
            "mode",
            "time_saved",
            "exposure_label",
        ]
        widgets = {"statement": forms.Textarea(attrs={"rows": 2, "cols": 30})}


# Portfolio filters and sorts: whitelists, so a query string can only pick known columns.
SORTS: dict[str, tuple[str, ...]] = {
    "value": ("annual_value", "id"),
    "job": ("job__title", "id"),
    "statement": ("statement", "id"),
    "kind": ("kind", "id"),
    "mode": ("mode", "id"),
    "exposure": ("exposure_label", "id"),
    "verdict": ("verdict", "id"),
    "hours": ("hours_per_week", "id"),
}
DEFAULT_SORT = "-value"
NO_EXPOSURE = "none"


def order_by_for(sort: str) -> list[str]:
    """The ORDER BY for a ?sort= value ("value" or "-value"), the default for unknown values."""
    descending = sort.startswith("-")
    columns = SORTS.get(sort.lstrip("-"))
    if columns is None:
        return order_by_for(DEFAULT_SORT)
    return [f"-{column}" if descending else column for column in columns]


class PortfolioFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    job = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *TaskKind.choices])
    mode = forms.ChoiceField(required=False, choices=[("", "Any mode"), *Mode.choices])
    exposure = forms.ChoiceField(
        required=False, choices=[("", "Any exposure"), *Exposure.choices, (NO_EXPOSURE, "Not labelled")]
    )
    verdict = forms.ChoiceField(required=False, choices=[("", "Any verdict"), *Verdict.choices])
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, jobs: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].choices = [("", "Any job"), *jobs]

    def filter(self, tasks):
        """Applies the valid filters; an invalid value (a stale job, say) is ignored, not an error page."""
        self.is_valid()
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        if data.get("q", "").strip():
            words = data["q"].split()
            for word in words[:10]:  # every word, in the task or its job
                tasks = tasks.filter(Q(statement__icontains=word) | Q(job__title__icontains=word))
        if "job" in data:
            tasks = tasks.filter(job__code=data["job"])
        if "kind" in data:
            tasks = tasks.filter(kind=data["kind"])
        if "mode" in data:
            tasks = tasks.filter(mode=data["mode"])
        if "exposure" in data:
            tasks = tasks.filter(exposure_label="" if data["exposure"] == NO_EXPOSURE else data["exposure"])
        if "verdict" in data:
            tasks = tasks.filter(verdict=data["verdict"])
        return tasks

    def selects(self) -> list[dict]:
        """Each filter with its options and the chosen one, for a template loop.

        Django's Select widget renders a template per option: too slow for hundreds of jobs.
        """
        chosen = self.active()
        return [
            {
                "name": name,
                "id": f"id_{name}",
                "label": name.capitalize(),
                "options": [
                    (str(value), label, str(value) == chosen.get(name, "")) for value, label in field.choices
                ],
            }
            for name, field in self.fields.items()
            if name not in {"sort", "q"}
        ]

    def active(self) -> dict[str, str]:
        """The valid filters that are set, for links that must keep them (sorting, pages, exports)."""
        return {
            name: value
            for name, value in getattr(self, "cleaned_data", {}).items()
            if value and name != "sort"
        }


class TaskEvidenceForm(forms.ModelForm):
    """The evidence behind a task's verdict: its linked experiments and the PM's rubric answer."""

    rubric_answer = forms.ChoiceField(
        label=RUBRIC_QUESTION,
        choices=[("", "Not answered yet"), *RubricAnswer.choices],
        required=False,
        widget=forms.RadioSelect,
        help_text="“No” caps the verdict at augmentation-ready: a person stays in the loop.",
    )

    class Meta:
        model = Task
        fields = ["experiments", "rubric_answer"]
        widgets = {"experiments": forms.CheckboxSelectMultiple}
        help_texts = {
            "experiments": "Each run of these experiments is judged on its own; the best one decides."
        }

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        from experiments.models import Experiment

        # Only this team's experiments can be picked; anything else is "not one of the available choices".
        self.fields["experiments"].queryset = Experiment.objects.filter(team=team, trial=False).order_by(
            "-created"
        )
        self.fields["experiments"].required = False


class BulkTaskForm(forms.Form):
    """What to do with the tasks ticked on the portfolio page."""

    ACTIONS = [
        ("mode:augment", "Set mode: augmentation"),
        ("mode:automate", "Set mode: automation"),
        ("usecase", "Add to the use case"),
        ("delete", "Delete"),
    ]
    tasks = forms.ModelMultipleChoiceField(queryset=None, to_field_name="code", error_messages={
        "required": "Tick the tasks to change first.",
        "invalid_choice": "A ticked task is no longer in this team's portfolio: reload the page.",
    })  # fmt: skip
    action = forms.ChoiceField(choices=ACTIONS)
    use_case = forms.ModelChoiceField(queryset=None, required=False, to_field_name="code")
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tasks"].queryset = Task.objects.for_team(team).select_related("job")
        self.fields["use_case"].queryset = UseCase.objects.filter(team=team).order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("action") == "usecase" and not data.get("use_case"):
            self.add_error("use_case", "Choose the use case to add the tasks to.")
        return data


class ThresholdsForm(forms.ModelForm):
    """A team's verdict thresholds, shares typed as percentages."""

    automation_pass_lower = PercentField(
        label="Automation: lower bound of the pass rate (%)",
        help_text="The 95% Wilson lower bound of automatically scored passes must reach this.",
    )
    automation_acceptance = PercentField(
        label="Automation: human acceptance (%)",
        help_text="Share of reviewed outputs people accepted as is.",
    )
    augmentation_lower = PercentField(
        label="Augmentation: lower bound of accepted-or-minor-edit (%)",
        help_text="The 95% Wilson lower bound of outputs accepted or needing only a minor edit.",
    )
    min_cases = forms.IntegerField(
        label="Minimum cases for automation",
        min_value=1,
        max_value=100_000,
        help_text="Scored cases and reviewed outputs each needed before automation can be claimed.",
        error_messages=_range_messages(1, "100,000", "a whole number"),
    )
    max_cost_per_1k_cases = NumberField(
        label="Cost limit per 1,000 cases ($)",
        required=False,
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=4,
        help_text="Leave empty for no limit.",
        error_messages=_range_messages(0, "99,999,999", "an amount"),
    )
    min_reviewers_automation = forms.IntegerField(
        label="Automation: minimum number of different reviewers",
        min_value=1,
        max_value=1000,
        help_text="Ten accepts by one person are one opinion: automation needs reviews from this many people.",
        error_messages=_range_messages(1, "1,000", "a whole number"),
    )
    min_reviewers_augmentation = forms.IntegerField(
        label="Augmentation: minimum number of different reviewers",
        min_value=1,
        max_value=1000,
        error_messages=_range_messages(1, "1,000", "a whole number"),
    )
    min_scorer_kappa = forms.FloatField(
        label="Warn when reviewers and the scorer agree less than (Cohen's κ)",
        required=False,
        min_value=-1,
        max_value=1,
        help_text="A verdict resting on reviews that disagree with the automatic scorer (κ below this) "
        "carries a warning. 0.4 is “moderate agreement”; leave empty for no warning.",
        error_messages={
            "invalid": "Must be a number between -1 and 1.",
            "min_value": "Must be between -1 and 1.",
            "max_value": "Must be between -1 and 1.",
        },
    )
    max_p95_latency_s = forms.FloatField(
        label="p95 latency limit of a single request (seconds)",
        required=False,
        min_value=0,
        max_value=86_400,
        help_text="What a user waits for one call, measured on each run's sample of single requests "
        "(not the time of an output inside a batch). Leave empty for no limit.",
        error_messages={
            "invalid": "Must be a number of seconds, 0 or more.",
            "min_value": "Must be 0 or more.",
            "max_value": "Must be at most 86,400 seconds (a day).",
        },
    )

    class Meta:
        model = FeasibilityPolicy
        fields = [
            "automation_pass_lower",
            "automation_acceptance",
            "min_cases",
            "augmentation_lower",
            "min_reviewers_automation",
            "min_reviewers_augmentation",
            "min_scorer_kappa",
            "max_cost_per_1k_cases",
            "max_p95_latency_s",
        ]
