"""Budgets and usage figures as pure functions over plain values: no ORM, time passed in as `now`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class MonthWindow:
    start: datetime  # first instant of the month, inclusive
    end: datetime  # first instant of the next month, exclusive

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")

    @property
    def slug(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def days(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end.date() - first).days)]

    def previous(self) -> MonthWindow:
        return month_window(self.start - timedelta(days=1))

    def next(self) -> MonthWindow:
        return month_window(self.end)


def month_window(now: datetime) -> MonthWindow:
    """The calendar month containing `now`, in now's time zone."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return MonthWindow(start=start, end=end)


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str, now: datetime) -> MonthWindow:
    """'2026-11' -> that month (in now's time zone); anything else -> the month containing now."""
    match = _MONTH.match(value or "")
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        return month_window(now)
    return month_window(now.replace(year=int(match[1]), month=int(match[2]), day=1))


@dataclass(frozen=True)
class BudgetStatus:
    month: str
    tokens_used: int
    cost_used: Decimal
    token_limit: int | None = None
    cost_limit: Decimal | None = None

    @property
    def has_limit(self) -> bool:
        return self.token_limit is not None or self.cost_limit is not None

    @property
    def tokens_remaining(self) -> int | None:
        return None if self.token_limit is None else max(self.token_limit - self.tokens_used, 0)

    @property
    def cost_remaining(self) -> Decimal | None:
        return None if self.cost_limit is None else max(self.cost_limit - self.cost_used, Decimal(0))

    @property
    def token_share(self) -> float | None:
        return _share(self.tokens_used, self.token_limit)

    @property
    def cost_share(self) -> float | None:
        return _share(self.cost_used, self.cost_limit)

    @property
    def token_percent(self) -> int:
        return _percent(self.token_share)

    @property
    def cost_percent(self) -> int:
        return _percent(self.cost_share)

    @property
    def tokens_spent(self) -> bool:
        return self.token_limit is not None and self.tokens_used >= self.token_limit

    @property
    def cost_spent(self) -> bool:
        return self.cost_limit is not None and self.cost_used >= self.cost_limit

    @property
    def exhausted(self) -> bool:
        return self.tokens_spent or self.cost_spent

    def refusal_message(self) -> str:
        """Why new work is refused, with the figures; empty while budget remains."""
        parts = []
        if self.tokens_spent:
            parts.append(f"{self.tokens_used:,} of its {self.token_limit:,} tokens")
        if self.cost_spent:
            parts.append(f"{_money(self.cost_used)} of its {_money(self.cost_limit)} spending limit")
        if not parts:
            return ""
        return f"This team has used {' and '.join(parts)} for {self.month}; ask an admin to raise the budget."


def budget_status(
    *,
    tokens_used: int,
    cost_used: Decimal,
    token_limit: int | None,
    cost_limit: Decimal | None,
    now: datetime,
) -> BudgetStatus:
    return BudgetStatus(
        month=month_window(now).label,
        tokens_used=int(tokens_used),
        cost_used=Decimal(cost_used),
        token_limit=token_limit,
        cost_limit=None if cost_limit is None else Decimal(cost_limit),
    )


def _share(used, limit) -> float | None:
    if limit is None:
        return None
    if limit == 0:
        return 1.0
    return float(used) / float(limit)


def _percent(share: float | None) -> int:
    """For progress bars: 0..100, capped."""
    return 0 if share is None else max(0, min(100, round(share * 100)))


def _money(value: Decimal | None) -> str:
    return f"${Decimal(value or 0):,.2f}"


@dataclass(frozen=True)
class Bar:
    day: date
    value: float
    x: float
    y: float
    width: float
    height: float

    @property
    def title(self) -> str:
        return f"{self.day:%d %b}: {self.value:,.0f}"


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    maximum: float

    @property
    def ticks(self) -> list[Bar]:
        """Every seventh day from the first, for x-axis labels that never overlap."""
        return self.bars[::7]


def daily_totals(rows: list[dict], days: list[date], field: str = "tokens") -> list[tuple[date, float]]:
    """Sums `field` per day over summary rows ({day, tokens_in, tokens_out, cost, ...}), zero-filling days."""
    totals = dict.fromkeys(days, 0.0)
    for row in rows:
        if row["day"] not in totals:
            continue
        if field == "tokens":
            value = (row.get("tokens_in") or 0) + (row.get("tokens_out") or 0)
        else:
            value = row.get(field) or 0
        totals[row["day"]] += float(value)
    return list(totals.items())


def bar_chart(points: list[tuple[date, float]], width: int = 720, height: int = 160) -> BarChart:
    """Geometry of a bar per day (SVG user units; y grows downwards); the template draws it."""
    maximum = max((value for _, value in points), default=0.0)
    slot = width / max(len(points), 1)
    bars = []
    for i, (day, value) in enumerate(points):
        bar_height = 0.0 if maximum == 0 else (height - 4) * value / maximum
        bars.append(
            Bar(
                day=day,
                value=value,
                x=round(i * slot + slot * 0.1, 2),
                y=round(height - bar_height, 2),
                width=round(slot * 0.8, 2),
                height=round(bar_height, 2),
            )
        )
    return BarChart(bars=bars, width=width, height=height, maximum=maximum)


def format_parameters(count: int | None) -> str:
    """135000000 -> '135M', 1_500_000_000 -> '1.5B', None -> '—'."""
    if not count:
        return "—"
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= size:
            return f"{count / size:.3g}{suffix}"
    return str(count)


def format_rate(value: Decimal) -> str:
    """A price with at least two decimals and no trailing zeros beyond: 0.15 -> '$0.15', 0.00015 -> '$0.00015'."""
    whole, _, fraction = f"{Decimal(value):.6f}".rstrip("0").partition(".")
    return f"${int(whole):,}.{fraction.ljust(2, '0')}"


def cost_lines(per_1k_input: Decimal, per_1k_output: Decimal, per_hour: Decimal) -> list[str]:
    """How a model is priced, in words: per token for hosted models, per hour for local ones."""
    lines = []
    if per_1k_input or per_1k_output:
        lines.append(f"{format_rate(per_1k_input)} / {format_rate(per_1k_output)} per 1k tokens in/out")
    if per_hour:
        lines.append(f"{format_rate(per_hour)} per hardware-hour")
    return lines or ["free"]
