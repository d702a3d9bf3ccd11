"""Reading a model's list of tasks: pure functions over text, no ORM.

Small models rarely follow a format, so the parser takes what it can: a line is `kind | hours | task`
when the model kept to the format, and otherwise a plain task (numbered, bulleted, with trailing hours
like "(5 hours)" or "- 3 h/week"). A missing kind is guessed from the task's first verb, missing hours
are left to the caller; hours are clamped to 0..80. Lines that are not tasks (headers, the job's title
repeated, lists of numbers), duplicates and tasks the job already has are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ..limits import STATEMENT_MAX_LENGTH

KINDS = ("write", "read", "chat", "other")
MAX_HOURS = Decimal(80)
MAX_PROPOSALS = 40
MAX_STATEMENT = min(STATEMENT_MAX_LENGTH, 300)  # a task is one sentence; longer is the model rambling

# First words that say what kind of task it is (write: produces text; read: takes text in; chat: talks
# with people). A guess only: the person accepting the proposal can change it.
_VERBS = {
    "write": {"write", "draft", "prepare", "compose", "create", "document", "summarise", "summarize",
              "translate", "edit", "proofread", "produce", "email", "record", "report", "update", "fill", "file",
              "writing", "drafting", "preparing", "creating", "updating", "filing"},
    "read": {"read", "review", "check", "analyse", "analyze", "research", "monitor", "verify", "audit",
             "examine", "inspect", "compare", "reconcile", "track", "study", "evaluate", "assess",
             "look", "search", "find", "screen", "screening", "reviewing", "reading", "checking", "analysing", "analyzing",
             "researching", "monitoring", "tracking"},
    "chat": {"answer", "respond", "reply", "talk", "call", "meet", "discuss", "advise", "assist",
             "help", "support", "present", "negotiate", "interview", "train", "coach", "greet",
             "handle", "speak", "contact", "consult", "phone", "answering", "responding",
             "assisting", "helping", "presenting", "advising", "speaking", "talking", "meeting"},
}  # fmt: skip
_KIND_WORDS = {"writing": "write", "reading": "read", "talking": "chat", "others": "other"}

_LIST_MARK = re.compile(r"^\s*(?:[-*•·▪‣–—>]+|\(?\d{1,3}[.)\]:]|\(?[a-zA-Z][.)]|#+)\s+")
_INLINE_NUMBER = re.compile(r"(?:^|[;,]?\s+)\d{1,3}[.)]\s+")
_HOURS_TEXT = re.compile(
    r"[\(\[,;–—-]?\s*(?:about\s+|~\s*|approx\.?\s+)?(\d{1,3}(?:[.,]\d+)?)(?:\s*[-–]\s*(\d{1,3}(?:[.,]\d+)?))?"
    r"\s*(?:hours?|hrs?|h)\b(?:\s*(?:/|per|a|each)\s*(?:week|wk|w))?\s*[\)\]]?\s*\.?\s*$",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"^\s*(?:~|about|approx\.?|around|ca\.?)?\s*(\d{1,4}(?:[.,]\d+)?)(?:\s*[-–]\s*(\d{1,4}(?:[.,]\d+)?))?"
    r"\s*(?:h|hrs?|hours?)?(?:\s*(?:/|per)\s*(?:week|wk|w))?\s*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
# Words a task (a verb phrase) does not start with: the model talking, not listing.
_NOT_A_VERB = {"i", "we", "you", "they", "he", "she", "it", "this", "that", "these", "those", "there",
               "another", "a", "an", "here", "sure", "hope", "note", "as", "in", "to", "if", "when",
               "overall", "also"}  # fmt: skip
_GENERIC = re.compile(r"^(?:task|step|item)\s*\d*$", re.IGNORECASE)
MAX_WORDS = 30  # longer is a paragraph, not a task
_LEADING_NUMBERS = re.compile(r"^(?:\d+(?:\.\d+)*[.:)]\s+)+")


@dataclass(frozen=True)
class Proposal:
    statement: str
    kind: str
    hours_per_week: Decimal | None  # None: the model gave no hours
    kind_guessed: bool  # the kind comes from the first verb, not from the model


def normalise(statement: str) -> str:
    """The words of a statement, lower case, for telling duplicates apart."""
    return " ".join(_WORD.findall(statement.lower()))


def guess_kind(statement: str) -> str:
    words = _WORD.findall(statement.lower())
    first = words[0] if words else ""
    return next((kind for kind, verbs in _VERBS.items() if first in verbs), "other")


def parse(text: str, *, job_title: str = "", existing: list[str] | tuple[str, ...] = ()) -> list[Proposal]:
    """The tasks in a model's answer, in order, at most MAX_PROPOSALS."""
    lines = _lines(text)
    listed = [line for line in lines if _LIST_MARK.match(line) or line.count("|") >= 2]
    if len(listed) >= 2:
        lines = listed  # a list with prose around it: the prose is not tasks
    seen = {normalise(s) for s in existing}
    if job_title:
        seen.add(normalise(job_title))
    seen.discard("")
    out: list[Proposal] = []
    for line in lines:
        proposal = parse_line(line)
        if proposal is None:
            continue
        key = normalise(proposal.statement)
        if key in seen or (job_title and _only_title(key, normalise(job_title))):
            continue
        seen.add(key)
        out.append(proposal)
        if len(out) >= MAX_PROPOSALS:
            break
    return out


