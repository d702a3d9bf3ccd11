"""The framework catalogues and audit templates shipped as versioned data files in this app.

catalogues/*.json: {"catalogue": key, "name", "version", "entries": [{"id", "title", ...}]} — identifiers
and short titles of our own (never the frameworks' text). templates_data/*.json: {"template": kind,
"version", "kind", "stage", "title", "items": [{"key", "dimension", "text", "guidance", "references":
{catalogue key: [ids]}, "requires_evidence"?}]}. Loaded once per process; pure reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATALOGUE_DIR = HERE / "catalogues"
TEMPLATE_DIR = HERE / "templates_data"

CATALOGUE_LABELS = {
    "nist-ai-rmf": "NIST AI RMF 1.0",
    "iso-42001": "ISO/IEC 42001 Annex A",
    "eu-ai-act": "EU AI Act",
}


@dataclass(frozen=True)
class Catalogue:
    key: str
    name: str
    version: str
    entries: dict[str, dict]  # id -> entry

    def title(self, identifier: str) -> str:
        entry = self.entries.get(identifier)
        return entry["title"] if entry else ""


@dataclass(frozen=True)
class Template:
    key: str
    kind: str
    version: str
    stage: str
    title: str
    description: str
    items: tuple[dict, ...]

    @property
    def label(self) -> str:
        return f"{self.key}-{self.version}"


@cache
def catalogues() -> dict[str, Catalogue]:
    found = {}
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        found[data["catalogue"]] = Catalogue(
            key=data["catalogue"],
            name=data["name"],
            version=data["version"],
            entries={entry["id"]: entry for entry in data["entries"]},
        )
    return found


@cache
def templates() -> dict[str, Template]:
    """The newest version of each template by kind."""
    found: dict[str, Template] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        template = Template(
            key=data["template"],
            kind=data["kind"],
            version=data["version"],
            stage=data["stage"],
            title=data["title"],
            description=data.get("description", ""),
            items=tuple(data["items"]),
        )
        current = found.get(template.kind)
        if current is None or _version_key(template.version) > _version_key(current.version):
            found[template.kind] = template
    return found


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def unresolved_references(references: dict[str, list[str]]) -> list[str]:
    """'catalogue:id' for every reference that names no entry of its catalogue."""
    known = catalogues()
    missing = []
    for key, identifiers in references.items():
        catalogue = known.get(key)
        for identifier in identifiers:
            if catalogue is None or identifier not in catalogue.entries:
                missing.append(f"{key}:{identifier}")
    return missing


def describe_references(references: dict[str, list[str]]) -> list[dict]:
    """[{"catalogue": label, "id", "title"}] for display, in catalogue order."""
    known = catalogues()
    shown = []
    for key, identifiers in references.items():
        catalogue = known.get(key)
        for identifier in identifiers:
            shown.append(
                {
                    "catalogue": CATALOGUE_LABELS.get(key, key),
                    "id": identifier,
                    "title": catalogue.title(identifier) if catalogue else "",
                }
            )
    return shown
