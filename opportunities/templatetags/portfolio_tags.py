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


@register.filter
def share(fraction) -> str:
    """A share 0..1 (or None) as a whole percentage: 0.376 -> "38%", None -> "–"."""
    if fraction is None or fraction == "":
        return "–"
    try:
        return f"{round(float(fraction) * 100)}%"
    except (TypeError, ValueError):
        return "–"
