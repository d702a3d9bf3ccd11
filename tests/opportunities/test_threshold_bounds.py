from __future__ import annotations

import pytest
from django.urls import reverse

from opportunities.models import FeasibilityPolicy

GOOD = {
    "automation_pass_lower": "90",
    "automation_acceptance": "90",
    "min_cases": "30",
    "augmentation_lower": "60",
    "max_cost_per_1k_cases": "",
    "max_p95_latency_s": "",
}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("automation_pass_lower", "Must be a percentage between 0 and 100."),
        ("min_cases", "Must be a whole number between 1 and 100,000."),
        ("max_cost_per_1k_cases", "Must be an amount between 0 and 99,999,999."),
        ("max_p95_latency_s", "Must be at most 86,400 seconds (a day)."),
    ],
)
def test_a_huge_threshold_is_a_field_error_and_saves_nothing(owner_client, team, field, message):
    response = owner_client.post(reverse("feasibility_thresholds", args=[team.slug]), {**GOOD, field: "1e30"})
    assert response.status_code == 400
    assert message in response.text
    assert not FeasibilityPolicy.objects.filter(team=team).exists()
