"""Longest text accepted in the portfolio's fields (forms, inline rows and imports read them from here)."""

TITLE_MAX_LENGTH = 200
STATEMENT_MAX_LENGTH = 2_000  # a task is one sentence
NOTES_MAX_LENGTH = 10_000
DESCRIPTION_MAX_LENGTH = 10_000
