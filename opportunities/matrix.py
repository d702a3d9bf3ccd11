"""Prioritisation matrix: pure layout of tasks by feasibility (x) and annual value (y), and its SVG.

Nothing here touches the database. `layout_matrix` turns plain `MatrixItem`s into point coordinates,
quadrants and axis ticks; `render_svg` turns a layout into SVG markup (a string, so the same chart can go
into a web page or a PDF). All text from users is escaped by `format_html` or `html.escape`; nothing is marked safe
except markup built here.
"""

from __future__ import annotations

import math
import random
import statistics
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# Verdict value -> (label, colour). Keys are opportunities.models.Verdict values (a test checks).
VERDICTS: dict[str, tuple[str, str]] = {
    "automation-ready": ("Automation-ready", "#1d7a46"),
    "augmentation-ready": ("Augmentation-ready", "#2f6db5"),
    "not-yet": ("Not yet", "#c27400"),
    "untested": ("Untested", "#8a93a6"),
}
UNTESTED = "untested"

QUICK_WINS = "quick-wins"
BIG_BETS = "big-bets"
MAYBE_LATER = "maybe-later"
AVOID = "avoid"
# Quadrant key -> (label, what it means). "untested" is the lane, not a quadrant, but is summarised too.
QUADRANTS: dict[str, tuple[str, str]] = {
    QUICK_WINS: ("Quick wins", "high value, high feasibility"),
    BIG_BETS: ("Big bets", "high value, low feasibility"),
    MAYBE_LATER: ("Maybe later", "low value, high feasibility"),
    AVOID: ("Avoid", "low value, low feasibility"),
    UNTESTED: ("Untested", "no experiment evidence yet"),
}

FEASIBILITY_THRESHOLD = 0.5
# Use a log value axis when the largest positive value is at least this many times the smallest.
LOG_SPAN = 100.0
TITLE_STATEMENT_CHARS = 160
# A white outline keeps labels readable over points.
_HALO = ' stroke="#fff" stroke-width="3" paint-order="stroke"'


@dataclass(frozen=True)
class MatrixItem:
    code: str
    statement: str
    job: str
    value: float  # annual value in dollars; may be zero or negative
    verdict: str
    feasibility: float | None  # 0..1, None until experiments exist
    url: str = ""
    basis: str = ""  # which figure `feasibility` is: the one the verdict rests on
    warning: str = ""  # the verdict needs a second look (reviews disagree with the scorer)
    exposure: str = ""  # the task's exposure label and its job's exposed time, in words

    @property
    def untested(self) -> bool:
        return self.verdict == UNTESTED or self.feasibility is None


@dataclass(frozen=True)
class Geometry:
    width: float = 820
    height: float = 520
    left: float = 78  # room for the $ tick labels
    right: float = 18
    top: float = 44  # room for the legend
    bottom: float = 58  # room for the x tick labels and the axis title
    lane_width: float = 70  # the "Untested" lane at the left of the plot
    lane_gap: float = 16
    radius: float = 4

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom

    @property
    def feasibility_left(self) -> float:
        return self.left + self.lane_width + self.lane_gap

    @property
    def feasibility_right(self) -> float:
        return self.width - self.right

    def x_for_feasibility(self, feasibility: float) -> float:
        f = min(max(feasibility, 0.0), 1.0)
        return self.feasibility_left + f * (self.feasibility_right - self.feasibility_left)

    def y_for_fraction(self, fraction: float) -> float:
        return self.plot_bottom - fraction * (self.plot_bottom - self.top)


