"""Who a browser is signed in as, for the pages: a guardian's staff session and a reporter's follow-up session.

Each is split (speakup/keys/sessions.py): the keys sealed in a server-side row, and the key that opens them in the
browser's signed cookie, which these functions hand over and take back as text. Also the access code's check, and
``pseudonym``, the keyed name the pages give an account or a browser (rate limits, cookies, form nonces)."""

from __future__ import annotations

from datetime import timedelta

from speakup.crypto import access_codes, sealing
from speakup.domain import references
from speakup.keys import grants, roster, sessions
from speakup.keys.account_keys import AccountKeys as AccountKeys  # what staff_keys returns
from speakup.keys.sessions import SessionExpired as SessionExpired  # what the pages catch
from speakup.ops import audit
from speakup.platform.config import settings
from speakup.platform.models import Case, StaffSession, User


def pseudonym(text: str, purpose: str) -> str:
    """A keyed hash of ``text`` under the server's pepper, for one ``purpose``: a name for an account, a browser or
    a form that nobody without the pepper can turn back into the text."""
    return sealing.keyed_hash(settings().token_pepper, text, purpose)


def pseudonyms(text: str, purpose: str) -> tuple[str, ...]:
    """``pseudonym`` under each configured pepper, the current first: what a check of one made earlier accepts (a
    form or a cookie from before a rotation of the pepper)."""
    return sealing.keyed_hashes(settings().token_peppers, text, purpose)


# --- Guardians and administrators ------------------------------------------------------------------------------


def start_staff_session(user: User, keys: AccountKeys) -> tuple[StaffSession, str]:
    """A new session for ``user``, whose unlocked keys are sealed in its row; returns the row and, as text for the
    cookie, the key that opens them."""
    row, session_key = sessions.start_staff_session(user, keys)
    return row, sealing.b64e(session_key)


def load_staff_session(session_id: str, cookie_key: str) -> StaffSession:
    """The session a cookie names, still within its idle and absolute time-outs and opening with the key the cookie
    holds; ``SessionExpired`` (carrying whose it was, when it timed out) otherwise."""
    configured = settings()
    try:
        key = sealing.b64d(cookie_key)
    except ValueError:
        raise SessionExpired() from None
    try:
        return sessions.load_staff_session(
            session_id,
            idle=timedelta(minutes=configured.staff_idle_minutes),
            absolute=timedelta(hours=configured.staff_absolute_hours),
            session_key=key,
        )
    except SessionExpired as expired:
        if expired.args and isinstance(expired.args[0], int):  # timed out now (its row just went): recorded once
            audit.record(audit.Action.SESSION_TIMED_OUT, audit.Actor.SYSTEM, user_id=expired.args[0])
        raise


def staff_keys(row: StaffSession, cookie_key: str) -> AccountKeys:
    """The signed-in person's private keys, opened with the cookie's key; ``SessionExpired`` when it cannot."""
    try:
        return sessions.staff_keys(row, sealing.b64d(cookie_key))
    except ValueError:
        raise SessionExpired() from None


def end_staff_session(session_id: str) -> None:
    """Ends a session that another replaces (signing in again): not a sign-out."""
    sessions.end_staff_session(session_id)


def sign_out(row: StaffSession) -> None:
    """The person signs out, or their keys could not be opened: recorded, and the session ended."""
    audit.record(audit.Action.SIGN_OUT, row.user.role, row.user.id)
    sessions.end_staff_session(row.id)


# --- The person who raised a concern -----------------------------------------------------------------------------

EMPTY, MISTYPED, NOT_FOUND, REFERENCE = "empty", "mistyped", "not found", "a case reference"
UNAVAILABLE = "cannot be checked now"  # a roster alarm: whether a code was replaced cannot be known (keys/grants.py)


class AccessCodeRefused(Exception):
    """The access code opens nothing. ``reason``: ``EMPTY`` (nothing typed), ``MISTYPED`` (malformed, or its check
    character does not match: known from the text alone), ``REFERENCE`` (a case reference typed instead of the code,
    known from the text alone too) or ``NOT_FOUND`` (well formed; no concern has it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def open_with_access_code(typed: str) -> tuple[Case, bytes]:
    """The case an access code opens, and its key, with the same work whether or not it exists (keys/grants.py);
    ``AccessCodeRefused(NOT_FOUND)`` otherwise, a malformed code included."""
    try:
        return grants.open_with_access_code(typed, settings().token_peppers)
    except grants.AccessCodeNotFound:
        raise AccessCodeRefused(NOT_FOUND) from None
    except grants.AccessCodesUnverifiable:
        raise AccessCodeRefused(UNAVAILABLE) from None


def check_access_code(typed: str) -> tuple[Case, bytes]:
    """As ``open_with_access_code``, but a blank or malformed code is refused as such first: known from the text
    alone, with no database and no secret, so saying so reveals nothing about which codes exist."""
    try:
        access_codes.normalise_access_code(typed)
    except access_codes.EmptyAccessCode:
        raise AccessCodeRefused(EMPTY) from None
    except access_codes.InvalidAccessCode:
        raise AccessCodeRefused(REFERENCE if references.looks_like_reference(typed) else MISTYPED) from None
    return open_with_access_code(typed)


def _reporter_idle() -> timedelta:
    return timedelta(minutes=settings().reporter_idle_minutes)


def start_reporter_session(case: Case, case_key: bytes) -> tuple[str, str]:
    """A follow-up session for the case an access code opened: its id and, as text for the cookie, its key."""
    code = grants.code_generation_of(case, settings().token_pepper)  # the code that just opened it
    row, session_key = sessions.start_reporter_session(case, case_key, code, _reporter_idle())
    return row.id, sealing.b64e(session_key)


def resume_reporter_session(session_id: str, cookie_key: str) -> tuple[Case, bytes]:
    """The case of a follow-up session and its key, while it has not been idle too long; ``SessionExpired``
    otherwise."""
    try:
        case, case_key, code = sessions.resume_reporter_session(session_id, sealing.b64d(cookie_key), _reporter_idle())
    except ValueError:
        raise SessionExpired() from None
    # A session lasts only as long as its code: not once the roster log names another (the session's row put back
    # or kept by a database writer), nor while the log cannot be trusted (keys/grants.py says the same of codes).
    codes = roster.current_roster().codes
    named = codes.get(case.id) if codes is not None else None
    # Names made under any configured pepper match the case's current lookup id (keys/grants.py): a session opened
    # before a rotation lasts; one whose code was replaced since does not.
    current = grants.code_generations(case.access_lookup_id, settings().token_peppers)
    stale = code is not None and not grants.names_one_of(code, current)
    replaced = named is not None and (code is None or not grants.names_one_of(named, current))
    if codes is None or stale or replaced:
        sessions.end_reporter_session(session_id)
        raise SessionExpired()
    return case, case_key


def end_reporter_session(session_id: str) -> None:
    sessions.end_reporter_session(session_id)
