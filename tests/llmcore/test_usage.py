"""Pure budget and usage figures: no database, time passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from llmcore import usage

NOV_22 = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def test_the_month_window_runs_from_the_first_to_the_first_of_next_month():
    window = usage.month_window(NOV_22)
    assert window.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 1, tzinfo=UTC)
    assert window.label == "November 2026"
    assert len(window.days) == 30


def test_december_rolls_over_into_january():
    window = usage.month_window(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert window.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert window.next().label == "January 2027"
    assert window.previous().label == "November 2026"


def test_a_month_parameter_picks_that_month_and_nonsense_falls_back_to_now():
    assert usage.parse_month("2026-02", NOV_22).label == "February 2026"
    assert len(usage.parse_month("2026-02", NOV_22).days) == 28
    assert usage.parse_month("2026-13", NOV_22).label == "November 2026"
    assert usage.parse_month("<script>", NOV_22).label == "November 2026"


def status(tokens_used=0, cost_used="0", token_limit=None, cost_limit=None) -> usage.BudgetStatus:
    return usage.budget_status(
        tokens_used=tokens_used,
        cost_used=Decimal(cost_used),
        token_limit=token_limit,
        cost_limit=None if cost_limit is None else Decimal(cost_limit),
        now=NOV_22,
    )


def test_without_limits_nothing_is_ever_refused():
    unlimited = status(tokens_used=10**12, cost_used="1000000")
    assert not unlimited.has_limit and not unlimited.exhausted
    assert unlimited.refusal_message() == ""
    assert unlimited.tokens_remaining is None


def test_remaining_budget_counts_down_and_stops_at_zero():
    half = status(tokens_used=400_000, token_limit=1_000_000, cost_used="2.50", cost_limit="10")
    assert (half.tokens_remaining, half.cost_remaining) == (600_000, Decimal("7.50"))
    assert (half.token_percent, half.cost_percent) == (40, 25)
    assert not half.exhausted
    over = status(tokens_used=1_234_567, token_limit=1_000_000)
    assert over.tokens_remaining == 0 and over.token_percent == 100


def test_the_budget_is_spent_exactly_at_the_limit():
    assert status(tokens_used=999_999, token_limit=1_000_000).exhausted is False
    assert status(tokens_used=1_000_000, token_limit=1_000_000).exhausted is True


def test_the_refusal_message_gives_the_figures_the_month_and_what_to_do():
    over = status(tokens_used=1_234_567, token_limit=1_000_000)
    assert over.refusal_message() == (
        "This team has used 1,234,567 of its 1,000,000 tokens for November 2026; "
        "ask an admin to raise the budget."
    )


def test_a_spent_money_limit_is_named_in_the_message():
    over = status(tokens_used=10, token_limit=1_000_000, cost_used="12.5", cost_limit="10")
    assert over.refusal_message() == (
        "This team has used $12.50 of its $10.00 spending limit for November 2026; "
        "ask an admin to raise the budget."
    )


def test_a_zero_limit_refuses_everything():
    assert status(token_limit=0).exhausted


def test_daily_totals_fill_missing_days_with_zero_and_sum_models():
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    rows = [
        {"day": date(2026, 11, 1), "tokens_in": 10, "tokens_out": 5, "cost": Decimal("0.1")},
        {"day": date(2026, 11, 1), "tokens_in": 1, "tokens_out": 1, "cost": Decimal("0.2")},
        {"day": date(2026, 11, 3), "tokens_in": 7, "tokens_out": None, "cost": None},
    ]
    assert usage.daily_totals(rows, days) == [(days[0], 17.0), (days[1], 0.0), (days[2], 7.0)]
    assert usage.daily_totals(rows, days, "cost")[0][1] == pytest.approx(0.3)


def test_the_tallest_bar_fills_the_chart_and_empty_days_have_no_height():
    points = [(date(2026, 11, 1), 50.0), (date(2026, 11, 2), 0.0), (date(2026, 11, 3), 100.0)]
    chart = usage.bar_chart(points, width=300, height=104)
    heights = [bar.height for bar in chart.bars]
    assert heights == [50.0, 0.0, 100.0]
    assert chart.bars[2].y == 4.0
    assert chart.bars[1].x > chart.bars[0].x + chart.bars[0].width
    assert chart.bars[0].title == "01 Nov: 50"


def test_an_empty_chart_has_flat_bars():
    chart = usage.bar_chart([(date(2026, 11, 1), 0.0)])
    assert chart.maximum == 0 and chart.bars[0].height == 0


def test_model_sizes_read_like_people_say_them():
    assert usage.format_parameters(22_700_000) == "22.7M"
    assert usage.format_parameters(70_000_000_000) == "70B"
    assert usage.format_parameters(None) == "—"


def test_prices_read_naturally():
    assert usage.format_rate(Decimal("0.150000")) == "$0.15"
    assert usage.format_rate(Decimal("0.00015")) == "$0.00015"
    assert usage.format_rate(Decimal("1200")) == "$1,200.00"
    assert usage.cost_lines(Decimal("0.15"), Decimal("0.6"), Decimal(0)) == [
        "$0.15 / $0.60 per 1k tokens in/out"
    ]
    assert usage.cost_lines(Decimal(0), Decimal(0), Decimal("0.1")) == ["$0.10 per hardware-hour"]
    assert usage.cost_lines(Decimal(0), Decimal(0), Decimal(0)) == ["free"]
