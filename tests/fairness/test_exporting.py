from __future__ import annotations

import csv
import io

from audits.fairness.exporting import to_csv


def test_group_names_that_would_run_in_a_spreadsheet_are_quoted_after_control_characters_go():
    document = {
        "figures": {
            "per_label": [
                {
                    "label": "\x01=HYPERLINK(\"http://x\")",
                    "groups": [
                        {"group": "\t-1", "count": 3, "selection_rate": 0.5, "selection_rate_ci": None,
                         "true_positive_rate": 1, "false_positive_rate": 0, "false_negative_rate": 0},
                    ],
                }
            ]
        }
    }  # fmt: skip
    header, row = list(csv.reader(io.StringIO(to_csv("assessment", document))))
    assert row[:2] == ['\'=HYPERLINK("http://x")', "'\t-1"]
