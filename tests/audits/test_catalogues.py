"""The shipped catalogues and templates: counts, and every reference resolves."""

from __future__ import annotations

import json
from collections import Counter

from audits.catalogues import CATALOGUE_DIR, TEMPLATE_DIR, catalogues, templates, unresolved_references
from audits.evidence_kinds import KNOWN_KINDS
from audits.models import Dimension, Kind
from opportunities.models import STAGE_ORDER


def test_nist_ai_rmf_has_72_subcategories_by_function():
    nist = catalogues()["nist-ai-rmf"]
    assert nist.version == "1.0"
    assert len(nist.entries) == 72
    by_function = Counter(entry["function"] for entry in nist.entries.values())
    assert by_function == {"GOVERN": 19, "MAP": 18, "MEASURE": 22, "MANAGE": 13}
    assert all(identifier.startswith(entry["function"] + " ") for identifier, entry in nist.entries.items())


def test_iso_42001_annex_a_has_38_controls_under_a2_to_a10():
    iso = catalogues()["iso-42001"]
    assert len(iso.entries) == 38
    clauses = Counter(entry["clause"] for entry in iso.entries.values())
    assert set(clauses) == {f"A.{n}" for n in range(2, 11)}
    assert clauses == {
        "A.2": 3,
        "A.3": 2,
        "A.4": 5,
        "A.5": 4,
        "A.6": 9,
        "A.7": 5,
        "A.8": 4,
        "A.9": 3,
        "A.10": 3,
    }
    assert all(identifier.startswith(entry["clause"] + ".") for identifier, entry in iso.entries.items())


def test_eu_ai_act_catalogue_has_the_articles_the_templates_and_tiers_use():
    eu = catalogues()["eu-ai-act"]
    for identifier in ("Art. 5", "Art. 6", "Art. 9", "Art. 14", "Art. 50", "Annex III(4)", "Annex III(5)"):
        assert identifier in eu.entries


def test_catalogue_titles_are_short_own_words_not_copied_text():
    for catalogue in catalogues().values():
        for entry in catalogue.entries.values():
            assert 5 < len(entry["title"]) <= 80, entry


def test_every_catalogue_file_is_versioned_and_identifiers_are_unique():
    for path in CATALOGUE_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        ids = [entry["id"] for entry in data["entries"]]
        assert data["version"] and len(ids) == len(set(ids)), path.name


def test_three_templates_one_per_kind_at_a_lifecycle_stage():
    shipped = templates()
    assert set(shipped) == set(Kind.values)
    assert len(list(TEMPLATE_DIR.glob("*.json"))) == 3
    for template in shipped.values():
        assert template.stage in STAGE_ORDER
        assert template.version == "1.0"
        keys = [item["key"] for item in template.items]
        assert len(keys) == len(set(keys)), template.kind
        # every template covers all five dimensions
        assert {item["dimension"] for item in template.items} == set(Dimension.values), template.kind


def test_every_template_reference_resolves_in_its_catalogue():
    for template in templates().values():
        for item in template.items:
            assert unresolved_references(item["references"]) == [], (template.kind, item["key"])
            assert any(item["references"].values()), (template.kind, item["key"])
            assert item["guidance"] and item["text"]


def test_required_evidence_kinds_are_known_kinds():
    required = [item.get("requires_evidence") for t in templates().values() for item in t.items]
    assert "experiment_run" in required
    assert {kind for kind in required if kind} <= set(KNOWN_KINDS)


def test_unknown_reference_is_reported():
    assert unresolved_references({"nist-ai-rmf": ["GOVERN 9.9"], "nope": ["x"]}) == [
        "nist-ai-rmf:GOVERN 9.9",
        "nope:x",
    ]


def test_every_recorded_action_has_a_label():
    import re
    from pathlib import Path

    from audits.models import ACTION_LABELS

    root = Path(__file__).resolve().parents[2] / "audits"
    recorded = set()
    for path in root.glob("*.py"):
        recorded |= set(
            re.findall(
                r'"((?:usecase|audit|evidence|risk|thresholds|gate_policy|template|model_card|member)\.[a-z_]+)"',
                path.read_text(),
            )
        )
    assert recorded and recorded <= set(ACTION_LABELS), recorded - set(ACTION_LABELS)
