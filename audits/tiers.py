"""The risk tier questionnaire, after the EU AI Act's tiers: a pure function from answers to a tier and
its rationale. The highest tier any answer reaches wins: prohibited > high > limited > minimal."""

from __future__ import annotations

from dataclasses import dataclass

PROHIBITED_QUESTION = (
    "Would the system manipulate people against their interests, exploit a vulnerability (age, disability, "
    "hardship), score people's social behaviour, or infer emotions of workers or students?"
)
# Annex III areas, as identifiers of the eu-ai-act catalogue.
HIGH_RISK_AREAS = {
    "Annex III(1)": "Biometric identification or categorisation",
    "Annex III(2)": "Safety components of critical infrastructure",
    "Annex III(3)": "Education: admission, grading, proctoring",
    "Annex III(4)": "Employment: recruiting, promotion, task allocation, monitoring of workers",
    "Annex III(5)": "Essential services: credit scoring, insurance pricing, public benefits",
    "Annex III(6)": "Law enforcement",
    "Annex III(7)": "Migration, asylum and border control",
    "Annex III(8)": "Justice and democratic processes",
}
CHATBOT_QUESTION = "Do people interact with the system directly (chat, voice, email replies sent as is)?"
SYNTHETIC_QUESTION = (
    "Does it generate text, images, audio or video that is published or shown to people as content?"
)
PROFILING_QUESTION = "Within those areas, does it only do a narrow preparatory task with a person deciding?"


@dataclass(frozen=True)
class TierResult:
    tier: str
    rationale: list[str]


def assess_tier(
    *, prohibited: bool, areas: list[str], narrow_preparatory: bool, chatbot: bool, synthetic: bool
) -> TierResult:
    unknown = [area for area in areas if area not in HIGH_RISK_AREAS]
    if unknown:
        raise ValueError(f"Unknown high-risk area {unknown[0]!r}.")
    if prohibited:
        return TierResult(
            "prohibited",
            ["A practice the AI Act does not allow (Art. 5): the use case cannot go ahead as described."],
        )
    rationale: list[str] = []
    if areas and not narrow_preparatory:
        names = "; ".join(f"{area} {HIGH_RISK_AREAS[area]}" for area in areas)
        rationale.append(f"Used in a high-risk area ({names}), so high-risk (Art. 6).")
        tier = "high"
    else:
        if areas:
            rationale.append(
                "In a high-risk area but only a narrow preparatory task with a person deciding "
                "(the Art. 6(3) exception): not high-risk on that ground; record why."
            )
        transparency = []
        if chatbot:
            transparency.append("people interact with it directly")
        if synthetic:
            transparency.append("it generates content shown to people")
        if transparency:
            rationale.append(
                f"Transparency duties apply because {' and '.join(transparency)} (Art. 50): limited risk."
            )
            tier = "limited"
        else:
            rationale.append("No prohibited practice, high-risk area or transparency duty: minimal risk.")
            tier = "minimal"
    return TierResult(tier, rationale)