@dataclass(frozen=True)
class ValueScale:
    low: float
    high: float
    log: bool

    def fraction(self, value: float) -> float:
        """Position of `value` on the axis, 0 (bottom) to 1 (top); values outside are pinned to the ends.

        On a log scale zero and negative values cannot be placed: they sit on the bottom edge (their
        hover title still shows the real figure).
        """
        if self.log:
            if value <= self.low:
                return 0.0
            span = math.log10(self.high) - math.log10(self.low)
            fraction = (math.log10(value) - math.log10(self.low)) / span
        else:
            fraction = (value - self.low) / (self.high - self.low)
        return min(max(fraction, 0.0), 1.0)

    def ticks(self) -> list[float]:
        if self.log:
            decades = range(round(math.log10(self.low)), round(math.log10(self.high)) + 1)
            steps = (1, 2, 5) if len(decades) <= 4 else (1,)
            return [
                step * 10.0**d for d in decades for step in steps if self.low <= step * 10.0**d <= self.high
            ]
        step = _nice_step((self.high - self.low) / 5)
        first = math.ceil(self.low / step) * step
        count = int(round((self.high - first) / step))
        return [first + i * step for i in range(count + 1)]


@dataclass(frozen=True)
class Point:
    item: MatrixItem
    x: float
    y: float
    quadrant: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class QuadrantSummary:
    key: str
    label: str
    meaning: str
    count: int
    top: list[Point]


@dataclass(frozen=True)
class MatrixLayout:
    points: list[Point]
    geometry: Geometry
    scale: ValueScale
    value_threshold: float
    threshold_is_median: bool
    feasibility_threshold: float
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    # When only a sample is drawn (sample_for_matrix): how many tasks there are and each quadrant's count.
    total: int = 0
    quadrant_counts: dict[str, int] | None = None

    @property
    def task_count(self) -> int:
        return max(self.total, len(self.points))

    @property
    def sampled(self) -> bool:
        return self.task_count > len(self.points)

    @property
    def threshold_y(self) -> float:
        return self.geometry.y_for_fraction(self.scale.fraction(self.value_threshold))

    @property
    def split_x(self) -> float:
        return self.geometry.x_for_feasibility(self.feasibility_threshold)


def quadrant_for(
    feasibility: float | None,
    value: float,
    value_threshold: float,
    feasibility_threshold: float = FEASIBILITY_THRESHOLD,
    verdict: str = "",
) -> str:
    """High value means value >= threshold; high feasibility means feasibility >= threshold."""
    if feasibility is None or verdict == UNTESTED:
        return UNTESTED
    high_value = value >= value_threshold
    feasible = feasibility >= feasibility_threshold
    if high_value:
        return QUICK_WINS if feasible else BIG_BETS
    return MAYBE_LATER if feasible else AVOID


def value_scale(values: Sequence[float], threshold: float | None = None) -> ValueScale:
    """A log scale when positive values span LOG_SPAN or more, else a linear one from min(0, lowest)."""
    shown = [*values, *([threshold] if threshold is not None else [])]
    positive = [v for v in shown if v > 0]
    if positive and max(positive) / min(positive) >= LOG_SPAN:
        low = 10.0 ** math.floor(math.log10(min(positive)))
        high = 10.0 ** math.ceil(math.log10(max(positive)))
        return ValueScale(low=low, high=high if high > low else low * 10, log=True)
    low = min([0.0, *shown])
    high = max([0.0, *shown])
    if high <= low:
        high = low + 1000.0
    step = _nice_step((high - low) / 5)
    return ValueScale(
        low=math.floor(low / step) * step, high=math.ceil(high / step) * step or step, log=False
    )


def lane_jitter(code: str) -> float:
    """A stable number in [0, 1) from the task's code, so lane points spread out the same way each time."""
    return zlib.crc32(code.encode()) / 2**32


