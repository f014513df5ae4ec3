"""The audit chain's hashes, and its verification across rotations of the server pepper.

Each row's ``hash`` is an HMAC-SHA256, keyed with the pepper in force when it was written, over a canonical
serialisation of its content and ``prev_hash`` (speakup/ops/audit.py writes them). The pepper changes only at a
``pepper_rotated`` row, written by `speakup rotate-pepper` and hashed under the NEW pepper, naming the old and the
new pepper by their ids (speakup/crypto/sealing.py, ``pepper_id``). So the chain verifies when, walked in id order:

- every row's hash holds under one configured pepper (SPEAKUP_TOKEN_PEPPER, or one of its fallbacks);
- every row links to the row before it (``prev_hash``);
- a row is under the same pepper as the row before it, except a ``pepper_rotated`` row, which is under a NEWER pepper
  than the row before it, and names that row's pepper as the old and its own as the new;
- the newest row is under the current pepper.

Someone holding an old pepper and able to write to the database cannot add or change anything that verifies: a row
added at the end under the old pepper goes back to an older pepper; a row changed or added before the rotation breaks
the link into the ``pepper_rotated`` row, whose hash they cannot recompute; the rotation row and everything after it
is under the new pepper. Deleting the rotation row and everything after it leaves a chain whose newest row is under
the old pepper: that fails too (and a production service refuses to start on it, speakup/settings.py).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from speakup.crypto import sealing
from speakup.platform.config import settings
from speakup.platform.models import AuditEvent, db

GENESIS_HASH = "0" * 64
HASH_PURPOSE = "audit"
CANONICAL_VERSION = 1
PEPPER_ROTATED = "pepper_rotated"  # audit.Action.PEPPER_ROTATED

EDITED = "edited"
DELETED_OR_REORDERED = "deleted or reordered"
OLDER_PEPPER = "hashed under another pepper than the row before it"
STALE_PEPPER = "the newest event is not hashed under the current pepper (SPEAKUP_TOKEN_PEPPER)"


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    reason: str  # EDITED, DELETED_OR_REORDERED, OLDER_PEPPER or STALE_PEPPER


@dataclass(frozen=True)
class ChainCheck:
    events: int  # how many rows were checked (up to and including a broken one)
    broken: BrokenLink | None
    last_id: int | None = None  # the last row that checked out, and its hash
    last_hash: str | None = None


def canonical(
    prev_hash: str,
    created_at: datetime,
    action: str,
    actor_type: str,
    actor_id: int | None,
    case_id: int | None,
    detail_text: str,
) -> str:
    return json.dumps(
        {
            "v": CANONICAL_VERSION,
            "prev_hash": prev_hash,
            "created_at": created_at.isoformat(timespec="microseconds"),
            "action": action,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "case_id": case_id,
            "detail": detail_text,  # the stored text itself, so any change to it shows
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def row_hash(*content: Any, pepper: bytes | None = None) -> str:
    """A row's hash under ``pepper`` (the current one by default): what a new row is written with."""
    key = pepper if pepper is not None else settings().token_pepper
    return sealing.keyed_hash(key, canonical(*content), HASH_PURPOSE)


def _content(row: Any) -> tuple[Any, ...]:
    return (row.prev_hash, row.created_at, row.action, row.actor_type, row.actor_id, row.case_id, row.detail)


def _level(row: Any, peppers: Sequence[bytes], first: int = 0) -> int | None:
    """The index in ``peppers`` (0: the current) of the pepper the row's hash holds under, or None; ``first`` is
    tried first (the previous row's, which almost every row shares)."""
    text = canonical(*_content(row))
    for index in (first, *(i for i in range(len(peppers)) if i != first)):
        if index < len(peppers):
            expected = sealing.keyed_hash(peppers[index], text, HASH_PURPOSE)
            if hmac.compare_digest(expected, row.hash):
                return index
    return None


def _switches(row: Any, level: int, previous_level: int, ids: Sequence[str]) -> bool:
    """Whether a row may be under another pepper than the row before it: a ``pepper_rotated`` row, under a newer
    pepper than that row, naming that row's pepper as the old one and its own as the new."""
    if row.action != PEPPER_ROTATED or level >= previous_level:
        return False
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:
        return False
    return detail.get("old_pepper") == ids[previous_level] and detail.get("new_pepper") == ids[level]


