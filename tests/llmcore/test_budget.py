from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmcore import services
from llmcore.models import InferenceCall, TeamBudget
from tests.factories import make_model_config

NOV_22 = datetime(2026, 11, 22, 12, tzinfo=UTC)


def spend(team, model, tokens: int, cost: str = "0", when=NOV_22) -> None:
    InferenceCall.objects.create(
        team=team, model=model, model_name=model.name, tokens_in=tokens, cost=Decimal(cost), created=when
    )


def test_a_team_without_a_budget_is_never_refused(team):
    model = make_model_config(team)
    spend(team, model, 10**9)
    status = services.check_budget(team, now=NOV_22)
    assert status.tokens_used == 10**9 and not status.has_limit


def test_a_spent_token_budget_refuses_new_work_with_the_figures(team):
    model = make_model_config(team)
    TeamBudget.objects.create(team=team, monthly_token_limit=1_000_000)
    spend(team, model, 1_234_567)
    with pytest.raises(services.BudgetExceeded) as caught:
        services.check_budget(team, now=NOV_22)
    assert str(caught.value) == (
        "This team has used 1,234,567 of its 1,000,000 tokens for November 2026; "
        "ask an admin to raise the budget."
    )


def test_a_spent_money_budget_refuses_new_work(team):
    model = make_model_config(team)
    TeamBudget.objects.create(team=team, monthly_cost_limit=Decimal("5.00"))
    spend(team, model, 10, cost="5.25")
    with pytest.raises(services.BudgetExceeded, match=r"\$5.25 of its \$5.00 spending limit"):
        services.check_budget(team, now=NOV_22)


def test_last_months_usage_does_not_count_against_this_month(team):
    model = make_model_config(team)
    TeamBudget.objects.create(team=team, monthly_token_limit=1000)
    spend(team, model, 5000, when=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    spend(team, model, 400, when=datetime(2026, 11, 1, 0, 0, tzinfo=UTC))
    assert services.check_budget(team, now=NOV_22).tokens_remaining == 600
