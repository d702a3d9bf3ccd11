"""The tamper-evident trail: every governance-relevant event appends one TrailEntry whose hash chains it
to the previous one.

hash = HMAC-SHA256(key, prev_hash + "\n" + canonical JSON of the entry's fields), where the key is
settings.AUDIT_TRAIL_KEY (environment variable ASSAY_AUDIT_TRAIL_KEY; by default derived from SECRET_KEY),
never stored in the database: someone who can write to the database can change or delete entries but
cannot compute the hashes that would hide it. `verify()` walks the chain in order and names the first
entry whose hash, predecessor link or sequence number does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import TrailEntry, TrailHead

GENESIS = "0" * 64


def _key() -> bytes:
    return settings.AUDIT_TRAIL_KEY.encode()


def _payload(entry: TrailEntry) -> str:
    return json.dumps(
        {
            "seq": entry.seq,
            "team": entry.team_id,
            "at": entry.at.isoformat(),
            "actor": entry.actor_id,
            "actor_name": entry.actor_name,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_code": entry.object_code,
            "object_label": entry.object_label,
            "use_case": entry.use_case_code,
            "change": entry.change,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def entry_hash(entry: TrailEntry, prev_hash: str) -> str:
    message = f"{prev_hash}\n{_payload(entry)}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def record(
    action: str,
    *,
    team,
    user=None,
    obj=None,
    object_type: str = "",
    object_code: str = "",
    object_label: str = "",
    use_case=None,
    change: dict | None = None,
) -> TrailEntry:
    """Appends one entry (inside the caller's transaction: it only exists if the action commits)."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_code = object_code or str(getattr(obj, "code", "") or obj.pk)
        object_label = object_label or str(obj)
    actor = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        head, _ = TrailHead.objects.select_for_update().get_or_create(pk=1)
        entry = TrailEntry(
            seq=head.seq + 1,
            team_id=getattr(team, "pk", team),
            at=timezone.now(),
            actor_id=actor.pk if actor else None,
            actor_name=actor.get_username() if actor else "system",
            action=action,
            object_type=object_type,
            object_code=object_code,
            object_label=object_label[:300],
            use_case_code=str(use_case.code) if use_case is not None else "",
            change=_jsonable(change or {}),
            prev_hash=head.hash,
        )
        # Stored as the database returns it (microseconds kept on every backend we use).
        entry.hash = entry_hash(entry, head.hash)
        entry.save()
        TrailHead.objects.filter(pk=1).update(seq=entry.seq, hash=entry.hash)
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    broken_seq: int | None = None
    problem: str = ""


def verify(batch: int = 2000) -> Verification:
    """Checks every entry in sequence order: its seq follows the previous one, its prev_hash is the
    previous entry's hash, and its hash is what the key gives for its content. Also that the head row
    points at the last entry, so deleting the newest entries is caught too."""
    previous_hash, expected_seq, count = GENESIS, 1, 0
    while True:
        entries = list(TrailEntry.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch])
        if not entries:
            break
        for entry in entries:
            if entry.seq != expected_seq:
                return Verification(
                    False,
                    count,
                    expected_seq,
                    f"entry #{expected_seq} is missing (the next stored entry is #{entry.seq})",
                )
            if entry.prev_hash != previous_hash:
                return Verification(
                    False, count, entry.seq, f"entry #{entry.seq} does not link to entry #{entry.seq - 1}"
                )
            if not hmac.compare_digest(entry.hash, entry_hash(entry, previous_hash)):
                return Verification(
                    False,
                    count,
                    entry.seq,
                    f"entry #{entry.seq} ({entry.action} {entry.object_type} {entry.object_code}) "
                    "was changed after it was recorded",
                )
            previous_hash, expected_seq, count = entry.hash, entry.seq + 1, count + 1
    head = TrailHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != count or head.hash != previous_hash):
        if head.seq > count:
            return Verification(
                False,
                count,
                count + 1,
                f"entries #{count + 1} to #{head.seq} are missing (the chain ends at #{count})",
            )
        return Verification(False, count, head.seq, "the chain's head does not match its last entry")
    return Verification(True, count)
