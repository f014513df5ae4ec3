"""The mail outbox: guardians' emails wait as rows until `flask speakup mail deliver` sends them, each once.

speakup/ops/notify.py queues an email in the transaction of what it announces, so a change that is rolled back tells
nobody, and a mail server that is down, or a command that exits, loses nothing. Each waits a random time first
(MAIL_DELAY_SECONDS), so an email leaving cannot be matched by its time to a reporter's visit, and is deleted once
sent, so no trail is left of when anyone acted. A failed email is tried again later, each wait twice the last (one
minute up to an hour); a refused address fails only its own email.

A row names what to send and to whom by reference (speakup/ops/notify.py): the subject and body are made from
notify's fixed texts, and the address read from the account, when it is sent. A row of an unknown kind, or for an
account that is missing, disabled or not staff, is never sent: it is dropped, at ERROR. A row set to wait longer
than the service ever schedules (``pushed_ahead``) is a stuck row for /healthz. So whoever can write to the
database can at most send the fixed "something is waiting" emails to staff accounts (outside review, F3).

Each email is sent once, even by two workers at once: a worker takes a row with SELECT ... FOR UPDATE SKIP LOCKED
(PostgreSQL), holds it while it sends, and deletes it in the same transaction; the other worker skips it. SQLite has
one writer, and one server: run one worker there.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy import delete, func, select

from speakup.ops import notify
from speakup.platform import clock, transactions
from speakup.platform.config import MailSettings, settings
from speakup.platform.models import MailOutbox, User, db

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
FAILING_AFTER = timedelta(minutes=15)  # the queue's notice: an email tried and still waiting this long after queued
OVERDUE_AFTER = timedelta(minutes=30)  # /healthz: an email still waiting this long after it was due
# An email still not sent this long after it was queued says nothing useful any more ("a concern is waiting" three
# days late), and one whose address is refused for good would keep /healthz red forever: it is given up, at ERROR.
GIVE_UP_AFTER = timedelta(days=3)
# A row waiting further ahead than MAIL_DELAY_SECONDS' longest plus LONGEST_RETRY plus this was not set by the service.
AHEAD_MARGIN = timedelta(minutes=15)
# Errors that belong to one email (its address refused, its message refused): the others' go on.
_ONE_EMAIL = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
    ValueError,
)


@dataclass(frozen=True)
class Delivery:
    """What one pass did: emails sent, emails that failed this pass (they stay queued, to be tried again), and rows
    dropped as not the service's (an unknown kind, or an account that is missing, disabled or not staff)."""

    sent: int
    failed: int
    dropped: int = 0


def deliver(only: Collection[int] | None = None) -> Delivery:
    """Sends every email due now (of ``only``, when given), committing each as it goes. Nothing while MAIL_SERVER is
    unset: the emails wait."""
    mail = settings().mail
    transactions.commit()  # what the caller queued is kept before anything is sent
    if not mail.server:
        return Delivery(0, 0)
    now = clock.utcnow()
    _give_up_old(now)
    sent = failed = dropped = 0
    after_id: int | None = None
    sender = _Sender(mail)
    try:
        while (row := _take_next(now, after_id, only)) is not None:
            after_id = row.id
            email = _email_of(row)
            if email is None:
                db.session.delete(row)
                dropped += 1
            elif (error := sender.send(*email)) is None:
                db.session.delete(row)
                sent += 1
            else:
                _try_later(row, error, now)
                failed += 1
            transactions.commit()
    finally:
        sender.close()
    _report_stuck(now)
    return Delivery(sent, failed, dropped)


def failing() -> int:
    """How many emails are waiting after a failed attempt: while any are, mail is failing (`mail deliver` exits 1
    on every run, not only on those that tried)."""
    return db.session.scalar(select(func.count()).select_from(MailOutbox).where(MailOutbox.attempts > 0)) or 0


def pushed_ahead(now: datetime) -> int:
    """How many rows wait for a time further ahead than the service ever schedules (the longest MAIL_DELAY_SECONDS
    plus the longest back-off, and a margin), or were queued in the future: none the service wrote, and stuck."""
    horizon = now + timedelta(seconds=settings().mail.delay_seconds[1]) + LONGEST_RETRY + AHEAD_MARGIN
    ahead = (
        (MailOutbox.send_after > horizon) | (MailOutbox.next_attempt_at > horizon) | (MailOutbox.created_at > horizon)
    )
    return db.session.scalar(select(func.count()).select_from(MailOutbox).where(ahead)) or 0


def failing_since(now: datetime) -> datetime | None:
    """When the oldest email that has failed, and has waited longer than FAILING_AFTER, was due; None if none."""
    return db.session.scalar(
        select(func.min(MailOutbox.send_after)).where(
            MailOutbox.attempts > 0, MailOutbox.created_at <= now - FAILING_AFTER
        )
    )


