"""Sessions that end when idle (WCAG 2.2.1, Timing Adjustable): how long one has left, "Stay signed in", and the
words a guardian had typed when theirs ran out.

Those words are kept for the same guardian's next sign-in, and for nobody else: they are sealed with HPKE to the
guardian's own public key, derived from the private key their timed-out session held (opened with the cookie's half
and the row's), so sealing needs no secret the server keeps and only their private key, unlocked by their password
at sign-in, opens them. The sealed words wait in one slot per account (``form_posts.hold_for_account``, a keyed
name of the account, never in plain) for at most KEPT_FORM_MINUTES, and are deleted when taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from speakup.crypto import kem, labels, padding, sealing
from speakup.keys import sessions
from speakup.keys.account_keys import AccountKeys
from speakup.keys.sessions import SessionTimedOut as SessionTimedOut  # what the pages carry from the loader
from speakup.platform import clock, form_posts
from speakup.platform.config import settings
from speakup.platform.models import StaffSession

# How long after a session's end a form sent from one of its pages may still be the person's own, and its words kept
# for them: without JavaScript, the end is seen only by the next request, and a page left on screen longer than this
# is someone else's to type into (review finding F3).
LATE_SEND_MINUTES = 5


@dataclass(frozen=True)
class TimeLeft:
    """What a page tells its script: the idle limit, and how long is left before the session ends when idle or,
    for staff, at its absolute limit (which "Stay signed in" cannot move)."""

    idle_seconds: int
    seconds_left: int
    absolute_seconds_left: int | None = None

    @property
    def until_the_end(self) -> int:
        """The seconds before the session ends, whichever limit comes first (review finding F4)."""
        if self.absolute_seconds_left is None:
            return self.seconds_left
        return min(self.seconds_left, self.absolute_seconds_left)


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


def staff_time_left(row: StaffSession, now: datetime | None = None) -> TimeLeft:
    configured, now = settings(), now or clock.utcnow()
    idle = timedelta(minutes=configured.staff_idle_minutes)
    absolute = timedelta(hours=configured.staff_absolute_hours)
    return TimeLeft(
        _seconds(idle),
        _seconds(row.last_seen_at + idle - now),
        _seconds(row.created_at + absolute - now),
    )


def reporter_time_left(now: datetime | None = None) -> TimeLeft:
    """A follow-up session that was just resumed: its last activity is this minute (kept to the minute,
    platform/clock.py), so it ends ``REPORTER_IDLE_MINUTES`` after the minute began."""
    idle = timedelta(minutes=settings().reporter_idle_minutes)
    now = now or clock.utcnow()
    return TimeLeft(_seconds(idle), _seconds(now.replace(second=0, microsecond=0) + idle - now))


def keep_staff_session_alive(row: StaffSession) -> TimeLeft:
    """ "Stay signed in": the idle time starts again; the absolute limit does not move."""
    sessions.keep_staff_session_alive(row)
    return staff_time_left(row)


@dataclass(frozen=True)
class Unsent:
    """The words of one form a guardian had not sent when their session timed out, and the page it was on."""

    path: str
    form: str
    values: dict[str, str] = field(repr=False)


def keep_unsent(timed_out: SessionTimedOut, cookie_key: str, unsent: Unsent) -> bool:
    """Seals ``unsent`` to the timed-out person's own public key, for their next sign-in; False (nothing kept) when
    the cookie's key does not open the session, nothing was typed, or it was sent more than LATE_SEND_MINUTES after
    the session ended (the caller has checked the form's token: a page of this session, made after its sign-in)."""
    if not any(value.strip() for value in unsent.values.values()):
        return False
    if clock.utcnow() > timed_out.ended_at + timedelta(minutes=LATE_SEND_MINUTES):
        return False
    try:
        public_key = sessions.public_key_of_timed_out(timed_out, sealing.b64d(cookie_key))
    except (sessions.SessionExpired, ValueError):
        return False
    account = form_posts.account_lookup(timed_out.user_id)
    payload = json.dumps({"path": unsent.path, "form": unsent.form, "values": unsent.values}).encode()
    sealed = kem.seal_to(padding.pad(payload), public_key, labels.unsent_at_time_out(account))
    form_posts.hold_for_account(timed_out.user_id, sealed)
    return True


def take_unsent(user_id: int, keys: AccountKeys) -> Unsent | None:
    """At sign-in, with the keys the password just unlocked: what ``keep_unsent`` kept for this person, once."""
    sealed = form_posts.take_for_account(user_id)
    if sealed is None:
        return None
    account = form_posts.account_lookup(user_id)
    try:
        payload = json.loads(
            padding.unpad(kem.open_sealed_to(sealed, keys.private_key, labels.unsent_at_time_out(account)))
        )
        values = {str(name): str(value) for name, value in dict(payload["values"]).items()}
        return Unsent(str(payload["path"]), str(payload["form"]), values)
    except (sealing.DecryptionError, ValueError, KeyError, TypeError):
        return None
