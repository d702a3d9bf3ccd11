"""The per team / model / day summary is one aggregate query, whatever the number of calls."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from llmcore.models import InferenceCall
from tests.factories import make_model_config, make_team


def log(team, model, when, tokens_in=10, tokens_out=5, cost="0.01", outcome="ok", latency_s=0.5):
    return InferenceCall(
        team=team,
        model=model,
        model_name=model.name,
        created=when,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=Decimal(cost),
        outcome=outcome,
        latency_s=latency_s,
    )


def test_calls_are_summarised_per_day_and_model(team):
    small = make_model_config(team, name="Small")
    large = make_model_config(team, name="Large")
    other_team = make_team("Other", "other")
    InferenceCall.objects.bulk_create(
        [
            log(team, small, datetime(2026, 11, 2, 9, tzinfo=UTC)),
            log(team, small, datetime(2026, 11, 2, 17, tzinfo=UTC), outcome="error", latency_s=9),
            log(team, large, datetime(2026, 11, 2, 10, tzinfo=UTC), tokens_in=100, cost="0.20"),
            log(team, small, datetime(2026, 11, 3, 23, 59, tzinfo=UTC)),
            log(other_team, small, datetime(2026, 11, 2, 9, tzinfo=UTC)),
        ]
    )
    rows = list(InferenceCall.objects.filter(team=team).daily_summary())
    assert [(r["day"], r["model_name"], r["calls"], r["failures"]) for r in rows] == [
        (date(2026, 11, 2), "Large", 1, 0),
        (date(2026, 11, 2), "Small", 2, 1),
        (date(2026, 11, 3), "Small", 1, 0),
    ]
    small_day = rows[1]
    assert (small_day["tokens_in"], small_day["tokens_out"], small_day["cost"]) == (20, 10, Decimal("0.02"))
    assert small_day["latency_s"] == 0.5  # failed calls do not skew latency


def test_the_summary_takes_one_query_for_any_number_of_calls(team, django_assert_num_queries):
    models = [make_model_config(team, name=f"M{i}") for i in range(4)]
    InferenceCall.objects.bulk_create(
        log(team, models[i % 4], datetime(2026, 11, 1 + i % 20, i % 24, tzinfo=UTC)) for i in range(400)
    )
    with django_assert_num_queries(1):
        rows = list(InferenceCall.objects.filter(team=team).daily_summary())
    assert sum(r["calls"] for r in rows) == 400
    with django_assert_num_queries(1):
        assert sum(r["calls"] for r in InferenceCall.objects.filter(team=team).per_model()) == 400


def test_usage_of_a_deleted_model_is_kept_under_its_name(team):
    model = make_model_config(team, name="Gone")
    InferenceCall.objects.bulk_create([log(team, model, datetime(2026, 11, 2, tzinfo=UTC))])
    model.delete()
    [row] = InferenceCall.objects.filter(team=team).per_model()
    assert (row["model_id"], row["model_name"], row["calls"]) == (None, "Gone", 1)


def test_totals_are_zero_for_a_team_without_calls(team):
    assert InferenceCall.objects.filter(team=team).totals() == {
        "calls": 0,
        "tokens_in": 0,
        "tokens_out": 0,
        "cost": Decimal(0),
        "tokens": 0,
    }
