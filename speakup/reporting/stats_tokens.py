"""Read-only statistics tokens: they let a trust's dashboard fetch the return as JSON (GET /api/v1/stats) without
a staff account. Only a keyed hash of a token is stored.

A revocation is a ``token_revoked`` entry of the roster log, anchored outside the database at once, and a token the
verified log names is refused whatever its row or the audit trail now say (outside review r4 of issue 27, F1);
during a roster alarm no token is taken (503). ``revoked_at`` and the audit trail's records still refuse too (tokens
revoked before the log named them)."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import select

from speakup.crypto import sealing
from speakup.keys import roster, roster_log
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import AuditEvent, StatsToken, db

TOKEN_PURPOSE = "stats-token"  # noqa: S105 - a hash purpose, not a secret
STAMP_KIND = "stats-token"

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32

MAX_TOKEN_NAME_CHARS = 100


class TokenError(ValueError):
    """A statistics token cannot be created or revoked as asked; the message says why."""


class TokensUnverifiable(Exception):
    """The roster log has an alarm, so whether a token was revoked cannot be known: none is taken meanwhile."""


def _token_hash(token: str, pepper: bytes) -> str:
    return sealing.keyed_hash(pepper, token, TOKEN_PURPOSE)


def _clean_token_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_TOKEN_NAME_CHARS or not name.isprintable():
        raise TokenError(f"Give the token a name of 1 to {MAX_TOKEN_NAME_CHARS} characters on one line.")
    return name


def create_stats_token(name: str, pepper: bytes) -> tuple[StatsToken, str]:
    """A new read-only token for GET /api/v1/stats. Returns the row and the token, which is never stored
    (only its keyed hash is) and so can be shown only this once. The caller commits."""
    name = _clean_token_name(name)
    if db.session.scalar(select(StatsToken.id).where(StatsToken.name == name, StatsToken.revoked_at.is_(None))):
        raise TokenError(f"A statistics token named {name!r} already exists; revoke it first or choose another name.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = StatsToken(name=name, token_hash=_token_hash(token, pepper))
    db.session.add(row)
    db.session.flush()
    audit.record(audit.Action.STATS_TOKEN_CREATED, audit.Actor.SYSTEM)
    return row, token


def revoke_stats_token(name: str) -> int:
    """Revokes every unrevoked token with this name; returns how many. Each revocation is an entry of the roster
    log, by the token's keyed hash, anchored at once: ``revoked_at`` and the audit trail are values a database writer
    could clear, cut back or put back (outside review 3 of issue 27, F2; review r4, F1). The caller commits."""
    rows = db.session.scalars(
        select(StatsToken).where(StatsToken.name == (name or "").strip(), StatsToken.revoked_at.is_(None))
    ).all()
    if not rows:
        raise TokenError(f"No active statistics token is named {name!r}.")
    now = clock.utcnow()
    for row in rows:
        row.revoked_at = now
        audit.record(audit.Action.STATS_TOKEN_REVOKED, audit.Actor.SYSTEM, count=1, token_hash=row.token_hash)
        roster_log.token_revoked(row.token_hash)  # anchored as soon as it is committed (keys/written.py)
    return len(rows)


def revoke_every_token() -> set[str]:
    """Every statistics token revoked, and their keyed hashes returned for the checkpoint to carry: `speakup roster
    accept` after the log lost entries this server saw, which may have revoked any of them (outside review r5, F2).
    The caller commits."""
    now = clock.utcnow()
    rows = db.session.scalars(select(StatsToken)).all()
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
            audit.record(audit.Action.STATS_TOKEN_REVOKED, audit.Actor.SYSTEM, count=1, token_hash=row.token_hash)
    return {row.token_hash for row in rows}


def _revoked_in_chain(rows: Sequence[StatsToken]) -> set[str]:
    hashes = {row.token_hash for row in rows}
    events = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == audit.Action.STATS_TOKEN_REVOKED))
    return {named for detail in events if (named := json.loads(detail or "{}").get("token_hash")) in hashes}


def revoked_recorded() -> set[str]:
    """Every token the rows or the genuine audit events record as revoked: what `speakup roster accept` adds to the
    log's own list (an entry after the alarm's point may be the very one removed). Only ever more refusals."""
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.STATS_TOKEN_REVOKED))
    named = {audit.detail_of(event).get("token_hash") for event in events if audit.is_genuine(event)}
    rows = db.session.scalars(select(StatsToken.token_hash).where(StatsToken.revoked_at.is_not(None)))
    return {name for name in named if isinstance(name, str)} | set(rows)


def refused_tokens() -> set[str] | None:
    """The keyed hashes of every token the service refuses as revoked (`stats-token list`), None during a roster
    alarm (when it refuses them all)."""
    spent = roster.current_roster().spent
    if spent is None:
        return None
    rows = stats_tokens()
    return spent.revoked | _revoked_in_chain(rows) | {row.token_hash for row in rows if row.revoked_at is not None}


def stats_tokens() -> list[StatsToken]:
    return list(db.session.scalars(select(StatsToken).order_by(StatsToken.created_at, StatsToken.id)))


def _stamped(row: StatsToken) -> tuple[int, str, str]:
    return (row.id, row.name, row.token_hash)


def find_stats_token(token: str, peppers: Sequence[bytes] | bytes) -> StatsToken | None:
    """The unrevoked token row this bearer token matches, found by its keyed hash under any configured pepper (a
    token made before a rotation still works), or None. A row found under a fallback pepper opens only while the
    stamp the rotation gave it holds (``stamp_for_rotation``): one inserted or changed by someone holding only the
    old pepper opens nothing, with an ERROR line. Revoked means named so by the verified roster log, or by the row
    or the audit trail; ``TokensUnverifiable`` for a token otherwise good during a roster alarm."""
    if not token or len(token) > 200:
        return None
    peppers = (peppers,) if isinstance(peppers, bytes) else tuple(peppers)
    hashes = sealing.keyed_hashes(peppers, token, TOKEN_PURPOSE)
    rows = db.session.scalars(
        select(StatsToken).where(StatsToken.token_hash.in_(hashes), StatsToken.revoked_at.is_(None))
    ).all()
    revoked = _revoked_in_chain(rows)
    for row in rows:
        if row.token_hash in revoked:
            continue
        if sealing.found_stamp_holds(peppers, hashes, row.token_hash, row.pepper_stamp, STAMP_KIND, _stamped(row)):
            return _unless_the_log_revoked(row)
        logger.error(
            "Pepper stamp invalid: statistics token %s was found under a fallback pepper without a stamp "
            "`speakup rotate-pepper` made; refused (a database writer holding an old pepper?)",
            row.id,
        )
    return None


def _unless_the_log_revoked(row: StatsToken) -> StatsToken | None:
    spent = roster.current_roster().spent
    if spent is None:
        raise TokensUnverifiable()
    if row.token_hash in spent.revoked:
        logger.error("Database tampering: statistics token %s, revoked, was made to look unrevoked; refused", row.id)
        return None
    return row


def stamp_for_rotation(old: bytes, fallbacks: Sequence[bytes], new: bytes) -> int:
    """At `speakup rotate-pepper`: stamps, under the new pepper, every token that opens now (docs/protocol.md,
    "Rotating the pepper"); returns how many. The caller commits."""
    stamped = 0
    for row in db.session.scalars(select(StatsToken)):
        row.pepper_stamp = sealing.rotated_stamp(row.pepper_stamp, STAMP_KIND, _stamped(row), old, fallbacks, new)
        stamped += row.pepper_stamp is not None
    return stamped
