"""Experiments as code: a grid file (YAML or JSON) parsed and validated into a plain `GridFile`.

    name: Ticket topics
    dataset:
      name: Support tickets            # optional: the experiment's name
      cases:                           # inline, or `file: cases.csv` (CSV or JSONL, relative to this file)
        - key: T-1                     # optional: case-0001, case-0002... by position
          input: {ticket: "I was charged twice"}
          expected_label: billing
    prompts:
      - name: Ticket topic
        instruction: "Topic of this ticket (billing, bug or account): {{ticket}}"
    models: [SmolLM2-135M-Instruct]    # optional: the instance's default model
    params:                            # optional: one greedy set of 64 tokens
      - {label: greedy, temperature: 0, max_new_tokens: 48}
    scorers:
      - {name: label_match, params: {labels: [billing, bug, account]}}
    repeats: 1

Everything that can be checked without the database is checked here, and every problem is reported at
once, each naming its key (`prompts[1].instruction`, `dataset.cases[3], input.ticket`, `params[0].top_p`)
and why. Model names are checked against the team's registry by services/gridfiles.py.
The REST API calls `parse_data` on a request body (which may not name a file on disk).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcore.engine.params import InferenceParams, InvalidParameters

from .importing import CaseData, ImportFailed, parse_jsonl, parse_upload
from .rendering import Example, PromptContent, PromptError, Technique

TOP_KEYS = (
    "name",
    "description",
    "dataset",
    "prompts",
    "models",
    "params",
    "scorers",
    "repeats",
    "reuse_cached",
)
DATASET_KEYS = ("name", "description", "cases", "file")
PROMPT_KEYS = (
    "name",
    "description",
    "instruction",
    "system_prompt",
    "technique",
    "examples",
    "output_format",
)
SCORER_KEYS = ("name", "params", "threshold", "weight")
DEFAULT_PARAMS = {"label": "greedy", "temperature": 0, "max_new_tokens": 64}
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NAME = 200
LINE = re.compile(r"\bline (\d+)\b")


class GridFileError(ValueError):
    """Every problem found, each starting with the key it is about."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(
            "; ".join(errors[:5]) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        )


@dataclass(frozen=True)
class PromptSpec:
    name: str
    content: PromptContent
    description: str = ""


@dataclass(frozen=True)
class ParamSpec:
    label: str
    params: InferenceParams


@dataclass
class GridFile:
    name: str
    dataset_name: str
    cases: list[CaseData]
    prompts: list[PromptSpec]
    models: list[str]  # model names; empty: the instance's default generator
    param_sets: list[ParamSpec]
    scorers: list[dict] = field(default_factory=list)  # Scorer.config() of each
    repeats: int = 1
    reuse_cached: bool = True
    description: str = ""
    dataset_description: str = ""

    def cases_hash(self) -> str:
        return _hash([{"key": c.key, **c.content()} for c in self.cases])

    def content_hash(self) -> str:
        """The whole grid: equal hashes mean the same experiment would run."""
        return _hash(
            {
                "cases": self.cases_hash(),
                "prompts": [[p.name, p.content.content_hash()] for p in self.prompts],
                "models": self.models,
                "params": [[p.label, p.params.to_dict()] for p in self.param_sets],
                "scorers": self.scorers,
                "repeats": self.repeats,
            }
        )


def load(path: str | Path) -> GridFile:
    """Reads a .yaml/.yml/.json grid file; a dataset `file` is read relative to its folder. Errors do not
    repeat the grid file's path (callers print it)."""
    file = Path(path)
    if not file.is_file():
        raise GridFileError(["no such file"])
    if file.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise GridFileError(["expected a .yaml, .yml or .json file"])
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise GridFileError(["not UTF-8 text; save the grid file as UTF-8"]) from None
    return parse_text(text, "json" if file.suffix.lower() == ".json" else "yaml", base_dir=file.parent)


