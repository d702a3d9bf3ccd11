"""Costs shown with the precision they need: a tenth of a cent is not "$0.00"."""

from __future__ import annotations

import pytest

from accounts.templatetags.money import dollars


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "$0"),
        (0.0008, "$0.0008"),
        (0.00081234, "$0.00081"),
        (0.0123, "$0.012"),
        (0.5, "$0.50"),
        (1234.5, "$1,234.50"),
        ("not a number", ""),
    ],
)
def test_amounts_keep_their_significant_digits(amount, shown):
    assert dollars(amount) == shown
