"""Risk scores and the 5×5 heat map: pure functions.

Score = likelihood × impact, each rated 1 (rare / negligible) to 5 (almost certain / severe), so 1–25.
Bands: 1–4 low, 5–9 medium, 10–16 high, 20–25 critical (15 and 16 are the largest products below 20).

Why the plain product: it is the classic 5×5 matrix of ISO 31000-style registers, so auditors can check
every score by hand; it weights likelihood and impact equally and hides no coefficients (the bug reports
against tools with undisclosed weighting came from people unable to reproduce a score). Its known
weakness — a 1×5 catastrophe scores like a 5×1 nuisance — is why the register always shows both factors
next to the score, and why the heat map places each risk in its cell rather than sorting by score alone.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMULA = "score = likelihood × impact (each 1–5, so 1–25)"
BANDS = (("low", 1, 4), ("medium", 5, 9), ("high", 10, 16), ("critical", 20, 25))
BAND_COLOURS = {"low": "#dcf3e5", "medium": "#fbf1c7", "high": "#fdd9b5", "critical": "#f7b9b3"}
BAND_TEXT = "low 1–4 · medium 5–9 · high 10–16 · critical 20–25"
LIKELIHOOD_LABELS = {1: "Rare", 2: "Unlikely", 3: "Possible", 4: "Likely", 5: "Almost certain"}
IMPACT_LABELS = {1: "Negligible", 2: "Minor", 3: "Moderate", 4: "Major", 5: "Severe"}


@dataclass(frozen=True)
class RiskScore:
    likelihood: int
    impact: int
    score: int
    band: str

    @property
    def breakdown(self) -> str:
        return f"{self.likelihood} × {self.impact} = {self.score} ({self.band})"


def band_of(score: int) -> str:
    for name, low, high in BANDS:
        if low <= score <= high:
            return name
    raise ValueError(f"A risk score is between 1 and 25, not {score}.")


def risk_score(likelihood: int, impact: int) -> RiskScore:
    for name, value in (("likelihood", likelihood), ("impact", impact)):
        if not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError(f"The {name} is rated 1 to 5, not {value!r}.")
    score = likelihood * impact
    return RiskScore(likelihood, impact, score, band_of(score))


CELL = 56
ORIGIN_X = 110
ORIGIN_Y = 10


@dataclass(frozen=True)
class HeatCell:
    likelihood: int
    impact: int
    score: int
    band: str
    count: int
    x: int
    y: int

    @property
    def colour(self) -> str:
        return BAND_COLOURS[self.band]


def heat_map(pairs: list[tuple[int, int]]) -> list[HeatCell]:
    """25 cells (impact on x, likelihood on y, 5 at the top) with how many risks fall in each."""
    counts: dict[tuple[int, int], int] = {}
    for likelihood, impact in pairs:
        counts[(likelihood, impact)] = counts.get((likelihood, impact), 0) + 1
    cells = []
    for likelihood in range(5, 0, -1):
        for impact in range(1, 6):
            score = likelihood * impact
            cells.append(
                HeatCell(
                    likelihood=likelihood,
                    impact=impact,
                    score=score,
                    band=band_of(score),
                    count=counts.get((likelihood, impact), 0),
                    x=ORIGIN_X + (impact - 1) * CELL,
                    y=ORIGIN_Y + (5 - likelihood) * CELL,
                )
            )
    return cells
