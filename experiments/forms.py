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


# The longest system prompt, instruction or output format accepted (as long as a test case's input).
PROMPT_TEXT_MAX_LENGTH = 20_000


class PromptForm(forms.Form):
    """A template's metadata and the content of its next version."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000)
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(),
        required=False,
        help_text="Its test cases must provide every {{variable}} of the prompt.",
    )
    system_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=PROMPT_TEXT_MAX_LENGTH
    )
    instruction = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=PROMPT_TEXT_MAX_LENGTH,
        help_text="Use {{variable}} for a test case's inputs, e.g. {{ticket}}.",
    )
    technique = forms.ChoiceField(choices=PromptVersion.TECHNIQUES, initial=Technique.ZERO_SHOT)
    examples = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text=EXAMPLES_HELP, max_length=50_000
    )
    output_format = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=PROMPT_TEXT_MAX_LENGTH,
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


# Experiments --------------------------------------------------------------------------------------

# (field, the name people know, a one-line hint)
PARAM_FIELDS = (
    ("temperature", "Temperature", "0 = greedy: the same output every time; higher = more varied"),
    ("max_new_tokens", "Max new tokens", "longest output, 1–4096 tokens"),
    ("top_p", "Top-p", "sample from the most likely tokens covering this share; 1 = off"),
    ("top_k", "Top-k", "sample from this many most likely tokens; 0 = off"),
    ("repetition_penalty", "Repetition penalty", "above 1 discourages repeating; 1 = off (local models)"),
    ("frequency_penalty", "Frequency penalty", "−2 to 2; hosted models"),
    ("presence_penalty", "Presence penalty", "−2 to 2; hosted models"),
    ("seed", "Seed", "makes sampled outputs reproducible"),
    ("timeout_s", "Timeout (s)", "longest wait for one request"),
)
# Presets the builder offers for a parameter set (field -> value; fields not named are cleared).
PARAM_PRESETS = {
    "Deterministic": {"temperature": "0", "top_p": "1", "top_k": "0", "seed": ""},
    "Creative": {"temperature": "0.8", "top_p": "0.95", "top_k": "50", "seed": "1"},
}


class ParamSetForm(forms.Form):
    """One parameter set; InferenceParams.from_dict validates it and its errors land on each field."""

    label = forms.CharField(max_length=60, required=False, label="Name")
    stop = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Stop sequences",
        help_text="one per line: the output ends before any of them",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label, help_text in PARAM_FIELDS:
            self.fields[name] = forms.CharField(
                required=False, label=label, help_text=help_text, widget=forms.TextInput(attrs={"size": 6})
            )
        self.order_fields(["label", *[name for name, _, _ in PARAM_FIELDS], "stop"])

    def param_fields(self):
        return [self[name] for name, _, _ in PARAM_FIELDS]

    def clean(self):
        from llmcore.engine.params import InferenceParams, InvalidParameters

        data = super().clean()
        values = {name: (data.get(name) or "").strip() for name, _, _ in PARAM_FIELDS}
        values["stop"] = data.get("stop") or ""
        self.is_empty = not (data.get("label") or "").strip() and not any(values.values())
        if self.is_empty:
            return data
        if not (data.get("label") or "").strip():
            self.add_error("label", "Name this parameter set, e.g. greedy or creative.")
        try:
            self.params = InferenceParams.from_dict({k: v for k, v in values.items() if v})
        except InvalidParameters as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
        return data

    @staticmethod
    def initial_for(param_set: dict) -> dict:
        params = param_set["params"]
        initial = {"label": param_set["label"], "stop": "\n".join(params.get("stop") or [])}
        initial.update(
            {name: "" if params.get(name) is None else params[name] for name, _, _ in PARAM_FIELDS}
        )
        return initial


ParamSetFormSet = forms.formset_factory(ParamSetForm, extra=0, min_num=3, max_num=6)


class ScorerForm(forms.Form):
    name = forms.ChoiceField(required=False, label="Scorer")
    params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=20_000,
        label="Parameters (JSON)",
        help_text='e.g. {"labels": ["billing", "bug", "account"]}',
    )
    threshold = forms.CharField(
        required=False, help_text="empty: the scorer's default; none: reported, not deciding pass or fail"
    )
    weight = forms.CharField(required=False, initial="1")

    def __init__(self, *args, **kwargs):
        from llmcore.scoring import catalog

        super().__init__(*args, **kwargs)
        self.fields["name"].choices = [("", "—")] + [(item["name"], item["label"]) for item in catalog()]

    def clean(self):
        from llmcore.scoring import InvalidScorerConfig, build_scorer

        data = super().clean()
        self.is_empty = not data.get("name")
        if self.is_empty:
            return data
        raw = (data.get("params") or "").strip()
        try:
            params = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            self.add_error("params", f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
            return data
        if not isinstance(params, dict):
            self.add_error("params", 'Write an object, e.g. {"strings": ["refund"]}.')
            return data
        kwargs = {"weight": (data.get("weight") or "1").strip()}
        threshold = (data.get("threshold") or "").strip()
        if threshold.lower() == "none":
            kwargs["threshold"] = None
        elif threshold:
            kwargs["threshold"] = threshold
        try:
            self.config = build_scorer(data["name"], params, **kwargs).config()
        except InvalidScorerConfig as exc:
            for name, message in exc.errors.items():
                field = name if name in {"threshold", "weight"} else "params"
                self.add_error(field, f"{name}: {message}" if field == "params" else message)
        return data

    @staticmethod
    def initial_for(config: dict) -> dict:
        threshold = config.get("threshold")
        return {
            "name": config["name"],
            "params": json.dumps(config.get("params") or {}, ensure_ascii=False),
            "threshold": "none" if threshold is None else threshold,
            "weight": config.get("weight", 1),
        }


ScorerFormSet = forms.formset_factory(ScorerForm, extra=0, min_num=3, max_num=6)


class VersionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        note = f" — {obj.change_note}" if obj.change_note else ""
        variables = sorted(obj.content().variables())
        uses = f" · uses {', '.join('{{' + name + '}}' for name in variables)}" if variables else ""
        return f"{obj.template.name} v{obj.number} ({obj.get_technique_display().lower()}){note}{uses}"


class ModelChoiceMultiple(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.picker_label


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000)
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    prompt_versions = VersionChoiceField(
        queryset=PromptVersion.objects.none(), widget=forms.CheckboxSelectMultiple, label="Prompt versions"
    )
    model_configs = ModelChoiceMultiple(queryset=None, widget=forms.CheckboxSelectMultiple, label="Models")
    repeats = forms.IntegerField(
        min_value=1, max_value=10, initial=1, help_text="Outputs per case (1–10), to measure consistency."
    )
    reuse_cached = forms.BooleanField(
        required=False,
        initial=True,
        label="Reuse earlier identical outputs",
        help_text="Copy outputs of the same prompt version, model, parameters, case version and repeat "
        "instead of generating them again.",
    )

    def __init__(self, *args, team=None, role: str = "", **kwargs):
        from llmcore.models import Modality, ModelConfig

        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(team=team).order_by("name")
        self.fields["prompt_versions"].queryset = (
            PromptVersion.objects.filter(template__team=team)
            .select_related("template")
            .order_by("template__name", "template_id", "-number")
        )
        self.fields["model_configs"].queryset = (
            ModelConfig.objects.available_models(team, role).filter(modality=Modality.TEXT).order_by("name")
        )
        if not self.is_bound and not self.initial.get("model_configs"):
            # A new experiment starts with the instance's default model ticked.
            from llmcore.seed import DEFAULT_GENERATOR_NAME

            default = self.fields["model_configs"].queryset.filter(name=DEFAULT_GENERATOR_NAME, team=None)
            self.initial["model_configs"] = list(default.values_list("pk", flat=True)[:1])

    def clean(self):
        """A prompt version whose variables the dataset's cases do not all provide is refused here, when
        the grid is saved, rather than when the experiment starts."""
        data = super().clean()
        dataset, versions = data.get("dataset"), data.get("prompt_versions")
        if not dataset or not versions:
            return data
        from .services.datasets import current_versions

        inputs = [set(values) for values in current_versions(dataset).values_list("inputs", flat=True)]
        if not inputs:
            return data
        common = set.intersection(*inputs)
        for version in versions:
            missing = sorted(set(version.content().variables()) - common)
            if missing:
                needed = ", ".join("{{" + name + "}}" for name in missing)
                have = ", ".join(sorted(common)) or "none in common"
                self.add_error(
                    "prompt_versions",
                    f"{version.template.name} v{version.number} uses {needed}, which not every case of "
                    f"“{dataset.name}” has (their inputs: {have}). Choose a version written for this "
                    "dataset, or add the input to its cases.",
                )
        return data


# Human review -------------------------------------------------------------------------------------


class ReviewForm(forms.Form):
    assignment = forms.UUIDField(widget=forms.HiddenInput)
    verdict = forms.ChoiceField(
        choices=[("accept", "Accept as is"), ("minor_edit", "Minor edit needed"), ("reject", "Reject")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000)
    edited_text = forms.CharField(
        label="Edited output (for a minor edit)",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=20_000,
        strip=False,
    )


class AssignReviewsForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)
    per_run = forms.IntegerField(
        min_value=1,
        max_value=5000,
        initial=30,
        label="Outputs per run",
        help_text="The first repeat of each case, in case order.",
    )
    per_output = forms.TypedChoiceField(
        choices=[(1, "1 reviewer per output"), (2, "2 reviewers per output (measures agreement)")],
        coerce=int,
        initial=2,
        label="Reviewers per output",
    )

    def __init__(self, *args, team=None, **kwargs):
        from django.contrib.auth import get_user_model

        from accounts.models import PORTFOLIO_WRITERS

        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = (
            get_user_model()
            .objects.filter(memberships__team=team, memberships__role__in=list(PORTFOLIO_WRITERS))
            .order_by("username")
        )
