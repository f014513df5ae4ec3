"""Email to guardians that something is waiting in Speak Up, and nothing more.

No case content is ever emailed: no reference, concern or message text, reporter name or access code. Email
passes through mail servers and inboxes outside the service's encryption, is often forwarded, read on shared
ward computers or kept for years, and even a reference or a subject line can identify a reporter. So every
email only says that something is waiting and links to the sign-in page; the functions here do not even take
any case data. Each guardian gets their own email, so no one sees who else was told.

Emails are queued, never sent here: each is a row of the mail outbox, written in the caller's transaction, and
`flask speakup mail deliver` sends it after a random delay (speakup/ops/outbox.py). With MAIL_SERVER unset nothing
is queued. A row names what to send and to whom by reference only: a Kind of these fixed texts (and, for deadlines,
how many) and the staff account's id. The worker makes the subject and body from the texts here and reads the
address from the account when it sends, so whoever can write to the database can at most make these fixed emails
go to active staff accounts (outside review, finding F3).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.languages import ENGLISH
from speakup.platform.models import MailOutbox, db
from speakup.platform.models.roles import Role
from speakup.platform.public_urls import public_url
from speakup.platform.translation import force_locale, ngettext
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

_random = secrets.SystemRandom()


class Kind(StrEnum):
    """MailOutbox.kind: which fixed email a row sends."""

    NEW_CONCERN = "new_concern"
    REPORTER_REPLIED = "reporter_replied"
    DEADLINE_DUE = "deadline_due"
    ROSTER_CHANGED = "roster_changed"


# Each kind's subject and first line: the only texts an email from the outbox can carry (deadlines: _texts).
TEXTS: dict[Kind, tuple[str, str]] = {
    Kind.NEW_CONCERN: (_l("A new concern has been raised"), _l("A new concern is waiting for you in Speak Up.")),
    Kind.REPORTER_REPLIED: (
        _l("The person who raised a concern has replied"),
        _l("The person who raised a concern has replied. Their reply is waiting for you in Speak Up."),
    ),
    Kind.ROSTER_CHANGED: (
        _l("The guardians who can read concerns have changed"),
        _l(
            "A guardian account was added, approved, reset or disabled in Speak Up. Sign in and open Team to check "
            "that the change was expected."
        ),
    ),
}
_KINDS = frozenset(kind.value for kind in Kind)
# Whom an email may go to: an active account of one of these roles (any other row is dropped by the worker).
RECIPIENT_ROLES = frozenset({Role.GUARDIAN.value, Role.ADMIN.value})
MOST_DEADLINES = 100_000
WELSH = "cy"  # a deadlines count above this is no count the service makes


class Addressee(Protocol):
    """Whom an email goes to: an account, or a member of the verified roster (speakup/keys/roster.py)."""

    @property
    def id(self) -> int: ...
    @property
    def is_active(self) -> bool: ...


def new_concern(recipients: Iterable[Addressee]) -> int:
    """Tells guardians a new concern is waiting. Returns how many emails were queued."""
    return _send(recipients, Kind.NEW_CONCERN)


def reporter_replied(recipients: Iterable[Addressee]) -> int:
    """Tells guardians the reporter has replied on a case. Returns how many emails were queued."""
    return _send(recipients, Kind.REPORTER_REPLIED)


def deadline_due(recipients: Iterable[Addressee], count: int) -> list[int]:
    """Tells guardians that ``count`` case deadlines are coming up, with no delay (a timer's job, not a reporter's
    visit, so there is no time to hide). Returns the queued emails' ids, for the caller to send at once."""
    if count < 1:
        return []
    return _queue(recipients, Kind.DEADLINE_DUE, min(count, MOST_DEADLINES), no_delay=True)


def roster_changed(recipients: Iterable[Addressee]) -> int:
    """Tells guardians that the guardians who can read concerns changed (added, approved, reset or disabled),
    so an account nobody expected is noticed. Names no one: the Team page says who."""
    return _send(recipients, Kind.ROSTER_CHANGED)


def message(kind: str, deadlines: int | None) -> tuple[str, str] | None:
    """The subject and body of a queued email, made from the fixed texts; None for a kind that is not one of them,
    or a deadlines count that does not go with it (a row the service did not write)."""
    if kind not in _KINDS or (kind == Kind.DEADLINE_DUE) != (deadlines is not None):
        return None
    if deadlines is not None and not 1 <= deadlines <= MOST_DEADLINES:
        return None
    subjects: list[str] = []
    bodies: list[str] = []
    for code in email_languages():
        with force_locale(code):
            subject, text = _texts(Kind(kind), deadlines)
            sign_in = _("Sign in to Speak Up: %(url)s", url=public_url("/guardian/"))  # not in an f-string: extracted
        # A text the catalogue does not translate yet is said once, not twice in English.
        subjects += [subject] if subject not in subjects else []
        bodies += [f"{text}\n\n{sign_in}\n"] if f"{text}\n\n{sign_in}\n" not in bodies else []
    return " / ".join(subjects), "\n---\n\n".join(bodies)


def email_languages() -> list[str]:
    """The languages every email is written in, in order (issue 28): the default language, then English for anyone
    who reads only that; a service in English that also offers Welsh writes English, then Welsh."""
    codes = settings().languages
    if codes[0] != ENGLISH:
        return [codes[0], ENGLISH]
    return [ENGLISH, WELSH] if WELSH in codes else [ENGLISH]


def _texts(kind: Kind, deadlines: int | None) -> tuple[str, str]:
    """A kind's subject and first line, in the language in force."""
    if kind == Kind.DEADLINE_DUE:
        count = deadlines or 1
        return (
            ngettext("A case deadline is coming up", "%(num)d case deadlines are coming up", count),
            ngettext("A case deadline in Speak Up is coming up.", "%(num)d case deadlines in Speak Up are coming up.",
                     count),
        )  # fmt: skip
    subject, text = TEXTS[kind]
    return str(subject), str(text)


def _send(recipients: Iterable[Addressee], kind: Kind) -> int:
    return len(_queue(recipients, kind, None, no_delay=False))


def _queue(recipients: Iterable[Addressee], kind: Kind, deadlines: int | None, *, no_delay: bool) -> list[int]:
    """Queues one email per active recipient in the caller's transaction (speakup/ops/outbox.py sends them), so a
    rolled-back change tells nobody and a mail server that is down loses nothing. Each is due after a random delay
    in MAIL_DELAY_SECONDS, none with ``no_delay``. Returns the queued emails' ids."""
    mail = settings().mail
    if not mail.server:
        return []  # before reading the recipients: after a commit each would be loaded again, for nothing
    account_ids = [user.id for user in recipients if user.is_active]
    if not account_ids:
        return []
    shortest, longest = (0, 0) if no_delay else mail.delay_seconds
    created = clock.minute_now()
    # From now, not from the minute: every email waits at least the shortest delay after what it announces.
    now = clock.utcnow().replace(microsecond=0)
    rows = []
    for account_id in account_ids:
        due = now + timedelta(seconds=_random.randint(shortest, longest))
        rows.append(
            MailOutbox(
                kind=kind.value,
                user_id=account_id,
                deadlines=deadlines,
                created_at=created,
                send_after=due,
                next_attempt_at=due,
            )
        )
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]