def overdue(now: datetime) -> tuple[int, datetime | None]:
    """How many emails are still waiting OVERDUE_AFTER after they were due, and when the oldest was due."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(MailOutbox.send_after)).where(MailOutbox.send_after <= now - OVERDUE_AFTER)
    ).one()
    return int(count), oldest


def _take_next(now: datetime, after_id: int | None, only: Collection[int] | None) -> MailOutbox | None:
    query = select(MailOutbox).where(MailOutbox.next_attempt_at <= now)
    if after_id is not None:  # (not "id > 0" at first: a row whose id a writer set to 0 or below is still taken)
        query = query.where(MailOutbox.id > after_id)
    if only is not None:
        query = query.where(MailOutbox.id.in_(list(only)))
    # Locked until this email's commit; another worker skips it rather than waiting to send it again.
    return db.session.scalar(query.order_by(MailOutbox.id).limit(1).with_for_update(skip_locked=True))


def _email_of(row: MailOutbox) -> tuple[str, str, str] | None:
    """The address, subject and body of a row: the fixed texts of its kind, to its account's address as it is now.
    None, logged at ERROR, for a row the service would not have written."""
    made = notify.message(row.kind, row.deadlines)
    if made is None:
        # Not the kind's text: a writer chose it, and a log line must not carry what they chose.
        logger.error("Guardian email dropped: a row of an unknown kind")
        return None
    account = db.session.get(User, row.user_id)
    if account is None or not account.is_active or account.role not in notify.RECIPIENT_ROLES:
        # The account's id only: no address in the log.
        logger.error("Guardian email dropped: account %d is not an active staff account", row.user_id)
        return None
    return (account.email, *made)


def _try_later(row: MailOutbox, error: str, now: datetime) -> None:
    row.attempts = max(row.attempts, 0) + 1
    # The exponent is capped: an attempts count a writer set to millions must not overflow the wait.
    row.next_attempt_at = now + min(FIRST_RETRY * 2 ** min(row.attempts - 1, 10), LONGEST_RETRY)
    row.last_error = error


def _give_up_old(now: datetime) -> None:
    old = select(MailOutbox.id).where(MailOutbox.created_at <= now - GIVE_UP_AFTER).with_for_update(skip_locked=True)
    ids = list(db.session.scalars(old))
    if ids:
        db.session.execute(delete(MailOutbox).where(MailOutbox.id.in_(ids)))
        transactions.commit()
        logger.error("Guardian emails given up: %d not sent in %d days", len(ids), GIVE_UP_AFTER.days)


def _report_stuck(now: datetime) -> None:
    count, oldest = overdue(now)
    if count and oldest is not None:
        logger.error("Mail outbox stuck: %d emails waiting since %s UTC", count, oldest.strftime("%Y-%m-%d %H:%M"))
    if ahead := pushed_ahead(now):
        logger.error("Mail outbox stuck: %d emails set to wait longer than the service ever schedules", ahead)


@dataclass
class _Sender:
    """One connection to the mail server for a pass, opened at the first email. Once the server cannot be reached,
    the rest of the pass fails with the same error instead of waiting for it again for each email."""

    mail: MailSettings
    smtp: smtplib.SMTP | None = None
    down: str | None = None
    logged: set[str] = field(default_factory=set)

    def send(self, to: str, subject: str, body: str) -> str | None:
        """Sends one email; the error's type name if it was not sent."""
        if self.down is not None:
            return self.down
        try:
            if self.smtp is None:
                self.smtp = _connect(self.mail)
            self.smtp.send_message(_message(self.mail.sender, to, subject, body))
        except _ONE_EMAIL as error:
            return self._failed(error)
        except (smtplib.SMTPException, OSError) as error:
            self.down = self._failed(error)
            self.close()
            return self.down
        return None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def _failed(self, error: BaseException) -> str:
        name = type(error).__name__
        if name not in self.logged:  # once a pass for each kind of failure, not once for each email
            self.logged.add(name)
            # Only the type: an SMTP error's text can echo the recipient's address or the server's reply.
            logger.error("Guardian email not sent: %s", name)
        return name


def _connect(mail: MailSettings) -> smtplib.SMTP:
    if mail.use_ssl:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(mail.server, mail.port, timeout=mail.timeout, context=context)
    else:
        smtp = smtplib.SMTP(mail.server, mail.port, timeout=mail.timeout)
    try:
        if mail.use_starttls and not mail.use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, mail.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # Random, unlike email.utils.make_msgid, which carries the time to the hundredth of a second and the process id.
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{sender.rpartition('@')[2] or 'localhost'}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message
