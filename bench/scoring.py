"""Throughput of every automatic scorer on generated outputs (default 1,000 cases), no database.

    .venv/bin/python bench/scoring.py [--cases 1000]

Every output and reference is distinct (real experiments repeat references across runs and
repeats, which the embedder de-duplicates, so they run faster). The embedding scorers are timed through `score_many` (one batched model call per batch), as the
experiment runner should call them, and their one-off model load is reported apart. Prints one line
per scorer and, as its last line, JSON with cases/s per scorer and the load time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmcore.scoring import GenerationMeta, ScoringCase, build_scorer, embeddings  # noqa: E402

TOPICS = ["billing", "technical", "account access", "shipping"]
PHRASES = [
    "The customer was charged twice for the same order",
    "The app crashes on login after the latest update",
    "The customer cannot reset their password",
    "The parcel has not arrived after two weeks",
    "They would like a refund for the second charge",
    "Support restarted the service and the issue went away",
]

SCORERS = [
    ("exact_match", {}),
    ("normalised_match", {}),
    ("contains", {"strings": ["customer", "refund"]}),
    ("regex", {"pattern": r"\b(refund|charge)\w*\b", "ignore_case": True}),
    ("json_valid", {}),
    (
        "json_schema",
        {"schema": {"type": "object", "required": ["topic"], "properties": {"topic": {"enum": TOPICS}}}},
    ),
    ("label_match", {"labels": TOPICS, "synonyms": {"billing": ["refund", "invoice"]}}),
    ("length_limit", {"unit": "words", "max": 60}),
    ("rouge_l", {}),
    ("bleu", {}),
    ("chrf", {}),
    ("semantic_similarity", {}),
    ("bertscore", {}),
]


def make_items(n: int) -> list[tuple[str, ScoringCase, GenerationMeta]]:
    rng = random.Random(4)
    items = []
    for i in range(n):
        # A ticket number makes every text distinct, so the embedder's de-duplication does not flatter it.
        reference = f"Ticket {i}: " + ". ".join(rng.sample(PHRASES, 2)) + "."
        output = f"Ticket {i}: " + ". ".join(rng.sample(PHRASES, 2)) + "."
        topic = rng.choice(TOPICS)
        if rng.random() < 0.5:
            output = json.dumps({"topic": topic, "summary": output})
        items.append(
            (
                output,
                ScoringCase(expected_output=reference, expected_label=topic),
                GenerationMeta(latency_s=0.5),
            )
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    items = make_items(args.cases)

    started = time.perf_counter()
    embeddings.get_embedder()
    load_s = time.perf_counter() - started
    print(f"embedding model load: {load_s:.2f} s")

    figures: dict[str, float] = {}
    for name, params in SCORERS:
        scorer = build_scorer(name, params)
        started = time.perf_counter()
        results = scorer.score_many(items)
        elapsed = time.perf_counter() - started
        passed = sum(1 for r in results if r.passed)
        figures[name] = round(len(items) / elapsed, 1)
        print(f"{name:22s} {figures[name]:>10,.0f} cases/s   ({passed} of {len(items)} passed)")
    print(json.dumps({"cases": len(items), "embedder_load_s": round(load_s, 2), "cases_per_s": figures}))


if __name__ == "__main__":
    main()