def layout_matrix(
    items: Iterable[MatrixItem],
    value_threshold: float | None = None,
    feasibility_threshold: float = FEASIBILITY_THRESHOLD,
    geometry: Geometry | None = None,
    sample: MatrixSample | None = None,
) -> MatrixLayout:
    """Place each item. The value threshold defaults to the median value of all items shown; with a
    `sample`, the items are a sample and the threshold, axis range and counts are those of all tasks."""
    geometry = geometry or Geometry()
    items = list(items)
    threshold_is_median = value_threshold is None
    if sample is not None:
        value_threshold, threshold_is_median = sample.value_threshold, sample.threshold_is_median
    if value_threshold is None:
        value_threshold = statistics.median(item.value for item in items) if items else 0.0
    scaled = [item.value for item in items] + (sample.extremes if sample is not None else [])
    scale = value_scale(scaled, value_threshold)
    lane_pad = geometry.radius + 2
    points = []
    for item in items:
        if item.untested:
            x = geometry.left + lane_pad + lane_jitter(item.code) * (geometry.lane_width - 2 * lane_pad)
        else:
            x = geometry.x_for_feasibility(item.feasibility)
        y = geometry.y_for_fraction(scale.fraction(item.value))
        quadrant = quadrant_for(
            item.feasibility, item.value, value_threshold, feasibility_threshold, item.verdict
        )
        points.append(Point(item=item, x=round(x, 1), y=round(y, 1), quadrant=quadrant))
    x_ticks = [Tick(round(geometry.x_for_feasibility(f), 1), f"{f:g}") for f in (0, 0.25, 0.5, 0.75, 1)]
    y_ticks = [
        Tick(round(geometry.y_for_fraction(scale.fraction(v)), 1), money_short(v)) for v in scale.ticks()
    ]
    return MatrixLayout(
        points=points,
        geometry=geometry,
        scale=scale,
        value_threshold=value_threshold,
        threshold_is_median=threshold_is_median,
        feasibility_threshold=feasibility_threshold,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        total=sample.total if sample is not None else len(points),
        quadrant_counts=sample.counts if sample is not None else None,
    )


@dataclass(frozen=True)
class MatrixSample:
    """Which tasks to draw when there are more than the chart can show, and the facts of all of them."""

    ids: set[int]
    total: int
    counts: dict[str, int]  # quadrant -> tasks, over all tasks
    value_threshold: float
    threshold_is_median: bool
    extremes: list[float]  # lowest, highest and lowest positive value of all tasks (the axis range)


def sample_for_matrix(
    rows: Sequence[tuple[int, str, float | None, float]],
    limit: int,
    value_threshold: float | None = None,
    feasibility_threshold: float = FEASIBILITY_THRESHOLD,
    top: int = 5,
) -> MatrixSample:
    """From (id, verdict, feasibility, value) of every task: each quadrant's `top` highest-value tasks
    (so the summary lists the right ones), then a random sample (fixed seed: the same page each time)
    of each quadrant in proportion to its size, `limit` in all."""
    threshold_is_median = value_threshold is None
    values = [float(value or 0) for _, _, _, value in rows]
    if value_threshold is None:
        value_threshold = statistics.median(values) if values else 0.0
    grouped: dict[str, list[tuple[float, int]]] = {key: [] for key in QUADRANTS}
    for (pk, verdict, feasibility, _), value in zip(rows, values, strict=True):
        quadrant = quadrant_for(feasibility, value, value_threshold, feasibility_threshold, verdict)
        grouped[quadrant].append((value, pk))
    chosen: set[int] = set()
    for members in grouped.values():
        chosen.update(pk for _, pk in sorted(members, key=lambda m: (-m[0], m[1]))[:top])
    total = len(rows)
    rest = {key: [pk for _, pk in members if pk not in chosen] for key, members in grouped.items()}
    quotas = _proportional(max(0, limit - len(chosen)), {key: len(pks) for key, pks in rest.items()})
    generator = random.Random(0)
    for key, pks in rest.items():
        chosen.update(generator.sample(pks, quotas[key]))
    positive = [v for v in values if v > 0]
    extremes = [min(values), max(values), *([min(positive)] if positive else [])] if values else []
    return MatrixSample(
        ids=chosen,
        total=total,
        counts={key: len(members) for key, members in grouped.items()},
        value_threshold=value_threshold,
        threshold_is_median=threshold_is_median,
        extremes=extremes,
    )


def quadrant_summary(layout: MatrixLayout, top: int = 5) -> list[QuadrantSummary]:
    """Count per quadrant (and the untested lane) with its `top` highest-value points."""
    grouped: dict[str, list[Point]] = {key: [] for key in QUADRANTS}
    for point in layout.points:
        grouped[point.quadrant].append(point)
    return [
        QuadrantSummary(
            key=key,
            label=label,
            meaning=meaning,
            count=len(grouped[key]) if layout.quadrant_counts is None else layout.quadrant_counts[key],
            top=sorted(grouped[key], key=lambda p: (-p.item.value, p.item.statement))[:top],
        )
        for key, (label, meaning) in QUADRANTS.items()
    ]


