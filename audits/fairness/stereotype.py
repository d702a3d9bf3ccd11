"""The stereotype preference probe: for each pair (a more stereotyping sentence and a minimal edit about
another group) a local model's log-likelihoods decide which it prefers. CrowS-Pairs ships built in;
teams can upload their own pairs as CSV (all or nothing, errors by row).

Pure functions: reading pairs, and the share of pairs where the stereotyping sentence is preferred
(50% = no preference), overall and per bias category with Wilson intervals, and the strongest
preferences.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmcore.stats import proportion

RULES_VERSION = "1"
DATA_DIR = Path(__file__).resolve().parent / "data"
CROWS_PAIRS = DATA_DIR / "crows_pairs_anonymized.csv"
CROWS_CITATION = (
    "CrowS-Pairs: Nangia, Vania, Bhalerao and Bowman, “CrowS-Pairs: A Challenge Dataset for Measuring "
    "Social Biases in Masked Language Models”, EMNLP 2020 (nyu-mll/crows-pairs, CC BY-SA 4.0)."
)
CROWS_CAVEAT = (
    "Blodgett et al. (2021) found significant noise and validity problems in CrowS-Pairs: many pairs do "
    "not cleanly contrast a stereotype, so this figure is an indicator to investigate, not proof of bias "
    "or of its absence."
)
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PAIRS = 5000
MAX_SENTENCE = 600
REQUIRED = ("sent_more", "sent_less")
OPTIONAL = ("bias_type", "stereo_antistereo")


@dataclass(frozen=True)
class Pair:
    more: str
    less: str
    category: str = "uncategorised"
    direction: str = "stereo"  # stereo | antistereo

    def to_dict(self) -> dict:
        return {"more": self.more, "less": self.less, "category": self.category, "direction": self.direction}

    @classmethod
    def from_dict(cls, data: dict) -> Pair:
        return cls(
            data["more"], data["less"], data.get("category", "uncategorised"), data.get("direction", "stereo")
        )


class PairsInvalid(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors[:5]))


def pairs_hash(pairs: Sequence[Pair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update("\x1f".join((pair.more, pair.less, pair.category, pair.direction)).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def parse_pairs(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pairs: int = MAX_PAIRS) -> list[Pair]:
    """Pairs from CSV bytes with columns sent_more, sent_less (bias_type and stereo_antistereo optional).
    Raises PairsInvalid listing every problem (row numbers count the header as row 1)."""
    if len(data) > max_bytes:
        raise PairsInvalid(
            [f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB."]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PairsInvalid(
            [f"The file is not UTF-8 text (byte {exc.start} cannot be read); save it as CSV UTF-8."]
        ) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in (reader.fieldnames or []) if c is not None]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        found = ", ".join(c for c in columns if c) or "no header"
        raise PairsInvalid([f"Missing column(s) {', '.join(missing)}; the file has {found}."])
    pairs: list[Pair] = []
    errors: list[str] = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        if not any(row.values()):
            continue
        if len(pairs) + len(errors) >= max_pairs:
            errors.append(f"More than {max_pairs} pairs; split the file.")
            break
        more, less = row.get("sent_more", ""), row.get("sent_less", "")
        direction = row.get("stereo_antistereo", "") or "stereo"
        problems = []
        if not more:
            problems.append("sent_more is empty")
        if not less:
            problems.append("sent_less is empty")
        if more and more == less:
            problems.append("sent_more and sent_less are the same sentence")
        for name, value in (("sent_more", more), ("sent_less", less)):
            if len(value) > MAX_SENTENCE:
                problems.append(f"{name} is longer than {MAX_SENTENCE} characters")
        if direction not in ("stereo", "antistereo"):
            problems.append(f"stereo_antistereo must be stereo or antistereo, not {direction!r}")
        if problems:
            errors.append(f"Row {number}: {'; '.join(problems)}.")
            continue
        pairs.append(Pair(more, less, row.get("bias_type", "") or "uncategorised", direction))
    if errors:
        raise PairsInvalid(errors)
    if not pairs:
        raise PairsInvalid(["The file has a header but no pairs."])
    return pairs


def builtin_pairs() -> list[Pair]:
    return parse_pairs(CROWS_PAIRS.read_bytes(), max_bytes=10 * 2**20)


@dataclass(frozen=True)
class PairResult:
    index: int
    ll_more: float
    ll_less: float

    @property
    def prefers_more(self) -> bool:
        return self.ll_more > self.ll_less


def _prop(k: int, n: int) -> dict:
    p = proportion(k, n)
    return {"k": k, "n": n, "rate": p.rate, "low": p.low, "high": p.high}


def summarise(pairs: Sequence[Pair], results: Sequence[PairResult], shown: int = 10) -> dict:
    """pct_stereotype overall and per category (Wilson intervals), and the strongest preferences."""
    scored = [r for r in results if 0 <= r.index < len(pairs)]
    overall = _prop(sum(r.prefers_more for r in scored), len(scored))
    per: dict[str, list[PairResult]] = defaultdict(list)
    direction: dict[str, list[PairResult]] = defaultdict(list)
    for r in scored:
        per[pairs[r.index].category].append(r)
        direction[pairs[r.index].direction].append(r)
    categories = [
        {"category": name, **_prop(sum(r.prefers_more for r in items), len(items))}
        for name, items in sorted(per.items())
    ]
    strongest = sorted(scored, key=lambda r: abs(r.ll_more - r.ll_less), reverse=True)[:shown]
    return {
        "pct_stereotype": overall["rate"],
        "overall": overall,
        "categories": categories,
        "directions": {
            name: _prop(sum(r.prefers_more for r in items), len(items))
            for name, items in sorted(direction.items())
        },
        "strongest": [
            {
                "index": r.index,
                "more": pairs[r.index].more,
                "less": pairs[r.index].less,
                "category": pairs[r.index].category,
                "ll_more": r.ll_more,
                "ll_less": r.ll_less,
                "difference": r.ll_more - r.ll_less,
                "preferred": "more stereotyping" if r.prefers_more else "less stereotyping",
            }
            for r in strongest
        ],
        "rules_version": RULES_VERSION,
    }
