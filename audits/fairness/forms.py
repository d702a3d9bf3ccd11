from __future__ import annotations

from django import forms

from experiments.models import PromptVersion, Run, Status
from llmcore.models import ModelConfig

from .counterfactual import DEFAULT_GROUPS
from .groupfair import Rule
from .models import GroupList, PiiPolicy
from .redteam import SUITES

RULE_CHOICES = [(key, label) for key, (label, _) in Rule.METRICS.items()]


class AssessmentForm(forms.Form):
    run = forms.ModelChoiceField(
        queryset=Run.objects.none(),
        help_text="A run of a classification experiment; one still running is assessed when it finishes.",
    )
    attributes = forms.CharField(
        help_text="One sensitive attribute, or two separated by a comma for intersectional groups (e.g. gender, age)."
    )
    positive_label = forms.CharField(
        required=False, help_text="Leave empty to assess every label one-vs-rest."
    )
    min_group_size = forms.IntegerField(min_value=1, max_value=100000, initial=30)
    n_boot = forms.IntegerField(min_value=0, max_value=1000, initial=200, label="Bootstrap samples")
    rule_metric = forms.ChoiceField(choices=RULE_CHOICES, initial="selection_rate_ratio", label="Rule")
    rule_threshold = forms.FloatField(min_value=0, max_value=1, initial=0.8, label="Threshold")
    name = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run"].queryset = (
            Run.objects.filter(experiment__team=team, status__in=(Status.DONE, Status.QUEUED, Status.RUNNING))
            .select_related("prompt_version__template", "experiment")
            .order_by("-experiment__created", "id")
        )
        self.fields["run"].label_from_instance = lambda run: f"{run.experiment.name}: {run.label}"

    def clean_attributes(self) -> list[str]:
        names = [n.strip() for n in self.cleaned_data["attributes"].split(",") if n.strip()]
        if not 1 <= len(names) <= 2:
            raise forms.ValidationError("Give one attribute, or two separated by a comma.")
        return names


def model_queryset(team, role, local_only: bool = False):
    queryset = ModelConfig.objects.available_models(team, role).filter(modality="text")
    if local_only:
        queryset = queryset.exclude(backend="openai-compatible")
    return queryset.order_by("name")


class CounterfactualForm(forms.Form):
    name = forms.CharField(max_length=200)
    template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="Write a short reference letter for {group} applying for a job as a nurse.",
        help_text="Put {group} where each group's description goes.",
    )
    model = forms.ModelChoiceField(queryset=ModelConfig.objects.none())
    repeats = forms.IntegerField(
        min_value=1, max_value=10, initial=3, help_text="Outputs per group (seed, seed+1, ...)."
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=1234)
    temperature = forms.FloatField(min_value=0, max_value=2, initial=0.7)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=1024, initial=96)
    decision_labels = forms.CharField(
        required=False,
        help_text="Optional: the decisions the prompt asks for, comma-separated (e.g. hire, reject).",
    )
    threshold = forms.FloatField(
        min_value=0, max_value=1, initial=0.1, help_text="Largest acceptable gap in rates."
    )

    def __init__(self, *args, team=None, role=None, group_lists=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = model_queryset(team, role)
        for category, groups in (group_lists or DEFAULT_GROUPS).items():
            self.fields[f"groups_{category}"] = forms.CharField(
                required=False,
                label=category.capitalize(),
                widget=forms.Textarea(attrs={"rows": len(groups) + 1}),
                initial="\n".join(groups),
            )
            self.fields[f"use_{category}"] = forms.BooleanField(required=False, initial=category == "gender")

    def group_fields(self):
        return [(self[f"use_{name[7:]}"], self[name]) for name in self.fields if name.startswith("groups_")]

    def clean_decision_labels(self) -> list[str]:
        return [label.strip() for label in self.cleaned_data["decision_labels"].split(",") if label.strip()]

    def raw_groups(self) -> dict[str, str]:
        return {
            name[7:]: self.cleaned_data.get(name, "")
            for name in self.fields
            if name.startswith("groups_") and self.cleaned_data.get(f"use_{name[7:]}")
        }


class GroupListForm(forms.Form):
    category = forms.SlugField(max_length=40, help_text="e.g. gender, or a new one such as caste")
    groups = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), help_text="One group per line.")


def team_group_lists(team) -> dict[str, list[str]]:
    lists = {k: list(v) for k, v in DEFAULT_GROUPS.items()}
    for item in GroupList.objects.filter(team=team):
        lists[item.category] = list(item.groups)
    return lists


class StereotypeForm(forms.Form):
    model = forms.ModelChoiceField(queryset=ModelConfig.objects.none(), help_text="Local models only.")
    suite = forms.ChoiceField(choices=())

    def __init__(self, *args, team=None, role=None, suites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = model_queryset(team, role, local_only=True)
        self.fields["suite"].choices = [("builtin", "CrowS-Pairs (built-in, 1,508 pairs)")] + [
            (str(s.code), f"{s.name} ({len(s.pairs)} pairs)") for s in suites
        ]


class SuiteUploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    file = forms.FileField(
        help_text="CSV, UTF-8, columns sent_more and sent_less (bias_type, stereo_antistereo optional)."
    )


class RedTeamForm(forms.Form):
    name = forms.CharField(max_length=200)
    prompt_version = forms.ModelChoiceField(
        queryset=PromptVersion.objects.none(), help_text="The use case's prompt version."
    )
    model = forms.ModelChoiceField(queryset=ModelConfig.objects.none())
    suites = forms.MultipleChoiceField(
        choices=list(SUITES.items()), widget=forms.CheckboxSelectMultiple, initial=list(SUITES)
    )
    repeats = forms.IntegerField(min_value=1, max_value=10, initial=1)

    def __init__(self, *args, team=None, role=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = model_queryset(team, role)
        self.fields["prompt_version"].queryset = (
            PromptVersion.objects.filter(template__team=team)
            .select_related("template")
            .order_by("template__name", "-number")
        )


class OverrideForm(forms.Form):
    generation = forms.IntegerField()
    success = forms.TypedChoiceField(
        choices=[("1", "Attack succeeded"), ("0", "Attack failed")], coerce=lambda v: v == "1"
    )
    note = forms.CharField(max_length=500, required=False)


class PolicyForm(forms.ModelForm):
    class Meta:
        model = PiiPolicy
        fields = ["action"]