def parse_line(line: str) -> Proposal | None:
    line = _LIST_MARK.sub("", line.strip(), count=1).strip()
    line = line.strip("*_`\"' ").strip()
    if not line or line.endswith(":"):
        return None  # a header ("Daily tasks:"), not a task
    kind, hours, statement = None, None, line
    if "|" in line:
        kind, hours, statement = _fields(line.split("|"))
    if hours is None:
        match = _HOURS_TEXT.search(statement)
        if match and match.start() > 0:
            hours = _hours(match.group(1), match.group(2))
            statement = statement[: match.start()]
    statement = _clean_statement(statement)
    if not _looks_like_task(statement):
        return None
    guessed = kind is None
    return Proposal(
        statement=statement,
        kind=kind or guess_kind(statement),
        hours_per_week=hours,
        kind_guessed=guessed,
    )


def _lines(text: str) -> list[str]:
    out = []
    for raw in (text or "").replace("\r", "\n").split("\n"):
        raw = raw.strip()
        if not raw:
            continue
        # "1. Do this; 2. Do that; 3. ..." on one line: one task each.
        parts = [p for p in _INLINE_NUMBER.split(raw) if p.strip()]
        if len(parts) >= 3 and len(_INLINE_NUMBER.findall(raw)) >= 3:
            out.extend(p.strip(" ;,") for p in parts)
        else:
            out.append(raw)
    return out


def _fields(parts: list[str]) -> tuple[str | None, Decimal | None, str]:
    """`kind | hours | task`, in any order: the kind is the part naming one, the hours the numeric part,
    the task the longest of the rest."""
    kind, hours, rest = None, None, []
    for part in (p.strip(" *_`\"'") for p in parts):
        word = part.lower().rstrip(".:")
        word = _KIND_WORDS.get(word, word)
        if kind is None and word in KINDS:
            kind = word
        elif hours is None and (match := _NUMBER.match(part)):
            hours = _hours(match.group(1), match.group(2))
        elif part:
            rest.append(part)
    return kind, hours, max(rest, key=len) if rest else ""


def _hours(low: str, high: str | None) -> Decimal:
    value = Decimal(low.replace(",", "."))
    if high:  # "3-5 hours": the middle
        value = (value + Decimal(high.replace(",", "."))) / 2
    return min(max(value, Decimal(0)), MAX_HOURS).quantize(Decimal("0.01"))


def _clean_statement(statement: str) -> str:
    statement = re.sub(r"\*\*|__|`", "", statement)
    statement = re.sub(r"\s*\([^()]*:[^()]*\)\s*$", "", statement)  # "(Verb: pick)": the model annotating
    statement = re.sub(r"\s+", " ", statement).strip(" .;,:-–—*_`\"'")
    statement = _LEADING_NUMBERS.sub("", statement)  # "1.1.2: Answer ..." (numbering the model nested)
    # "Prepare financial statements: This includes ..." / "File taxes - accountants file ...": the task is
    # the head; the tail is the model explaining it.
    head = re.split(r"\s*(?::\s+|\s[-–—]\s)", statement, maxsplit=1)
    if len(head) == 2 and 2 <= len(head[0].split()) <= 12:
        statement = head[0]
    statement = statement.strip(" .;,:-–—")
    if statement[:1].islower():
        statement = statement[0].upper() + statement[1:]
    if len(statement) > MAX_STATEMENT:
        statement = statement[: MAX_STATEMENT - 1].rsplit(" ", 1)[0] + "…"
    return statement


def _looks_like_task(statement: str) -> bool:
    words = statement.split()
    if len(words) < 2:
        return False
    letters = sum(c.isalpha() for c in statement)
    if letters < 0.6 * len(statement.replace(" ", "")):
        return False  # "1.1.1.2 2019-04-30", "1. 2. 3."
    first = _WORD.findall(words[0].lower())
    if not first or first[0] in _NOT_A_VERB or _GENERIC.match(statement):
        return False  # prose about the job ("They also ...", "A coordinator must ..."), or "Task 1"
    if len(words) > MAX_WORDS or statement.endswith("?"):
        return False
    return not re.search(r"\b(?:i|i'm|i'll|i've|my|you|your)\b", statement.lower())


def _only_title(key: str, title: str) -> bool:
    """The job's title with nothing of a task around it ("Warehouse worker 3 Warehouse worker")."""
    return bool(title) and all(word in title.split() or word.isdigit() for word in key.split())
