"""Server-side sessions whose secrets are sealed under a key only the browser holds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete

from speakup.crypto import kem, labels, sealing
from speakup.keys import account_identity
from speakup.keys.account_keys import AccountKeys
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, ReporterSession, StaffSession, User, db


class SessionExpired(Exception):
    """A session row is gone, idle too long, past its absolute limit, or its cookie key is wrong."""


class SessionTimedOut(SessionExpired):
    """A staff session that ran out just now (idle or absolute): ``args[0]`` is whose it was, and its sealed keys go
    with it, so that words its person had typed can be sealed to their own public key (``public_key_of_timed_out``)
    before the session is forgotten; ``ended_at``: when it ran out, which the request finding it may be long after."""

    def __init__(self, user_id: int, who: str, session_id: str, private_key_ct: bytes, ended_at: datetime):
        super().__init__(user_id)
        self.user_id = user_id
        self.who = who  # who the account was when it ran out (``account_identity.who``): what the row is bound to
        self.session_id = session_id
        self.private_key_ct = private_key_ct
        self.ended_at = ended_at


@dataclass(frozen=True)
class SealedForSession:
    """A secret sealed under a fresh per-session key: the row keeps ``sealed``, the cookie ``key``."""

    session_id: str
    sealed: bytes
    key: bytes


def seal_for_session(kind: str, secret: bytes) -> SealedForSession:
    key = sealing.new_session_key()
    session_id = secrets.token_urlsafe(32)
    return SealedForSession(session_id, sealing.seal(key, secret, labels.session(kind, session_id)), key)


def open_for_session(kind: str, session_id: str, sealed: bytes, key: bytes) -> bytes:
    try:
        return sealing.open_sealed(key, sealed, labels.session(kind, session_id))
    except sealing.DecryptionError as exc:
        raise SessionExpired() from exc


def _session_secret(keys: AccountKeys) -> bytes:
    return keys.private_key + (keys.signing_key or b"")


BINDING_PURPOSE = "staff-session"


def _binding(session_id: str, who: str) -> str:
    """What a staff session's sealed half is bound to besides its row and account: who the account is (its id, role
    and address, ``account_identity.who``) and the server's pepper now. A database writer who makes a session on a
    copy (with an old pepper, or an old secret key to sign its cookie) and puts the row in, or moves a row to another
    account (outside review 3 of issue 27), or swaps the account's id with another's or sets its role (outside review
    r4, F3), has a row that opens nothing; a pepper rotation ends every session."""
    return sealing.keyed_hash(settings().token_pepper, f"{session_id}|{who}", BINDING_PURPOSE)


def _open_staff_half(session_id: str, user_id: int, who: str, sealed: bytes, session_key: bytes) -> bytes:
    try:
        return sealing.open_sealed(
            session_key, sealed, labels.staff_session(session_id, user_id, _binding(session_id, who))
        )
    except (sealing.DecryptionError, ValueError) as exc:  # ValueError: no key, or one of the wrong length
        raise SessionExpired() from exc


def start_staff_session(user: User, keys: AccountKeys) -> tuple[StaffSession, bytes]:
    key, session_id = sealing.new_session_key(), secrets.token_urlsafe(32)
    binding = _binding(session_id, account_identity.who(user))
    sealed = sealing.seal(key, _session_secret(keys), labels.staff_session(session_id, user.id, binding))
    row = StaffSession(id=session_id, user_id=user.id, private_key_ct=sealed)
    db.session.add(row)
    return row, key


def load_staff_session(session_id: str, idle: timedelta, absolute: timedelta, session_key: bytes) -> StaffSession:
    """The session, within its time-outs, whose sealed half opens with the cookie's ``session_key`` for the account
    the row names, as it was when the session began, under the pepper in force, while the account's row is as the
    service left it (``account_identity``: its active flag and role included); ``SessionExpired`` otherwise (a row
    that does not open is left alone: a wrong cookie ends nobody's session)."""
    row = db.session.get(StaffSession, session_id)
    now = clock.utcnow()
    if row is None or not row.user.is_active:
        raise SessionExpired()
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        ended_at = min(row.last_seen_at + idle, row.created_at + absolute)
        timed_out = SessionTimedOut(row.user_id, account_identity.who(row.user), row.id, row.private_key_ct, ended_at)
        db.session.delete(row)
        raise timed_out  # whose it was: a time-out may return them to their page at sign-in
    if not account_identity.checked(row.user, "session"):
        raise SessionExpired()
    _open_staff_half(row.id, row.user_id, account_identity.who(row.user), row.private_key_ct, session_key)
    # Write at most once a minute: every page view must not become a database write.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return row


def staff_keys(row: StaffSession, session_key: bytes) -> AccountKeys:
    """The signed-in person's private keys, opened with the half of the session their cookie holds."""
    secret = _open_staff_half(row.id, row.user_id, account_identity.who(row.user), row.private_key_ct, session_key)
    return AccountKeys(secret[: kem.PRIVATE_KEY_BYTES], secret[kem.PRIVATE_KEY_BYTES :] or None)


def keep_staff_session_alive(row: StaffSession) -> None:
    """ "Stay signed in": the session's idle time starts again now. Its absolute limit (``created_at``) stays."""
    row.last_seen_at = clock.utcnow()


def public_key_of_timed_out(timed_out: SessionTimedOut, session_key: bytes) -> bytes:
    """The public key of the person whose session just timed out, derived from their own private key (opened with
    both halves of the session: the row's, carried by ``timed_out``, and the cookie's), never read from a column a
    database writer could have changed. ``SessionExpired`` when the cookie's key does not open it."""
    secret = _open_staff_half(
        timed_out.session_id, timed_out.user_id, timed_out.who, timed_out.private_key_ct, session_key
    )
    return kem.public_key_of(secret[: kem.PRIVATE_KEY_BYTES])


def end_staff_session(session_id: str) -> None:
    row = db.session.get(StaffSession, session_id)
    if row is not None:
        db.session.delete(row)


def start_reporter_session(case: Case, case_key: bytes, code: str, idle: timedelta) -> tuple[ReporterSession, bytes]:
    """``code``: the generation of the access code the session was opened with, sealed with the case key under the
    key only the cookie holds, so a database writer can neither change it nor make one up."""
    purge_idle_reporter_sessions(idle)
    sealed = seal_for_session(labels.REPORTER_SESSION, case_key + code.encode())
    # To the minute, like everything a reporter does (platform/clock.py): idle time-outs need no more.
    row = ReporterSession(
        id=sealed.session_id, case_id=case.id, case_key_ct=sealed.sealed, last_seen_at=clock.minute_now()
    )
    db.session.add(row)
    return row, sealed.key


def resume_reporter_session(session_id: str, session_key: bytes, idle: timedelta) -> tuple[Case, bytes, str | None]:
    """The case, its key, and the generation of the code the session was opened with (None for a session started
    before sessions held it)."""
    row = db.session.get(ReporterSession, session_id)
    now = clock.utcnow()
    if row is None:
        raise SessionExpired()
    if now - row.last_seen_at > idle:
        db.session.delete(row)
        raise SessionExpired()
    held = open_for_session(labels.REPORTER_SESSION, row.id, row.case_key_ct, session_key)
    case_key, code = held[: sealing.KEY_BYTES], held[sealing.KEY_BYTES :].decode() or None
    row.last_seen_at = clock.minute_now()
    case = db.session.get(Case, row.case_id)
    if case is None:
        raise SessionExpired()
    return case, case_key, code


def end_reporter_session(session_id: str) -> None:
    row = db.session.get(ReporterSession, session_id)
    if row is not None:
        db.session.delete(row)


def end_reporter_sessions_of(case_id: int) -> None:
    """Every browser following this case up is signed out (its access code was replaced)."""
    db.session.execute(delete(ReporterSession).where(ReporterSession.case_id == case_id))


def purge_idle_reporter_sessions(idle: timedelta, now: datetime | None = None) -> int:
    """Deletes every idle reporter session; a sealed case key is no use to anyone once idle."""
    cutoff = (now or clock.utcnow()) - idle
    purged = db.session.execute(delete(ReporterSession).where(ReporterSession.last_seen_at < cutoff))
    return cast("CursorResult[Any]", purged).rowcount  # a DELETE's result is a CursorResult


def purge_expired_staff_sessions(idle: timedelta, absolute: timedelta, now: datetime | None = None) -> int:
    """Deletes every staff session past its idle or absolute limit. Its sealed private key could no longer be used
    (the session refuses it), but until deleted it sits in the database and in every backup."""
    now = now or clock.utcnow()
    expired = (StaffSession.last_seen_at < now - idle) | (StaffSession.created_at < now - absolute)
    return cast("CursorResult[Any]", db.session.execute(delete(StaffSession).where(expired))).rowcount


def end_other_staff_sessions(user_id: int, keep_session_id: str | None) -> int:
    """Ends every session of an account but ``keep_session_id`` (after a password change, say)."""
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep_session_id is not None:
        query = query.where(StaffSession.id != keep_session_id)
    return cast("CursorResult[Any]", db.session.execute(query)).rowcount
