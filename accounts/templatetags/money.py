"""Amounts of money with the precision they need: "$1,234.50", "$0.0008" (never "$0.00" for a cost that
is not zero)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def dollars(amount) -> str:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    if value == 0:
        return "$0"
    sign = "−" if value < 0 else ""
    value = abs(value)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    # Below a dollar: two significant digits, so a tenth of a cent still shows.
    digits = max(2, -value.adjusted() + 1)
    return f"{sign}${value:.{digits}f}".rstrip("0").rstrip(".") if digits > 2 else f"{sign}${value:.2f}"