def parse_text(text: str, fmt: str = "yaml", base_dir: Path | None = None) -> GridFile:
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GridFileError(
                [f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"]
            ) from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise GridFileError([f"not valid YAML: {problem}{where}"]) from None
    return parse_data(data, base_dir)


def parse_data(data: Any, base_dir: Path | None = None) -> GridFile:
    """Validates an already-decoded grid (a dict). `base_dir` None: `dataset.file` is refused."""
    if not isinstance(data, dict):
        raise GridFileError(
            [f"the grid must be a mapping of keys ({', '.join(TOP_KEYS)}), got {_kind(data)}"]
        )
    errors: list[str] = []
    errors += _unknown(data, TOP_KEYS, "")
    name = _text(data.get("name"), "name", errors, required=True, limit=MAX_NAME)
    description = _text(data.get("description"), "description", errors, limit=10_000)
    dataset = data.get("dataset")
    cases: list[CaseData] = []
    dataset_name, dataset_description = name, ""
    if not isinstance(dataset, dict):
        errors.append(f"dataset: required, a mapping with cases (inline) or file, got {_kind(dataset)}")
    else:
        errors += _unknown(dataset, DATASET_KEYS, "dataset.")
        dataset_name = _text(dataset.get("name"), "dataset.name", errors, limit=MAX_NAME) or name
        dataset_description = _text(dataset.get("description"), "dataset.description", errors, limit=10_000)
        cases = _cases(dataset, base_dir, errors)
    prompts = _prompts(data.get("prompts"), name, errors)
    for index, prompt in enumerate(prompts):
        _check_variables(prompt, index, cases, errors)
    models = _models(data.get("models"), errors)
    param_sets = _param_sets(data.get("params"), errors)
    scorers = _scorers(data.get("scorers"), errors)
    repeats = data.get("repeats", 1)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 10:
        errors.append(f"repeats: must be a whole number from 1 to 10, got {repeats!r}")
    reuse_cached = data.get("reuse_cached", True)
    if not isinstance(reuse_cached, bool):
        errors.append(f"reuse_cached: must be true or false, got {reuse_cached!r}")
    if errors:
        raise GridFileError(errors)
    return GridFile(
        name=name,
        description=description,
        dataset_name=dataset_name,
        dataset_description=dataset_description,
        cases=cases,
        prompts=prompts,
        models=models,
        param_sets=param_sets,
        scorers=scorers,
        repeats=repeats,
        reuse_cached=reuse_cached,
    )


# Parts -----------------------------------------------------------------------------------------------


def _cases(dataset: dict, base_dir: Path | None, errors: list[str]) -> list[CaseData]:
    has_cases, has_file = "cases" in dataset, "file" in dataset
    if has_cases == has_file:
        errors.append(
            "dataset: give either cases (a list, inline) or file (a CSV or JSONL path), "
            + ("not both" if has_cases else "neither is there")
        )
        return []
    if has_file:
        return _file_cases(dataset["file"], base_dir, errors)
    items = dataset["cases"]
    if not isinstance(items, list):
        errors.append(f"dataset.cases: must be a list of cases, got {_kind(items)}")
        return []
    if not items:
        errors.append("dataset.cases: is empty; add at least one case")
        return []
    lines = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            item = dict(item)
            if "vars" in item and "input" not in item:  # promptfoo's name for a case's variables
                item["input"] = item.pop("vars")
            if item.get("key") in (None, ""):
                item["key"] = _position_key(number)
        lines.append(json.dumps(item, ensure_ascii=False, default=str))
    try:
        return parse_jsonl("\n".join(lines))
    except ImportFailed as exc:
        # parse_jsonl counts lines from 1, one case per line: name the case by its index instead.
        errors += [LINE.sub(lambda m: f"dataset.cases[{int(m.group(1)) - 1}]", error) for error in exc.errors]
        return []


def _file_cases(raw: Any, base_dir: Path | None, errors: list[str]) -> list[CaseData]:
    where = "dataset.file"
    if not isinstance(raw, str) or not raw.strip():
        errors.append(f"{where}: must be the path of a .csv or .jsonl file, got {raw!r}")
        return []
    if base_dir is None:
        errors.append(f"{where}: a path can only be read from a grid file on disk; give the cases inline")
        return []
    path = (base_dir / raw).resolve()
    if not path.is_file():
        errors.append(f"{where}: no such file {raw!r} (looked for {path})")
        return []
    if path.stat().st_size > MAX_FILE_BYTES:
        errors.append(f"{where}: {raw!r} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
        return []
    try:
        cases = parse_upload(path.name, path.read_bytes())
    except ImportFailed as exc:
        errors += [f"{where} {raw}: {error}" for error in exc.errors]
        return []
    given = {c.key for c in cases if c.key}
    for number, case in enumerate(cases, start=1):
        if not case.key:
            case.key = _position_key(number)
            if case.key in given:
                errors.append(
                    f"{where} {raw}: case {number} has no key and its default key {case.key!r} is used by "
                    "another case; give every case a key, or none"
                )
    return cases


def _prompts(raw: Any, experiment_name: str, errors: list[str]) -> list[PromptSpec]:
    from .services.prompts import validate_prompt  # the pages' checks; none reads the database here

    if not isinstance(raw, list) or not raw:
        errors.append(f"prompts: required, a list of at least one prompt, got {_kind(raw)}")
        return []
    prompts, names = [], {}
    for index, item in enumerate(raw):
        where = f"prompts[{index}]"
        if isinstance(item, str):
            item = {"instruction": item}
        if not isinstance(item, dict):
            errors.append(f"{where}: must be a mapping with an instruction, or the instruction as text")
            continue
        before = len(errors)
        errors += _unknown(item, PROMPT_KEYS, f"{where}.")
        name = (
            _text(item.get("name"), f"{where}.name", errors, limit=MAX_NAME)
            or (f"{experiment_name} prompt {index + 1}" if len(raw) > 1 else experiment_name)[:MAX_NAME]
        )
        instruction = _text(
            item.get("instruction"), f"{where}.instruction", errors, required=True, limit=50_000
        )
        technique = item.get("technique", Technique.ZERO_SHOT)
        if technique not in {t.value for t in Technique}:
            errors.append(
                f"{where}.technique: unknown technique {technique!r} "
                f"(known: {', '.join(t.value for t in Technique)})"
            )
        examples = _examples(item.get("examples"), where, errors)
        if name in names:
            errors.append(f"{where}.name: {name!r} is also the name of prompts[{names[name]}]")
        names.setdefault(name, index)
        if len(errors) > before:
            continue
        content = PromptContent(
            instruction=instruction,
            system_prompt=_text(item.get("system_prompt"), f"{where}.system_prompt", errors, limit=50_000),
            technique=technique,
            examples=examples,
            output_format=_text(item.get("output_format"), f"{where}.output_format", errors, limit=10_000),
        )
        try:
            validate_prompt(content, None)
        except PromptError as exc:
            errors.append(f"{where}: {exc}")
            continue
        description = _text(item.get("description"), f"{where}.description", errors, limit=10_000)
        prompts.append(PromptSpec(name=name, content=content, description=description))
    return prompts


def _examples(raw: Any, where: str, errors: list[str]) -> tuple[Example, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(f"{where}.examples: must be a list of {{input, output}}, got {_kind(raw)}")
        return ()
    examples = []
    for number, item in enumerate(raw):
        at = f"{where}.examples[{number}]"
        if not isinstance(item, dict) or set(item) != {"input", "output"}:
            errors.append(f"{at}: must be a mapping with exactly input and output")
        elif not isinstance(item["input"], str | dict) or not isinstance(item["output"], str):
            errors.append(f"{at}: input is text or a mapping of variables, output is text")
        else:
            examples.append(Example(input=item["input"], output=item["output"]))
    return tuple(examples)


def _check_variables(prompt: PromptSpec, index: int, cases: list[CaseData], errors: list[str]) -> None:
    for name in prompt.content.variables():
        lacking = [case.key for case in cases if name not in case.inputs]
        if lacking:
            more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            errors.append(
                f"prompts[{index}]: uses {{{{{name}}}}}, which these cases have no input for: "
                f"{', '.join(lacking[:3])}{more}"
            )


def _models(raw: Any, errors: list[str]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(m, str) and m.strip() for m in raw):
        errors.append(f"models: must be a list of model names from the registry, got {raw!r}")
        return []
    names = [m.strip() for m in raw]
    for index, name in enumerate(names):
        if names.index(name) != index:
            errors.append(f"models[{index}]: {name!r} is listed twice")
    return list(dict.fromkeys(names))


def _param_sets(raw: Any, errors: list[str]) -> list[ParamSpec]:
    if raw is None:
        raw = [DEFAULT_PARAMS]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        errors.append(f"params: must be a list of parameter sets, got {_kind(raw)}")
        return []
    sets, labels = [], {}
    for index, item in enumerate(raw):
        where = f"params[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where}: must be a mapping such as {{label: greedy, temperature: 0}}")
            continue
        values = dict(item)
        label = values.pop("label", None) or ("default" if len(raw) == 1 else f"set-{index + 1}")
        if not isinstance(label, str) or len(label) > 60:
            errors.append(f"{where}.label: must be text of at most 60 characters, got {label!r}")
            continue
        if label in labels:
            errors.append(f"{where}.label: {label!r} is also the label of params[{labels[label]}]")
            continue
        labels[label] = index
        if isinstance(values.get("stop"), str):
            values["stop"] = [values["stop"]]
        try:
            sets.append(ParamSpec(label, InferenceParams.from_dict(values)))
        except InvalidParameters as exc:
            errors += [f"{where}.{name}: {message}" for name, message in exc.errors.items()]
    return sets


def _scorers(raw: Any, errors: list[str]) -> list[dict]:
    from llmcore.scoring import InvalidScorerConfig, build_scorer

    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"scorers: must be a list of scorers, got {_kind(raw)}")
        return []
    configs = []
    for index, item in enumerate(raw):
        where = f"scorers[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            errors.append(f"{where}: must be a scorer name or a mapping with a name")
            continue
        unknown = _unknown(item, SCORER_KEYS, f"{where}.")
        if unknown:
            errors += unknown
            continue
        params = item.get("params") or {}
        if not isinstance(params, dict):
            errors.append(f"{where}.params: must be a mapping, got {_kind(params)}")
            continue
        kwargs: dict[str, Any] = {"weight": item.get("weight", 1.0)}
        if "threshold" in item:
            kwargs["threshold"] = item["threshold"]  # null: reported, not deciding pass or fail
        try:
            configs.append(build_scorer(item["name"], params, **kwargs).config())
        except InvalidScorerConfig as exc:
            for name, message in exc.errors.items():
                key = name if name in ("name", "threshold", "weight") else f"params.{name}"
                errors.append(f"{where}.{key}: {message}")
    return configs


# Helpers ---------------------------------------------------------------------------------------------


def _position_key(number: int) -> str:
    return f"case-{number:04d}"


def _unknown(data: dict, known: tuple[str, ...], prefix: str) -> list[str]:
    return [f"{prefix}{key}: unknown key (known: {', '.join(known)})" for key in data if key not in known]


def _text(raw: Any, where: str, errors: list[str], required: bool = False, limit: int = 0) -> str:
    if raw is None or raw == "":
        if required:
            errors.append(f"{where}: required")
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        errors.append(f"{where}: must be text, got {_kind(raw)}")
        return ""
    text = str(raw)
    if required and not text.strip():
        errors.append(f"{where}: must not be blank")
    if limit and len(text) > limit:
        errors.append(f"{where}: is {len(text):,} characters long; the limit is {limit:,}")
    return text.strip() if where.endswith("name") else text


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _hash(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
