"""The experiment report's chart: each run's pass rate as a bar with its 95% interval as a whisker, as
SVG markup (inline in the PDF). Labels are escaped by format_html; only markup built here is safe."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

ROW = 22
LABEL_WIDTH = 260
BAR_WIDTH = 300
LABEL_CHARS = 42


def pass_rate_svg(runs: list[dict]) -> SafeString:
    rows = []
    for index, run in enumerate(runs):
        y = index * ROW + 24
        label = run["label"] if len(run["label"]) <= LABEL_CHARS else run["label"][: LABEL_CHARS - 1] + "…"
        rows.append(format_html('<text x="0" y="{}" dominant-baseline="middle">{}</text>', y + 8, label))
        rate = run["pass_rate"]
        if rate is None:
            rows.append(
                format_html(
                    '<text x="{}" y="{}" dominant-baseline="middle" fill="#5b6478">not scored</text>',
                    LABEL_WIDTH,
                    y + 8,
                )
            )
            continue
        low, high = (
            LABEL_WIDTH + round(BAR_WIDTH * rate["low"]),
            LABEL_WIDTH + round(BAR_WIDTH * rate["high"]),
        )
        rows.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="16" fill="#2f6db5" fill-opacity="0.8"/>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#1d2433" stroke-width="1.5"/>'
                '<text x="{}" y="{}" dominant-baseline="middle">{}%</text>',
                LABEL_WIDTH,
                y,
                round(BAR_WIDTH * rate["rate"]),
                low,
                y + 8,
                high,
                y + 8,
                LABEL_WIDTH + BAR_WIDTH + 8,
                y + 8,
                round(100 * rate["rate"]),
            )
        )
    height = max(1, len(runs)) * ROW + 30
    axis = format_html(
        '<text x="{}" y="12" font-weight="600">Pass rate with its 95% interval</text>'
        '<line x1="{}" y1="20" x2="{}" y2="{}" stroke="#c5cbd8"/><line x1="{}" y1="20" x2="{}" y2="{}" stroke="#c5cbd8"/>',
        LABEL_WIDTH,
        LABEL_WIDTH,
        LABEL_WIDTH,
        height - 6,
        LABEL_WIDTH + BAR_WIDTH,
        LABEL_WIDTH + BAR_WIDTH,
        height - 6,
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" aria-label="Pass rates" '
        'font-family="sans-serif" font-size="10" fill="#1d2433">{}{}</svg>',
        LABEL_WIDTH + BAR_WIDTH + 50,
        height,
        axis,
        mark_safe("".join(rows)),  # each row built with format_html above
    )
