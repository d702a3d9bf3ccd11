"""The breakdown page's forms: which model to ask, and a proposal as the person edits it before accepting."""

from __future__ import annotations

import copy

from django import forms

from accounts.models import Team
from llmcore.forms import ModelConfigChoiceField
from llmcore.models import Modality, ModelConfig
from llmcore.seed import DEFAULT_GENERATOR_NAME

from ..forms import TaskForm
from ..models import Task


class BreakdownStartForm(forms.Form):
    model = ModelConfigChoiceField(
        queryset=ModelConfig.objects.none(),
        label="Model",
        empty_label=None,
        error_messages={"invalid_choice": "Pick one of the team's models listed here."},
    )

    def __init__(self, *args, team: Team, role: str, **kwargs):
        super().__init__(*args, **kwargs)
        choices = ModelConfig.objects.available_models(team, role).filter(modality=Modality.TEXT)
        self.fields["model"].queryset = choices.order_by("name")
        if not self.is_bound:
            default = choices.filter(name=DEFAULT_GENERATOR_NAME, team=None).values_list("pk", flat=True)
            self.initial.setdefault("model", next(iter(default), None))


class ProposalForm(forms.ModelForm):
    """The task's statement, kind and hours, validated as the task form validates them."""

    hours_per_week = copy.deepcopy(TaskForm.declared_fields["hours_per_week"])

    class Meta:
        model = Task
        fields = ["statement", "kind", "hours_per_week"]
        widgets = {"statement": forms.TextInput(attrs={"size": 60})}
        error_messages = TaskForm.Meta.error_messages

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hours = self.fields["hours_per_week"]
        hours.error_messages["max_decimal_places"] = "Too many decimal places."
        hours.error_messages["max_digits"] = hours.error_messages["invalid"]