def check_chain(batch_size: int = 1000) -> ChainCheck:
    """Walk every row in id order, streamed in batches, and stop at the first broken link."""
    peppers = settings().token_peppers
    ids = [sealing.pepper_id(pepper) for pepper in peppers]
    previous_hash, previous_level = GENESIS_HASH, 0
    count = 0
    last_id: int | None = None
    for row in _rows(batch_size):
        count += 1
        level = _level(row, peppers, previous_level)
        if level is None:
            return ChainCheck(count, BrokenLink(row.id, EDITED), last_id, previous_hash)
        if not hmac.compare_digest(row.prev_hash, previous_hash):
            return ChainCheck(count, BrokenLink(row.id, DELETED_OR_REORDERED), last_id, previous_hash)
        if last_id is not None and level != previous_level and not _switches(row, level, previous_level, ids):
            return ChainCheck(count, BrokenLink(row.id, OLDER_PEPPER), last_id, previous_hash)
        previous_hash, previous_level, last_id = row.hash, level, row.id
    if last_id is not None and previous_level != 0:
        return ChainCheck(count, BrokenLink(last_id, STALE_PEPPER), None, None)
    return ChainCheck(count, None, last_id, previous_hash if last_id is not None else None)


def newest() -> Any:
    """The chain's newest row (its columns), or None."""
    return db.session.execute(select(*_COLUMNS).order_by(AuditEvent.id.desc()).limit(1)).first()


def under_current_pepper(row: Any) -> bool:
    return _level(row, settings().token_peppers[:1]) == 0


def newest_is_current() -> bool:
    """Whether the chain's newest row is hashed under the current pepper (an empty chain is): what a production
    start checks, so an environment file still holding the pepper `speakup rotate-pepper` replaced is refused."""
    row = newest()
    return row is None or under_current_pepper(row)


def missing_peppers() -> list[str]:
    """The ids of the peppers the chain's rotations replaced that are not configured: without them the rows before
    those rotations cannot be verified, nor anything made under them found (access codes, tokens, links)."""
    configured = {sealing.pepper_id(pepper) for pepper in settings().token_peppers}
    missing = []
    for detail in db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == PEPPER_ROTATED)):
        try:
            old = json.loads(detail or "{}").get("old_pepper")
        except (ValueError, AttributeError):
            continue
        if isinstance(old, str) and old not in configured and old not in missing:
            missing.append(old)
    return missing


def is_genuine(event: AuditEvent) -> bool:
    """Whether a row was written by the service: its own hash holds under the current pepper, or under a fallback and
    the chain links it, row by row (each hashed under a configured pepper), to a newer ``pepper_rotated`` row under
    the current pepper, whose hash nobody without the current pepper can recompute. A row made with a leaked old
    pepper after its rotation, or an old row changed with it, is not genuine. Its place is check_chain's to judge."""
    peppers = settings().token_peppers
    level = _level(event, peppers)
    if level is None:
        return False
    if level == 0:
        return True
    rotation = db.session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.action == PEPPER_ROTATED, AuditEvent.id > event.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if rotation is None:
        return False
    statement = select(*_COLUMNS).where(AuditEvent.id >= event.id, AuditEvent.id <= rotation).order_by(AuditEvent.id)
    previous: Any = None
    for row in db.session.execute(statement):
        row_level = _level(row, peppers, level)
        if row_level is None or (previous is None and row.hash != event.hash):
            return False
        if previous is not None and not hmac.compare_digest(row.prev_hash, previous.hash):
            return False
        previous, level = row, row_level
    return previous is not None and previous.id == rotation and level == 0


_COLUMNS = (
    AuditEvent.id,
    AuditEvent.created_at,
    AuditEvent.action,
    AuditEvent.actor_type,
    AuditEvent.actor_id,
    AuditEvent.case_id,
    AuditEvent.detail,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


def _rows(batch_size: int) -> Iterator:
    # Plain columns rather than entities: nothing collects in the identity map, and a row already loaded in this
    # session cannot stand in for what the database holds now.
    statement = select(*_COLUMNS).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    yield from db.session.execute(statement)
