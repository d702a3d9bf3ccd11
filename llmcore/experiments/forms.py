from __future__ import annotations

import json
import re

from django import forms

from .importing import CaseData, split_tags, validate_case
from .models import Dataset, PromptVersion
from .rendering import PromptContent, PromptError, Technique, parse_examples

EXAMPLES_HELP = (
    'Few-shot only. A JSON list: [{"input": {"ticket": "My card was charged twice"}, "output": "billing"}]. '
    "An input object is rendered through the instruction like a test case; an input text is used as is."
)


class PromptForm(forms.Form):
    """A template's metadata and the content of its next version."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        help_text="Its test cases must provide every {{variable}} of the prompt.",
    )
    system_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    instruction = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Use {{variable}} for a test case's inputs, e.g. {{ticket}}.",
    )
    technique = forms.ChoiceField(choices=PromptVersion.TECHNIQUES, initial=Technique.ZERO_SHOT)
    examples = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=EXAMPLES_HELP
    )
    output_format = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Appended to the instruction, e.g. 'one word: billing, bug, account or other'.",
    )
    change_note = forms.CharField(max_length=300, required=False, help_text="What changed and why.")

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(team=team).order_by("name")

    def clean_examples(self) -> list:
        raw = self.cleaned_data.get("examples", "").strip()
        if not raw:
            return []
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        try:
            return [example.to_dict() for example in parse_examples(data)]
        except PromptError as exc:
            raise forms.ValidationError(str(exc)) from None

    def content(self) -> PromptContent:
        data = self.cleaned_data
        return PromptContent(
            instruction=data["instruction"],
            system_prompt=data.get("system_prompt", ""),
            technique=data["technique"],
            examples=parse_examples(data.get("examples") or []),
            output_format=data.get("output_format", ""),
        )

    @classmethod
    def initial_for(cls, template, version: PromptVersion | None) -> dict:
        initial = {"name": template.name, "description": template.description, "dataset": template.dataset_id}
        if version is not None:
            initial.update(
                system_prompt=version.system_prompt,
                instruction=version.instruction,
                technique=version.technique,
                examples=json.dumps(version.examples, indent=2, ensure_ascii=False)
                if version.examples
                else "",
                output_format=version.output_format,
            )
        return initial


class DatasetForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class CaseForm(forms.Form):
    """One field per input variable the dataset already uses, plus one new variable."""

    key = forms.CharField(
        max_length=100, required=False, help_text="A stable identifier; left empty, one is generated."
    )
    new_variable = forms.CharField(
        max_length=60, required=False, label="New input variable", help_text="Name, e.g. ticket"
    )
    new_value = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Its value")
    expected_output = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    expected_label = forms.CharField(max_length=200, required=False)
    sensitive = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Sensitive attributes",
        help_text="One per line, e.g. gender = female, age_band = 30-39. Used for fairness checks.",
    )
    tags = forms.CharField(max_length=500, required=False, help_text="Separated by commas.")
    change_note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, variables: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.variables = list(variables)
        for name in self.variables:
            self.fields[f"input__{name}"] = forms.CharField(
                label=name, required=False, widget=forms.Textarea(attrs={"rows": 3})
            )
        self.order_fields(["key", *[f"input__{n}" for n in self.variables]])

    def input_fields(self):
        return [self[f"input__{name}"] for name in self.variables]

    def clean(self):
        data = super().clean()
        inputs = {
            name: data.get(f"input__{name}", "") for name in self.variables if data.get(f"input__{name}", "")
        }
        new_name = (data.get("new_variable") or "").strip()
        if new_name:
            if new_name in inputs:
                self.add_error("new_variable", f"{new_name!r} already has a field above.")
            inputs[new_name] = data.get("new_value", "")
        sensitive = {}
        for number, line in enumerate((data.get("sensitive") or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip() or not value.strip():
                self.add_error("sensitive", f"Line {number}: write name = value, got {line.strip()!r}.")
                continue
            sensitive[name.strip()] = value.strip()
        self.case_data = CaseData(
            key=(data.get("key") or "").strip(),
            inputs=inputs,
            expected_output=data.get("expected_output", ""),
            expected_label=(data.get("expected_label") or "").strip(),
            sensitive_attributes=sensitive,
            tags=split_tags(data.get("tags", "")),
        )
        for name, message in validate_case(self.case_data).items():
            field = _case_field(name, self.variables, new_name)
            self.add_error(field, f"{name}: {message}" if field is None else message)
        return data

    @classmethod
    def initial_for(cls, case, version) -> dict:
        initial = {
            "key": case.key,
            "expected_output": version.expected_output,
            "expected_label": version.expected_label,
            "sensitive": "\n".join(f"{k} = {v}" for k, v in version.sensitive_attributes.items()),
            "tags": ", ".join(version.tags),
        }
        initial.update({f"input__{k}": v for k, v in version.inputs.items()})
        return initial


def _case_field(name: str, variables: list[str], new_name: str) -> str | None:
    if name.startswith("input."):
        variable = name[6:]
        if variable in variables:
            return f"input__{variable}"
        return "new_variable" if variable == new_name else None
    if name.startswith("sensitive."):
        return "sensitive"
    if name == "input":
        return None
    return name if re.match(r"^[a-z_]+$", name) else None


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSONL, UTF-8, at most 10 MB.")
