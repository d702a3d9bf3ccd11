"""The matrix layout is pure: these tests build plain MatrixItems, no database."""

from __future__ import annotations

import re

from opportunities.matrix import (
    AVOID,
    BIG_BETS,
    MAYBE_LATER,
    QUICK_WINS,
    UNTESTED,
    VERDICTS,
    Geometry,
    MatrixItem,
    layout_matrix,
    money_short,
    quadrant_for,
    quadrant_summary,
    render_svg,
    value_scale,
)
from opportunities.models import Verdict


def item(
    code="a",
    value=1000.0,
    feasibility=0.8,
    verdict="automation-ready",
    statement="Draft replies",
    job="Agent",
):
    return MatrixItem(
        code=code,
        statement=statement,
        job=job,
        value=value,
        verdict=verdict,
        feasibility=feasibility,
        url=f"/t/acme/tasks/{code}/",
    )


def test_verdict_colours_cover_every_verdict():
    assert set(VERDICTS) == set(Verdict.values)


def test_each_quadrant_is_named_by_value_and_feasibility():
    assert quadrant_for(0.9, 500, value_threshold=100) == QUICK_WINS
    assert quadrant_for(0.2, 500, value_threshold=100) == BIG_BETS
    assert quadrant_for(0.9, 50, value_threshold=100) == MAYBE_LATER
    assert quadrant_for(0.2, 50, value_threshold=100) == AVOID


def test_a_task_on_both_thresholds_counts_as_a_quick_win():
    assert quadrant_for(0.5, 100, value_threshold=100) == QUICK_WINS


def test_untested_tasks_are_in_no_quadrant_even_with_a_score():
    assert quadrant_for(None, 500, value_threshold=100) == UNTESTED
    assert quadrant_for(0.9, 500, value_threshold=100, verdict="untested") == UNTESTED


def test_the_value_threshold_defaults_to_the_median():
    layout = layout_matrix([item("a", 100), item("b", 200), item("c", 900)])
    assert layout.value_threshold == 200
    assert layout.threshold_is_median
    assert [p.quadrant for p in layout.points] == [MAYBE_LATER, QUICK_WINS, QUICK_WINS]


def test_a_chosen_threshold_replaces_the_median():
    layout = layout_matrix([item("a", 100), item("b", 200), item("c", 900)], value_threshold=500)
    assert not layout.threshold_is_median
    assert [p.quadrant for p in layout.points] == [MAYBE_LATER, MAYBE_LATER, QUICK_WINS]


def test_values_spanning_orders_of_magnitude_use_a_log_scale():
    scale = value_scale([50, 2_000, 3_000_000])
    assert scale.log
    assert (scale.low, scale.high) == (10, 10_000_000)
    # Each decade takes the same height.
    assert scale.fraction(100) - scale.fraction(10) == scale.fraction(1000) - scale.fraction(100)


def test_close_values_use_a_linear_scale_from_zero():
    scale = value_scale([1_000, 4_000, 9_000])
    assert not scale.log
    assert scale.low == 0
    assert scale.high >= 9_000
    assert scale.fraction(scale.high / 2) == 0.5


def test_zero_and_negative_values_sit_on_the_floor_of_a_log_scale():
    scale = value_scale([-500, 0, 10, 100_000])
    assert scale.log
    assert scale.fraction(-500) == scale.fraction(0) == 0


def test_log_ticks_are_labelled_in_dollars():
    layout = layout_matrix([item("a", 10), item("b", 1_000_000)])
    labels = [t.label for t in layout.y_ticks]
    assert "$10" in labels and "$1k" in labels and "$1M" in labels


def test_higher_value_sits_higher_and_more_feasible_sits_further_right():
    low, high = layout_matrix([item("a", 100, 0.2), item("b", 10_000, 0.9)]).points
    assert high.y < low.y
    assert high.x > low.x


def test_untested_tasks_sit_in_the_left_lane_spread_deterministically():
    geometry = Geometry()
    items = [item(f"code-{i}", 1000, None, "untested") for i in range(50)]
    first = layout_matrix(items, geometry=geometry)
    again = layout_matrix(items, geometry=geometry)
    xs = [p.x for p in first.points]
    assert xs == [p.x for p in again.points]
    assert all(geometry.left <= x <= geometry.left + geometry.lane_width for x in xs)
    assert len(set(xs)) > 40  # same value, yet they do not pile up on one spot
    assert max(xs) < geometry.feasibility_left


def test_coordinates_are_rounded_to_one_decimal():
    layout = layout_matrix([item(f"c{i}", 1234.567 * i, i / 7) for i in range(1, 8)])
    for point in layout.points:
        assert round(point.x, 1) == point.x and round(point.y, 1) == point.y
    svg = render_svg(layout)
    assert not re.search(r'c[xy]="\d+\.\d\d', svg)


def test_summary_counts_each_quadrant_and_lists_the_top_items_by_value():
    items = [item(f"q{i}", 1000 + i, 0.9) for i in range(8)] + [
        item("u", 5, None, "untested"),
        item("avoid", 1, 0.1, "not-yet"),
    ]
    summary = {q.key: q for q in quadrant_summary(layout_matrix(items, value_threshold=500), top=3)}
    assert summary[QUICK_WINS].count == 8
    assert [p.item.code for p in summary[QUICK_WINS].top] == ["q7", "q6", "q5"]
    assert summary[UNTESTED].count == 1
    assert summary[AVOID].count == 1
    assert summary[BIG_BETS].count == 0 and summary[BIG_BETS].top == []


def test_the_svg_has_quadrant_labels_a_legend_and_the_untested_lane():
    svg = render_svg(layout_matrix([item("a"), item("b", feasibility=None, verdict="untested")]))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for text in ("Quick wins", "Big bets", "Maybe later", "Avoid", "Untested", "Automation-ready", "Not yet"):
        assert text in svg


def test_each_point_links_to_its_task_with_a_hover_title():
    svg = render_svg(layout_matrix([item("abc", 12_345, 0.75, statement="Summarise tickets", job="Support")]))
    assert '<a href="/t/acme/tasks/abc/">' in svg
    assert (
        "<title>Summarise tickets\nSupport · $12,345/year · Automation-ready · feasibility 0.75</title>"
        in svg
    )


def test_user_text_in_titles_is_escaped():
    evil = item("x", statement='<script>alert("x")</script> & more', job="<b>Ops</b>")
    svg = render_svg(layout_matrix([evil]))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in svg
    assert "&lt;b&gt;Ops&lt;/b&gt;" in svg


def test_long_statements_are_cut_in_the_hover_title():
    svg = render_svg(layout_matrix([item("x", statement="word " * 200)]))
    title = re.search(r"<title>(.*?)</title>", svg, re.S).group(1)
    assert len(title) < 260 and "…" in title


def test_an_empty_matrix_still_draws_its_frame():
    layout = layout_matrix([])
    assert layout.points == []
    assert "Quick wins" in render_svg(layout)


def test_money_labels_are_short():
    assert [money_short(v) for v in (0, 500, 1500, 20_000, 1_000_000, -5000)] == [
        "$0",
        "$500",
        "$1.5k",
        "$20k",
        "$1M",
        "-$5k",
    ]
