"""Annual business value of a task: a pure function over plain numbers, returned with its formula."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

WEEKS_PER_YEAR = 52
# Bump when the formula changes so stored figures can be told apart from new ones.
VALUE_RULES_VERSION = "value-2"  # 2: the model cost comes from measured cost × yearly volume


@dataclass(frozen=True)
class ValueInputs:
    headcount: int
    people_share: Decimal  # 0..1: share of the job's people who do this task
    hours_per_week: Decimal  # per person doing it
    hourly_cost: Decimal  # loaded cost of one hour of the job
    time_saved: Decimal  # 0..1: expected fraction of the task's time saved
    model_cost_per_year: Decimal = Decimal(0)
    revenue_upside: Decimal = Decimal(0)
    # Where the model cost comes from, when measured: the deciding run's cost per 1,000 cases and
    # the task's yearly volume (model_cost_per_year is their product ÷ 1,000).
    model_cost_per_1k_cases: Decimal | None = None
    cases_per_year: int | None = None


@dataclass(frozen=True)
class ValueBreakdown:
    people: Decimal
    hours_per_year: Decimal
    labour_cost_per_year: Decimal
    time_saved_value: Decimal
    model_cost_per_year: Decimal
    revenue_upside: Decimal
    annual_value: Decimal
    rules_version: str = VALUE_RULES_VERSION

    def formula(self, inputs: ValueInputs) -> str:
        text = (
            f"{inputs.headcount} people × {_pct(inputs.people_share)} doing it × {_num(inputs.hours_per_week)} h/week"
            f" × {WEEKS_PER_YEAR} weeks × {money_cents(inputs.hourly_cost)}/h × {_pct(inputs.time_saved)} saved"
            f" = {_money(self.time_saved_value)}"
        )
        if self.model_cost_per_year:
            text += f" − {_money_precise(self.model_cost_per_year)} model running cost"
            if inputs.model_cost_per_1k_cases is not None and inputs.cases_per_year:
                text += (
                    f" ({_money_precise(inputs.model_cost_per_1k_cases)} per 1,000 cases measured"
                    f" × {inputs.cases_per_year:,} cases/year)"
                )
        if self.revenue_upside:
            text += f" + {_money(self.revenue_upside)} revenue upside"
        if self.model_cost_per_year or self.revenue_upside:
            text += f" = {_money(self.annual_value)}"
        return text


def model_cost_per_year(cost_per_1k_cases: Decimal | None, cases_per_year: int | None) -> Decimal:
    """The model's yearly running cost for a task: the deciding run's measured cost per 1,000 cases ×
    the task's cases a year ÷ 1,000, to the cent; 0 while either is unknown."""
    if cost_per_1k_cases is None or not cases_per_year:
        return Decimal("0.00")
    return _round(Decimal(cost_per_1k_cases) * cases_per_year / 1000)


def annual_value(inputs: ValueInputs) -> ValueBreakdown:
    people = Decimal(inputs.headcount) * inputs.people_share
    hours_per_year = people * inputs.hours_per_week * WEEKS_PER_YEAR
    labour = hours_per_year * inputs.hourly_cost
    saved = labour * inputs.time_saved
    total = saved - inputs.model_cost_per_year + inputs.revenue_upside
    return ValueBreakdown(
        people=people,
        hours_per_year=hours_per_year,
        labour_cost_per_year=_round(labour),
        time_saved_value=_round(saved),
        model_cost_per_year=_round(inputs.model_cost_per_year),
        revenue_upside=_round(inputs.revenue_upside),
        annual_value=_round(total),
    )


def _round(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _num(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _pct(value: Decimal) -> str:
    return f"{_num(Decimal(value) * 100)}%"


def _money(value: Decimal) -> str:
    return f"${Decimal(value):,.0f}"


def money_cents(value: Decimal) -> str:
    """$50, $50.75: whole dollars without cents, anything else with them."""
    value = Decimal(value)
    return f"${value:,.0f}" if value == value.to_integral_value() else f"${value:,.2f}"


def _money_precise(value: Decimal) -> str:
    """Small amounts keep the digits that make them non-zero ($0.0008), large ones whole dollars."""
    value = Decimal(value)
    if abs(value) >= 100:
        return _money(value)
    if abs(value) >= 1 or value == 0:
        return money_cents(value)
    return f"${value.normalize():f}" if abs(value) >= Decimal("0.0001") else f"${value:.2e}"
