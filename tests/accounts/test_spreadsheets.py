from __future__ import annotations

import pytest

from accounts.spreadsheets import escape_formula, unescape_formula


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('\x01=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("\x00\x1f+1", "'+1"),
        ("\x7f@SUM(A1)", "'@SUM(A1)"),
        ("  =1+1", "'  =1+1"),
        ("\tindent", "'\tindent"),
        ("bell\x07 ringing", "bell ringing"),
        ("a=b", "a=b"),
    ],
)
def test_control_characters_go_before_the_quote_is_decided(text, expected):
    assert escape_formula(text) == expected
    assert unescape_formula(expected) == expected[1:] if expected.startswith("'") else expected
