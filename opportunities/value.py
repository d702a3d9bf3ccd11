"""Annual business value of a task: a pure function over plain numbers, returned with its formula."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

WEEKS_PER_YEAR = 52
# Bump when the formula changes so stored figures can be told apart from new ones.
VALUE_RULES_VERSION = "value-1"


@dataclass(frozen=True)
class ValueInputs:
    headcount: int
    people_share: Decimal  # 0..1: share of the job's people who do this task
    hours_per_week: Decimal  # per person doing it
    hourly_cost: Decimal  # loaded cost of one hour of the job
    time_saved: Decimal  # 0..1: expected fraction of the task's time saved
    model_cost_per_year: Decimal = Decimal(0)
    revenue_upside: Decimal = Decimal(0)


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
            f" × {WEEKS_PER_YEAR} weeks × {_money(inputs.hourly_cost)}/h × {_pct(inputs.time_saved)} saved"
            f" = {_money(self.time_saved_value)}"
        )
        if self.model_cost_per_year:
            text += f" − {_money(self.model_cost_per_year)} model running cost"
        if self.revenue_upside:
            text += f" + {_money(self.revenue_upside)} revenue upside"
        if self.model_cost_per_year or self.revenue_upside:
            text += f" = {_money(self.annual_value)}"
        return text


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
