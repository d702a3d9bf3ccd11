"""The learning curve as a small SVG line chart: accuracy and Cohen's kappa against the number of labels
learned from (log scale), from evaluation.Quality.to_dict()["learning_curve"]. Only numbers go in; every
label is text made here, escaped by format_html."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 420, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 14, 36
SERIES = (("accuracy", "Accuracy", "#2f6db5"), ("kappa", "Cohen's kappa", "#c27400"))


def learning_curve_svg(points: Sequence[dict]) -> SafeString:
    points = [p for p in points if p.get("labels") and p.get("accuracy") is not None]
    if len(points) < 2:
        return mark_safe("")
    low, high = math.log10(points[0]["labels"]), math.log10(points[-1]["labels"])
    span = (high - low) or 1.0

    def x(labels: int) -> float:
        return LEFT + (math.log10(labels) - low) / span * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (1 - min(max(value, 0.0), 1.0)) * (HEIGHT - TOP - BOTTOM)

    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e6e9f0"/>'
        '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#5b6477">{}</text>',
        ((LEFT, WIDTH - RIGHT, f"{y(v):.1f}", f"{y(v):.1f}", LEFT - 4, f"{y(v) + 3:.1f}", f"{v:.1f}")
         for v in (0.0, 0.25, 0.5, 0.75, 1.0)),
    )  # fmt: skip
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#5b6477">{}</text>',
        ((f"{x(p['labels']):.1f}", HEIGHT - BOTTOM + 14, f"{p['labels']:,}") for p in points),
    )
    lines = []
    for key, name, colour in SERIES:
        shown = [(p, x(p["labels"]), y(p[key])) for p in points if p.get(key) is not None]
        path = " ".join(f"{cx:.1f},{cy:.1f}" for _, cx, cy in shown)
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{}: {} with {} labels</title></circle>',
            ((f"{cx:.1f}", f"{cy:.1f}", colour, name, f"{p[key]:.3f}", f"{p['labels']:,}")
             for p, cx, cy in shown),
        )  # fmt: skip
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}', path, colour, dots
            )
        )
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11" fill="#1d2433">{}</text>',
        ((LEFT + 130 * i, HEIGHT - 12, colour, LEFT + 130 * i + 14, HEIGHT - 3, name)
         for i, (_, name, colour) in enumerate(SERIES)),
    )  # fmt: skip
    return format_html(
        '<svg class="learning-curve" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="Learning curve: accuracy and kappa by number of labels" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">{}{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        grid,
        ticks,
        mark_safe("".join(lines)),  # noqa: S308 - each part built by format_html above
        legend,
    )
