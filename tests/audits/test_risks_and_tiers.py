"""Risk scores, bands and the heat map; the risk tier questionnaire; the register's form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audits.models import Risk, TierAssessment, TrailEntry
from audits.risks import band_of, heat_map, risk_score
from audits.tiers import assess_tier


@pytest.mark.parametrize(
    ("likelihood", "impact", "score", "band"),
    [
        (1, 1, 1, "low"),
        (2, 2, 4, "low"),
        (1, 5, 5, "medium"),
        (3, 3, 9, "medium"),
        (2, 5, 10, "high"),
        (4, 4, 16, "high"),
        (4, 5, 20, "critical"),
        (5, 5, 25, "critical"),
    ],
)
def test_score_is_likelihood_times_impact_with_bands(likelihood, impact, score, band):
    result = risk_score(likelihood, impact)
    assert (result.score, result.band) == (score, band)
    assert result.breakdown == f"{likelihood} × {impact} = {score} ({band})"


@pytest.mark.parametrize("bad", [0, 6, "3", None])
def test_ratings_outside_1_to_5_are_refused(bad):
    with pytest.raises(ValueError, match="rated 1 to 5"):
        risk_score(bad, 3)


def test_every_product_of_two_ratings_has_a_band():
    assert {band_of(a * b) for a in range(1, 6) for b in range(1, 6)} == {"low", "medium", "high", "critical"}


def test_heat_map_counts_risks_per_cell_with_likelihood_five_on_top():
    cells = heat_map([(5, 1), (5, 1), (1, 5)])
    assert len(cells) == 25
    top_left = cells[0]
    assert (top_left.likelihood, top_left.impact, top_left.count) == (5, 1, 2) and top_left.y < cells[-1].y
    assert next(c for c in cells if (c.likelihood, c.impact) == (1, 5)).count == 1
    assert sum(c.count for c in cells) == 3


def test_tier_questionnaire():
    assert (
        assess_tier(prohibited=True, areas=[], narrow_preparatory=False, chatbot=True, synthetic=False).tier
        == "prohibited"
    )
    high = assess_tier(
        prohibited=False, areas=["Annex III(4)"], narrow_preparatory=False, chatbot=False, synthetic=False
    )
    assert high.tier == "high" and "Annex III(4)" in high.rationale[0]
    narrow = assess_tier(
        prohibited=False, areas=["Annex III(5)"], narrow_preparatory=True, chatbot=True, synthetic=False
    )
    assert narrow.tier == "limited" and len(narrow.rationale) == 2
    assert (
        assess_tier(prohibited=False, areas=[], narrow_preparatory=False, chatbot=False, synthetic=False).tier
        == "minimal"
    )
    with pytest.raises(ValueError):
        assess_tier(
            prohibited=False, areas=["Annex IX"], narrow_preparatory=False, chatbot=False, synthetic=False
        )


def test_the_tier_page_stores_answers_rationale_and_sets_the_use_case_tier(use_case, as_user, editor):
    client = as_user(editor)
    url = reverse("audits:tier", args=["acme", use_case.code])
    client.post(url, {"areas": ["Annex III(4)"]})
    use_case.refresh_from_db()
    assessment = TierAssessment.objects.get()
    assert use_case.risk_tier == "high" and assessment.answers["areas"] == ["Annex III(4)"]
    page = client.get(url).content.decode()
    assert "Used in a high-risk area" in page
    assert TrailEntry.objects.get(action="usecase.tier_assessed").change["tier"] == ["minimal", "high"]


def test_the_register_shows_the_formula_and_validates_ratings(use_case, as_user, editor):
    client = as_user(editor)
    url = reverse("audits:risk_register", args=["acme", use_case.code])
    page = client.get(url).content.decode()
    assert "score = likelihood × impact (each 1–5, so 1–25)" in page and "critical 20–25" in page
    response = client.post(
        url,
        {
            "dimension": "privacy",
            "description": "Leaks",
            "likelihood": 7,
            "impact": 3,
            "status": "open",
            "residual_likelihood": 2,
            "residual_impact": 4,
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Rate it from 1 to 5." in text and "cannot exceed the inherent one (3)" in text
    assert not Risk.objects.exists()
    response = client.post(
        url,
        {
            "dimension": "privacy",
            "description": "Leaks",
            "likelihood": 4,
            "impact": 3,
            "status": "open",
            "residual_likelihood": 2,
            "residual_impact": 3,
            "mitigation": "Mask",
            "due": "2026-01-31",
        },
    )
    assert response.status_code == 302
    risk = Risk.objects.get()
    assert (risk.score, risk.residual_score, risk.band) == (12, 6, "high")
    page = client.get(url).content.decode()
    assert "4 × 3 = <strong>12</strong>" in page and 'data-count="1"' in page
    client.post(
        reverse("audits:risk_detail", args=["acme", risk.code]),
        {
            "dimension": "privacy",
            "description": "Leaks",
            "likelihood": 4,
            "impact": 3,
            "status": "closed",
            "residual_likelihood": 1,
            "residual_impact": 3,
        },
    )
    change = TrailEntry.objects.get(action="risk.changed").change
    assert change["status"] == ["open", "closed"] and change["residual_score"] == [6, 3]
