from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from .catalogues import unresolved_references
from .evidence_kinds import KNOWN_KINDS
from .models import Dimension, GatePolicy, Kind, Risk, TeamTemplateItem
from .tiers import HIGH_RISK_AREAS

User = get_user_model()


class RiskForm(forms.ModelForm):
    class Meta:
        model = Risk
        fields = [
            "dimension",
            "description",
            "likelihood",
            "impact",
            "mitigation",
            "owner",
            "due",
            "status",
            "residual_likelihood",
            "residual_impact",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "mitigation": forms.Textarea(attrs={"rows": 2}),
            "due": forms.DateInput(attrs={"type": "date"}),
            "likelihood": forms.NumberInput(attrs={"min": 1, "max": 5}),
            "impact": forms.NumberInput(attrs={"min": 1, "max": 5}),
            "residual_likelihood": forms.NumberInput(attrs={"min": 1, "max": 5}),
            "residual_impact": forms.NumberInput(attrs={"min": 1, "max": 5}),
        }
        help_texts = {
            "likelihood": "1 rare · 2 unlikely · 3 possible · 4 likely · 5 almost certain",
            "impact": "1 negligible · 2 minor · 3 moderate · 4 major · 5 severe",
            "residual_likelihood": "After the mitigation.",
            "residual_impact": "After the mitigation.",
        }

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        owner.queryset = User.objects.filter(memberships__team=team).order_by("username")
        owner.label_from_instance = lambda user: user.get_username()
        owner.empty_label = "No owner yet"
        owner.error_messages["invalid_choice"] = "Choose the owner among this team's members."
        for name in ("likelihood", "impact", "residual_likelihood", "residual_impact"):
            self.fields[name].error_messages.update(
                {
                    "min_value": "Rate it from 1 to 5.",
                    "max_value": "Rate it from 1 to 5.",
                    "invalid": "Rate it from 1 to 5.",
                }
            )

    def clean(self):
        data = super().clean()
        pairs = [("residual_likelihood", "likelihood"), ("residual_impact", "impact")]
        for residual, inherent in pairs:
            if data.get(residual) and data.get(inherent) and data[residual] > data[inherent]:
                self.add_error(
                    residual, f"The residual rating cannot exceed the inherent one ({data[inherent]})."
                )
        return data


class GatePolicyForm(forms.ModelForm):
    class Meta:
        model = GatePolicy
        fields = [
            "build_needs_governance",
            "deploy_needs_model",
            "deploy_needs_application",
            "deploy_high_needs_governance",
            "max_open_residual",
        ]


def _references_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, help_text="Identifiers separated by commas.", max_length=500
    )


class TeamItemForm(forms.Form):
    kind = forms.ChoiceField(choices=Kind.choices)
    key = forms.SlugField(max_length=60, help_text="A short identifier, e.g. works-council")
    dimension = forms.ChoiceField(choices=Dimension.choices)
    text = forms.CharField(max_length=300, label="Item")
    guidance = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5_000)
    nist = _references_field("NIST AI RMF subcategories (e.g. GOVERN 1.1)")
    iso = _references_field("ISO/IEC 42001 Annex A controls (e.g. A.5.4)")
    eu = _references_field("EU AI Act articles (e.g. Art. 14)")
    requires_evidence = forms.ChoiceField(
        choices=[("", "No automated evidence needed"), *KNOWN_KINDS.items()], required=False
    )

    def clean(self):
        data = super().clean()
        references = {}
        for field, catalogue in (("nist", "nist-ai-rmf"), ("iso", "iso-42001"), ("eu", "eu-ai-act")):
            ids = [part.strip() for part in data.get(field, "").split(",") if part.strip()]
            if ids:
                references[catalogue] = ids
                missing = unresolved_references({catalogue: ids})
                if missing:
                    self.add_error(
                        field, f"Not in the catalogue: {', '.join(m.split(':', 1)[1] for m in missing)}."
                    )
        data["references"] = references
        return data

    def item_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "key": data["key"],
            "dimension": data["dimension"],
            "text": data["text"],
            "guidance": data["guidance"],
            "references": data["references"],
            "requires_evidence": data["requires_evidence"],
        }


class TierForm(forms.Form):
    prohibited = forms.BooleanField(required=False)
    areas = forms.MultipleChoiceField(
        choices=list(HIGH_RISK_AREAS.items()), required=False, widget=forms.CheckboxSelectMultiple
    )
    narrow_preparatory = forms.BooleanField(required=False)
    chatbot = forms.BooleanField(required=False)
    synthetic = forms.BooleanField(required=False)

    def answers(self) -> dict:
        data = self.cleaned_data
        return {
            "prohibited": data["prohibited"],
            "areas": list(data["areas"]),
            "narrow_preparatory": data["narrow_preparatory"],
            "chatbot": data["chatbot"],
            "synthetic": data["synthetic"],
        }


CARD_TEXT_FIELDS = {
    "overview": "Model details · overview",
    "users": "Considerations · users (one per line)",
    "use_cases": "Considerations · use cases (one per line)",
    "limitations": "Considerations · limitations (one per line)",
    "tradeoffs": "Considerations · trade-offs (one per line)",
}


class ModelCardForm(forms.Form):
    overview = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    users = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=3000)
    use_cases = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=3000)
    limitations = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    tradeoffs = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=3000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in CARD_TEXT_FIELDS.items():
            self.fields[name].label = label


class UploadForm(forms.Form):
    file = forms.FileField()


__all__ = ["TeamTemplateItem"]
