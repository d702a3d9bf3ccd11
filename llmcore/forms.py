from __future__ import annotations

from django import forms

from accounts.models import Role, Team

from . import endpoints
from .models import ModelConfig, TeamBudget, looks_like_a_secret

MODEL_FIELDS = [
    "name",
    "modality",
    "parameter_count",
    "context_window",
    "licence",
    "open_weights",
    "is_active",
    "backend",
    "source",
    "revision",
    "dtype",
    "device",
    "load_in_8bit",
    "remote_model",
    "api_key_env",
    "request_timeout_s",
    "max_retries",
    "max_concurrency",
    "external",
    "allowed_roles",
    "cost_per_1k_input",
    "cost_per_1k_output",
    "cost_per_hour",
    "notes",
]


class AllowedRolesMixin:
    """Shows the comma-separated allowed_roles column as one checkbox per role."""

    def _setup_roles(self) -> None:
        self.fields["allowed_roles"] = forms.MultipleChoiceField(
            choices=Role.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="Roles that may use it",
            help_text="External models only. None ticked: every role in the team.",
        )
        if self.instance.pk and not self.is_bound:
            self.initial["allowed_roles"] = self.instance.allowed_role_list

    def clean_allowed_roles(self) -> str:
        chosen = set(self.cleaned_data.get("allowed_roles") or [])
        return ",".join(role for role in Role.values if role in chosen)

    def _setup_key_choices(self) -> None:
        """API keys are picked from the ASSAY_MODEL_KEY_* variables set on the instance, never typed."""
        names = endpoints.available_key_names()
        current = self.instance.api_key_env if self.instance.pk else ""
        if current and current not in names and endpoints.is_allowed_key_name(current):
            names.append(current)  # set on the workers only: keep it pickable
        self.fields["api_key_env"] = forms.ChoiceField(
            choices=[("", "No API key")] + [(name, name) for name in names],
            required=False,
            label="API key",
            help_text=(
                "OpenAI-compatible models only. The instance's API key variables "
                f"({endpoints.KEY_PREFIX}…); an instance administrator adds them."
                if names
                else "OpenAI-compatible models only. No API key is configured on this instance: an "
                f"instance administrator sets one as an environment variable named {endpoints.KEY_PREFIX}…"
            ),
            # Never echo what was sent: it may be a pasted key.
            error_messages={"invalid_choice": "Pick one of the API keys this instance offers."},
        )

    def _setup_concurrency(self) -> None:
        # Local models ignore it, so a blank field keeps what is set (64 for a new model).
        self.fields["max_concurrency"].required = False

    def clean_max_concurrency(self) -> int:
        value = self.cleaned_data.get("max_concurrency")
        return value if value is not None else self.instance.max_concurrency

    def clean_api_key_env(self) -> str:
        value = (self.cleaned_data.get("api_key_env") or "").strip()
        if looks_like_a_secret(value):
            # Never echo a pasted key back into the page.
            self.data = self.data.copy()
            self.data[self.add_prefix("api_key_env")] = ""
        return value


class ModelConfigForm(AllowedRolesMixin, forms.ModelForm):
    """A team's own model. The instance (with its team set) is passed in by the view."""

    class Meta:
        model = ModelConfig
        fields = MODEL_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self._setup_roles()
        self._setup_key_choices()
        self._setup_concurrency()

    def clean_name(self) -> str:
        # The form leaves `team` out, so Django skips the (team, name) constraint: check it here.
        name = self.cleaned_data["name"].strip()
        clashes = ModelConfig.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clashes.filter(team=self.team).exists():
            raise forms.ValidationError(f"This team already has a model called {name!r}; pick another name.")
        if clashes.instance_wide().exists():
            raise forms.ValidationError(
                f"An instance-wide model is already called {name!r}; pick a name people can tell apart."
            )
        return name


class ModelConfigAdminForm(AllowedRolesMixin, forms.ModelForm):
    class Meta:
        model = ModelConfig
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_roles()
        self._setup_concurrency()


class TeamBudgetForm(forms.ModelForm):
    class Meta:
        model = TeamBudget
        fields = ["monthly_token_limit", "monthly_cost_limit"]
        labels = {
            "monthly_token_limit": "Monthly token limit",
            "monthly_cost_limit": "Monthly spending limit",
        }


class ModelConfigChoiceField(forms.ModelChoiceField):
    """A model picker whose options say when data leaves the organisation. Give it
    ModelConfig.objects.available_models(team, role) as its queryset."""

    def label_from_instance(self, obj: ModelConfig) -> str:
        return obj.picker_label


class ModelConfigMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ModelConfig) -> str:
        return obj.picker_label