def point_title(item: MatrixItem) -> str:
    """Hover text (plain text; escaped when rendered)."""
    statement = " ".join(item.statement.split())
    if len(statement) > TITLE_STATEMENT_CHARS:
        statement = statement[: TITLE_STATEMENT_CHARS - 1] + "…"
    verdict = VERDICTS.get(item.verdict, (item.verdict, ""))[0]
    feasibility = "" if item.feasibility is None else f" · feasibility {item.feasibility:.2f}"
    if feasibility and item.basis:
        feasibility += f" ({item.basis})"
    warning = f"\n⚠ {item.warning}" if item.warning else ""
    exposure = f"\n{item.exposure}" if item.exposure else ""
    return (
        f"{statement}\n{item.job} · {money_full(item.value)}/year · {verdict}{feasibility}{exposure}{warning}"
    )


def render_svg(layout: MatrixLayout, label: str = "Prioritisation matrix") -> SafeString:
    """The chart as a standalone <svg> element (inline in HTML, or in a PDF via WeasyPrint)."""
    g = layout.geometry
    parts: list[str] = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" aria-label="{}" '
            'font-family="system-ui, sans-serif" font-size="11" fill="#1d2433">',
            _n(g.width),
            _n(g.height),
            label,
        ),
        _frame(layout),
        _legend(layout),
    ]
    # One group per verdict so each circle only carries its coordinates.
    by_verdict: dict[str, list[Point]] = {}
    for point in layout.points:
        by_verdict.setdefault(point.item.verdict, []).append(point)
    for verdict, points in by_verdict.items():
        colour = VERDICTS.get(verdict, (verdict, "#555"))[1]
        parts.append(
            format_html('<g class="points verdict-{}" fill="{}" fill-opacity="0.8">', verdict, colour)
        )
        # Thousands of points: one escape per user-written string and plain formatting of numbers
        # (format_html per point was half of the page's time at 5,000 tasks).
        radius = _n(g.radius)
        parts.append(
            "".join(
                f'<a href="{escape(p.item.url or "#")}"><circle cx="{_n(p.x)}" cy="{_n(p.y)}" r="{radius}">'
                f"<title>{escape(point_title(p.item))}</title></circle></a>"
                for p in points
            )
        )
        parts.append("</g>")
    warned = [p for p in layout.points if p.item.warning]
    if warned:
        # A ring around each task whose verdict rests on reviews that disagree with the scorer.
        parts.append('<g class="warnings" fill="none" stroke="#b35c00" stroke-width="2">')
        ring = _n(g.radius + 3)
        parts.append(
            "".join(
                f'<circle cx="{_n(p.x)}" cy="{_n(p.y)}" r="{ring}"><title>{escape(point_title(p.item))}</title></circle>'
                for p in warned
            )
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every part above is built with format_html or escape()


def _frame(layout: MatrixLayout) -> str:
    g = layout.geometry
    top, bottom = g.top, g.plot_bottom
    fl, fr = g.feasibility_left, g.feasibility_right
    sx, ty = layout.split_x, layout.threshold_y
    threshold_label = (
        f"{money_short(layout.value_threshold)} {'median' if layout.threshold_is_median else 'threshold'}"
    )
    parts = [
        # The untested lane and the four quadrant backgrounds.
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#eceef3"/>',
            _n(g.left),
            _n(top),
            _n(g.lane_width),
            _n(bottom - top),
        ),
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#eef8f1"/>',
            _n(sx),
            _n(top),
            _n(fr - sx),
            _n(ty - top),
        ),
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#fdf6ec"/>',
            _n(fl),
            _n(ty),
            _n(sx - fl),
            _n(bottom - ty),
        ),
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#c5cbd8"/>',
            _n(fl),
            _n(top),
            _n(fr - fl),
            _n(bottom - top),
        ),
        # Quadrant lines.
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#5b6478" stroke-dasharray="4 3"/>',
            _n(sx),
            _n(top),
            _n(sx),
            _n(bottom),
        ),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#5b6478" stroke-dasharray="4 3"/>',
            _n(g.left),
            _n(ty),
            _n(fr),
            _n(ty),
        ),
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#5b6478"' + _HALO + ">{}</text>",
            _n(fr - 4),
            _n(ty - 4),
            threshold_label,
        ),
        # Quadrant labels in their corners.
        _quadrant_label(QUICK_WINS, fr - 6, top + 16, "end"),
        _quadrant_label(BIG_BETS, fl + 6, top + 16, "start"),
        _quadrant_label(MAYBE_LATER, fr - 6, bottom - 8, "end"),
        _quadrant_label(AVOID, fl + 6, bottom - 8, "start"),
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-weight="600" fill="#5b6478">Untested</text>',
            _n(g.left + g.lane_width / 2),
            _n(bottom + 16),
        ),
    ]
    for tick in layout.x_ticks:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#c5cbd8"/>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(tick.position),
                _n(bottom),
                _n(tick.position),
                _n(bottom + 4),
                _n(tick.position),
                _n(bottom + 16),
                tick.label,
            )
        )
    for tick in layout.y_ticks:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#e3e6ee"/>'
                '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
                _n(g.left - 4),
                _n(tick.position),
                _n(fr),
                _n(tick.position),
                _n(g.left - 8),
                _n(tick.position),
                tick.label,
            )
        )
    axis_y = "Annual value ($, log scale)" if layout.scale.log else "Annual value ($)"
    parts.append(
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-weight="600">'
            "Feasibility: the figure each verdict rests on (0–1)</text>"
            '<text transform="translate({} {}) rotate(-90)" text-anchor="middle" font-weight="600">{}</text>',
            _n((fl + fr) / 2),
            _n(g.height - 12),
            _n(14),
            _n((top + bottom) / 2),
            axis_y,
        )
    )
    return "".join(parts)


