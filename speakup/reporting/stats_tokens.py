"""Read-only statistics tokens: they let a trust's dashboard fetch the return as JSON (GET /api/v1/stats) without
a staff account. Only a keyed hash of a token is stored."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import select

from speakup.crypto import sealing
from speakup.platform import clock
from speakup.platform.models import StatsToken, db

TOKEN_PURPOSE = "stats-token"  # noqa: S105 - a hash purpose, not a secret

TOKEN_BYTES = 32

MAX_TOKEN_NAME_CHARS = 100


class TokenError(ValueError):
    """A statistics token cannot be created or revoked as asked; the message says why."""


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
    return row, token


def revoke_stats_token(name: str) -> int:
    """Revokes every unrevoked token with this name; returns how many. The caller commits."""
    rows = db.session.scalars(
        select(StatsToken).where(StatsToken.name == (name or "").strip(), StatsToken.revoked_at.is_(None))
    ).all()
    if not rows:
        raise TokenError(f"No active statistics token is named {name!r}.")
    now = clock.utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def stats_tokens() -> list[StatsToken]:
    return list(db.session.scalars(select(StatsToken).order_by(StatsToken.created_at, StatsToken.id)))


def find_stats_token(token: str, peppers: Sequence[bytes] | bytes) -> StatsToken | None:
    """The unrevoked token row this bearer token matches, found by its keyed hash under any configured pepper (a
    token made before a rotation still works), or None."""
    if not token or len(token) > 200:
        return None
    hashes = sealing.keyed_hashes((peppers,) if isinstance(peppers, bytes) else peppers, token, TOKEN_PURPOSE)
    return db.session.scalar(
        select(StatsToken).where(StatsToken.token_hash.in_(hashes), StatsToken.revoked_at.is_(None)).limit(1)
    )
