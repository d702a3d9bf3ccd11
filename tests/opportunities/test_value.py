from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from opportunities.models import Job, Task
from opportunities.value import VALUE_RULES_VERSION, ValueInputs, annual_value
from tests.factories import make_job, make_task


def inputs(**overrides) -> ValueInputs:
    fields = {
        "headcount": 10,
        "people_share": Decimal("0.5"),
        "hours_per_week": Decimal("4"),
        "hourly_cost": Decimal("40"),
        "time_saved": Decimal("0.25"),
    }
    fields.update(overrides)
    return ValueInputs(**fields)


def test_value_is_people_times_share_hours_weeks_cost_and_time_saved():
    breakdown = annual_value(inputs())
    # 10 people × 50% × 4 h × 52 weeks = 1,040 h; × $40 = $41,600; × 25% = $10,400
    assert breakdown.people == Decimal("5.0")
    assert breakdown.hours_per_year == Decimal("1040")
    assert breakdown.labour_cost_per_year == Decimal("41600.00")
    assert breakdown.time_saved_value == Decimal("10400.00")
    assert breakdown.annual_value == Decimal("10400.00")


def test_model_running_cost_is_subtracted_and_revenue_upside_added():
    breakdown = annual_value(inputs(model_cost_per_year=Decimal("400"), revenue_upside=Decimal("1000")))
    assert breakdown.annual_value == Decimal("11000.00")


def test_value_can_be_negative_when_the_model_costs_more_than_it_saves():
    assert annual_value(
        inputs(time_saved=Decimal(0), model_cost_per_year=Decimal("99"))
    ).annual_value == Decimal("-99.00")


@pytest.mark.parametrize(
    "field, value",
    [
        ("headcount", 0),
        ("people_share", Decimal(0)),
        ("hours_per_week", Decimal(0)),
        ("time_saved", Decimal(0)),
    ],
)
def test_any_zero_factor_makes_the_saving_zero(field, value):
    assert annual_value(inputs(**{field: value})).time_saved_value == Decimal("0.00")


def test_value_is_rounded_half_up_to_cents():
    # 1 × 1 × 1 h × 52 × $0.01 × 0.5 = $0.26
    breakdown = annual_value(
        inputs(
            headcount=1,
            people_share=Decimal(1),
            hours_per_week=Decimal(1),
            hourly_cost=Decimal("0.01"),
            time_saved=Decimal("0.5"),
        )
    )
    assert breakdown.annual_value == Decimal("0.26")


def test_formula_shows_every_input_and_the_result():
    given = inputs()
    text = annual_value(given).formula(given)
    assert text == "10 people × 50% doing it × 4 h/week × 52 weeks × $40/h × 25% saved = $10,400"


def test_formula_mentions_model_cost_and_revenue_only_when_present():
    given = inputs(model_cost_per_year=Decimal("400"), revenue_upside=Decimal("1000"))
    text = annual_value(given).formula(given)
    assert text.endswith("= $10,400 − $400 model running cost + $1,000 revenue upside = $11,000")


def test_breakdown_records_the_rules_version():
    assert annual_value(inputs()).rules_version == VALUE_RULES_VERSION


def test_task_builds_its_inputs_from_its_job_without_the_database():
    job = Job(title="Agent", headcount=12, hourly_cost=Decimal("30"))
    task = Task(job=job, hours_per_week=Decimal("2"), people_share=Decimal("0.5"), time_saved=Decimal("0.1"))
    # 12 × 0.5 × 2 × 52 × 30 × 0.1 = 1,872
    assert task.value_breakdown().annual_value == Decimal("1872.00")


@pytest.mark.django_db
def test_sql_annotation_equals_the_python_value(team):
    job = make_job(team, headcount=37, hourly_cost="43.27")
    cases = [
        {"hours_per_week": Decimal("7.25"), "people_share": Decimal("0.333"), "time_saved": Decimal("0.125")},
        {"hours_per_week": Decimal("80"), "people_share": Decimal("1"), "time_saved": Decimal("1")},
        {"hours_per_week": Decimal("0.5"), "people_share": Decimal("0.001"), "time_saved": Decimal("0.999")},
        {
            "hours_per_week": Decimal("3"),
            "people_share": Decimal("0.5"),
            "time_saved": Decimal("0.3"),
            "model_cost_per_year": Decimal("1234.56"),
            "revenue_upside": Decimal("500.05"),
        },
    ]
    for fields in cases:
        make_task(job, **fields)
    for task in Task.objects.for_team(team).with_value().select_related("job"):
        assert (
            Decimal(task.annual_value).quantize(Decimal("0.01"), ROUND_HALF_UP)
            == task.value_breakdown().annual_value
        )