def _quadrant_label(key: str, x: float, y: float, anchor: str) -> str:
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" font-size="13" font-weight="700" fill="#3d4659"'
        + _HALO
        + ">{}</text>",
        _n(x),
        _n(y),
        anchor,
        QUADRANTS[key][0],
    )


def _legend(layout: MatrixLayout) -> str:
    g = layout.geometry
    x = g.left
    parts = []
    for label, colour in VERDICTS.values():
        parts.append(
            format_html(
                '<circle cx="{}" cy="{}" r="5" fill="{}"/><text x="{}" y="{}" dominant-baseline="middle">{}</text>',
                _n(x + 5),
                _n(g.top - 22),
                colour,
                _n(x + 14),
                _n(g.top - 22),
                label,
            )
        )
        x += 24 + 6.5 * len(label)
    return format_html('<g class="legend">{}</g>', mark_safe("".join(parts)))


def _n(number: float) -> str:
    """Coordinates with at most one decimal, without a trailing .0, to keep big charts small."""
    text = f"{round(number, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def money_short(value: float) -> str:
    """Axis labels: $0, $500, $1.5k, $20k, $1M, -$5k."""
    sign = "-" if value < 0 else ""
    amount = abs(value)
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= divisor:
            return f"{sign}${amount / divisor:.3g}{suffix}"
    return f"{sign}${amount:.0f}"


def money_full(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"


def _proportional(room: int, sizes: dict[str, int]) -> dict[str, int]:
    """`room` split in proportion to `sizes` (largest remainders), never more than a size."""
    available = sum(sizes.values())
    room = min(room, available)
    if not available:
        return dict.fromkeys(sizes, 0)
    shares = {key: room * size / available for key, size in sizes.items()}
    quotas = {key: int(share) for key, share in shares.items()}
    for key in sorted(shares, key=lambda k: shares[k] - quotas[k], reverse=True)[
        : room - sum(quotas.values())
    ]:
        quotas[key] += 1
    return quotas
