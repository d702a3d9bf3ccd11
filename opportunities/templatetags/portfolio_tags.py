from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def percent(fraction) -> str:
    """A stored fraction 0..1 as the percentage people typed: 0.125 -> "12.5%"."""
    try:
        value = (Decimal(str(fraction)) * 100).quantize(Decimal("0.1")).normalize()
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"{value:f}%"
