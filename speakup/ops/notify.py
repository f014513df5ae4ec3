"""Email to guardians that something is waiting in Speak Up, and nothing more.

No case content is ever emailed: no reference, concern or message text, reporter name or access code. Email
passes through mail servers and inboxes outside the service's encryption, is often forwarded, read on shared
ward computers or kept for years, and even a reference or a subject line can identify a reporter. So every
email only says that something is waiting and links to the sign-in page; the functions here do not even take
any case data. Each guardian gets their own email, so no one sees who else was told.

Emails are queued, never sent here: each is a row of the mail outbox, written in the caller's transaction, and
`flask speakup mail deliver` sends it after a random delay (speakup/ops/outbox.py). With MAIL_SERVER unset nothing
is queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from speakup.ops import outbox
from speakup.platform.config import settings
from speakup.platform.public_urls import public_url


class Addressee(Protocol):
    """Whom an email goes to: an account, or a member of the verified roster (speakup/keys/roster.py)."""

    @property
    def email(self) -> str: ...
    @property
    def is_active(self) -> bool: ...


def new_concern(recipients: Iterable[Addressee]) -> int:
    """Tells guardians a new concern is waiting. Returns how many emails were queued."""
    return _send(recipients, "A new concern has been raised", "A new concern is waiting for you in Speak Up.")


def reporter_replied(recipients: Iterable[Addressee]) -> int:
    """Tells guardians the reporter has replied on a case. Returns how many emails were queued."""
    return _send(
        recipients,
        "The person who raised a concern has replied",
        "The person who raised a concern has replied. Their reply is waiting for you in Speak Up.",
    )


def deadline_due(recipients: Iterable[Addressee], count: int) -> list[int]:
    """Tells guardians that ``count`` case deadlines are coming up, with no delay (a timer's job, not a reporter's
    visit, so there is no time to hide). Returns the queued emails' ids, for the caller to send at once."""
    if count < 1:
        return []
    if count == 1:
        subject, text = "A case deadline is coming up", "A case deadline in Speak Up is coming up."
    else:
        subject, text = f"{count} case deadlines are coming up", f"{count} case deadlines in Speak Up are coming up."
    return _queue(recipients, subject, text, no_delay=True)


def roster_changed(recipients: Iterable[Addressee]) -> int:
    """Tells guardians that the guardians who can read concerns changed (added, approved, reset or disabled),
    so an account nobody expected is noticed. Names no one: the Team page says who."""
    return _send(
        recipients,
        "The guardians who can read concerns have changed",
        "A guardian account was added, approved, reset or disabled in Speak Up. Sign in and open Team to check "
        "that the change was expected.",
    )


def _send(recipients: Iterable[Addressee], subject: str, text: str) -> int:
    return len(_queue(recipients, subject, text, no_delay=False))


def _queue(recipients: Iterable[Addressee], subject: str, text: str, *, no_delay: bool) -> list[int]:
    """Queues one email per active recipient in the caller's transaction (speakup/ops/outbox.py sends them), so a
    rolled-back change tells nobody and a mail server that is down loses nothing. Returns the queued emails' ids."""
    mail = settings().mail
    if not mail.server:
        return []  # before reading the recipients: after a commit each would be loaded again, for nothing
    addresses = [user.email for user in recipients if user.is_active]
    body = f"{text}\n\nSign in to Speak Up: {public_url('/guardian/')}\n"
    return outbox.queue(addresses, subject, body, (0, 0) if no_delay else mail.delay_seconds)
