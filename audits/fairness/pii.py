"""Personal data in texts: e-mail addresses, phone numbers (`phonenumbers`), payment card numbers (Luhn),
IBANs and national identifiers with a checksum (`python-stdnum`), and redaction with typed placeholders.

Pure functions; numbers count only when their checksum holds, so order numbers and dates are not PII.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = {
    "email": "E-mail address",
    "phone": "Phone number",
    "card": "Payment card number",
    "iban": "IBAN",
    "national_id": "National identifier",
}
PLACEHOLDERS = {kind: f"[{kind.upper()}]" for kind in KINDS}

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# National ids with a checksum: (name, pattern, stdnum module)
NATIONAL = [
    ("Spanish DNI/NIE", re.compile(r"\b(?:\d{8}|[XYZ]\d{7})-?[A-Z]\b"), "stdnum.es.nif"),
    (
        "Italian codice fiscale",
        re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b"),
        "stdnum.it.codicefiscale",
    ),
    (
        "French NIR",
        re.compile(r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b"),
        "stdnum.fr.nir",
    ),
    ("German tax id", re.compile(r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b"), "stdnum.de.idnr"),
    ("US social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "stdnum.us.ssn"),
    ("Dutch BSN", re.compile(r"(?i)\bBSN[:\s]*\d{9}\b"), "stdnum.nl.bsn"),
]
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str
    detail: str = ""


def _module(name: str):
    import importlib

    return importlib.import_module(name)


def find_pii(text: str) -> list[Finding]:
    """Non-overlapping findings, in order of position (the longest wins where two overlap)."""
    if not text:
        return []
    from stdnum import iban as stdnum_iban
    from stdnum import luhn

    found: list[Finding] = []
    for match in EMAIL.finditer(text):
        found.append(Finding("email", match.start(), match.end(), match.group(0)))
    for match in IBAN.finditer(text):
        if stdnum_iban.is_valid(match.group(0)):
            found.append(Finding("iban", match.start(), match.end(), match.group(0)))
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits) and digits[0] in "23456":
            found.append(Finding("card", match.start(), match.end(), match.group(0)))
    for name, pattern, module in NATIONAL:
        validator = _module(module)
        for match in pattern.finditer(text):
            value = re.sub(r"(?i)^BSN[:\s]*", "", match.group(0))
            if validator.is_valid(value):
                found.append(Finding("national_id", match.start(), match.end(), match.group(0), name))
    found += _phones(text)
    return _non_overlapping(found)


def _phones(text: str) -> list[Finding]:
    import phonenumbers

    seen: dict[tuple[int, int], Finding] = {}
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            key = (match.start, match.end)
            if key not in seen:
                seen[key] = Finding("phone", match.start, match.end, match.raw_string)
    return list(seen.values())


def _non_overlapping(found: list[Finding]) -> list[Finding]:
    # Longer spans first, then checksum-backed kinds before phone numbers (a card is not a phone).
    priority = {"email": 0, "iban": 1, "card": 2, "national_id": 3, "phone": 4}
    chosen: list[Finding] = []
    for finding in sorted(found, key=lambda f: (-(f.end - f.start), priority[f.kind], f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def redact(text: str, findings: list[Finding] | None = None) -> str:
    findings = find_pii(text) if findings is None else findings
    parts, at = [], 0
    for finding in findings:
        parts += [text[at : finding.start], PLACEHOLDERS[finding.kind]]
        at = finding.end
    parts.append(text[at:])
    return "".join(parts)


def count_kinds(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(Counter(f.kind for f in findings))


def scan_values(values: Iterable) -> list[Finding]:
    """Findings in every text of a case (inputs, expected output...), nested lists and dicts included."""
    found: list[Finding] = []
    for value in values:
        if isinstance(value, str):
            found += find_pii(value)
        elif isinstance(value, dict):
            found += scan_values(value.values())
        elif isinstance(value, list | tuple):
            found += scan_values(value)
    return found
