"""Server-rendered SVG charts (they also print and go into PDF exports): horizontal bars with 95%
interval whiskers and an optional reference line. Every label is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flag: bool = False  # drawn hatched-grey: e.g. a group under the minimum size


def interval_bars(
    bars: Sequence[Bar],
    *,
    maximum: float = 1.0,
    reference: float | None = None,
    reference_label: str = "",
    percent: bool = True,
    title: str = "",
    width: int = 640,
) -> SafeString:
    row, left, right = 26, 210, 70
    height = row * len(bars) + 34
    span = width - left - right
    scale = maximum or 1.0

    def x(value: float) -> float:
        return left + span * max(0.0, min(value, scale)) / scale

    def fmt(value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.0%}" if percent else f"{value:.3g}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = 8 + i * row
        label = bar.label if len(bar.label) <= 32 else bar.label[:31] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
        )
        if bar.value is not None:
            colour = "#9aa5b1" if bar.flag else "#3b6ea8"
            parts.append(
                f'<rect x="{left}" y="{y + 4}" width="{x(bar.value) - left:.1f}" height="14" fill="{colour}">'
                f"<title>{escape(bar.label)}: {fmt(bar.value)}</title></rect>"
            )
        if bar.low is not None and bar.high is not None:
            cy = y + 11
            parts.append(
                f'<line x1="{x(bar.low):.1f}" x2="{x(bar.high):.1f}" y1="{cy}" y2="{cy}" stroke="#111" stroke-width="1.5"/>'
                f'<line x1="{x(bar.low):.1f}" x2="{x(bar.low):.1f}" y1="{cy - 5}" y2="{cy + 5}" stroke="#111"/>'
                f'<line x1="{x(bar.high):.1f}" x2="{x(bar.high):.1f}" y1="{cy - 5}" y2="{cy + 5}" stroke="#111"/>'
            )
        parts.append(
            f'<text x="{width - right + 6}" y="{y + 15}" font-size="12">{escape(fmt(bar.value))}</text>'
        )
    axis_y = 8 + len(bars) * row
    parts.append(f'<line x1="{left}" x2="{left + span}" y1="{axis_y}" y2="{axis_y}" stroke="#888"/>')
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        tx = left + span * tick
        parts.append(
            f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" font-size="10" fill="#555">'
            f"{escape(fmt(tick * scale))}</text>"
        )
    if reference is not None:
        rx = x(reference)
        parts.append(
            f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="4" y2="{axis_y}" stroke="#b5482a" stroke-dasharray="4 3"/>'
            f'<text x="{rx + 3:.1f}" y="12" font-size="10" fill="#b5482a">{escape(reference_label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every dynamic text above is escaped
