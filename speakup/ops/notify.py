"""Email to guardians that something is waiting in Speak Up, and nothing more.

No case content is ever emailed: no reference, concern or message text, reporter name or access code. Email
passes through mail servers and inboxes outside the service's encryption, is often forwarded, read on shared
ward computers or kept for years, and even a reference or a subject line can identify a reporter. So every
email only says that something is waiting and links to the sign-in page; the functions here do not even take
any case data. Each guardian gets their own email, so no one sees who else was told.

Sending is best effort: with MAIL_SERVER unset nothing is sent, and a mail server that is down or refuses
never breaks the caller (a warning naming only the error's type is logged).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from speakup.platform.config import MailSettings, settings
from speakup.platform.public_urls import public_url

logger = logging.getLogger(__name__)


class Addressee(Protocol):
    """Whom an email goes to: an account, or a member of the verified roster (speakup/keys/roster.py)."""

    @property
    def email(self) -> str: ...
    @property
    def is_active(self) -> bool: ...


def new_concern(recipients: Iterable[Addressee]) -> int:
    """Tells guardians a new concern is waiting. Returns how many emails were sent."""
    return _send(recipients, "A new concern has been raised", "A new concern is waiting for you in Speak Up.")


def reporter_replied(recipients: Iterable[Addressee]) -> int:
    """Tells guardians the reporter has replied on a case. Returns how many emails were sent."""
    return _send(
        recipients,
        "The person who raised a concern has replied",
        "The person who raised a concern has replied. Their reply is waiting for you in Speak Up.",
    )


def deadline_due(recipients: Iterable[Addressee], count: int) -> int:
    """Tells guardians that ``count`` case deadlines are coming up. Returns how many emails were sent."""
    if count < 1:
        return 0
    if count == 1:
        subject, text = "A case deadline is coming up", "A case deadline in Speak Up is coming up."
    else:
        subject, text = f"{count} case deadlines are coming up", f"{count} case deadlines in Speak Up are coming up."
    return _send(recipients, subject, text)


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
    """Sends now, or (MAIL_IN_BACKGROUND) after the request from a thread, so a slow mail server
    never keeps a reporter waiting. Returns how many emails were sent, or queued."""
    mail = settings().mail
    if not mail.server:
        return 0  # before reading the recipients: after a commit each would be loaded again, for nothing
    addresses = [user.email for user in recipients if user.is_active]
    if not addresses:
        return 0
    link = public_url("/guardian/")
    body = f"{text}\n\nSign in to Speak Up: {link}\n"
    if mail.in_background:
        threading.Thread(target=_deliver, args=(mail, addresses, subject, body), daemon=True).start()
        return len(addresses)
    return _deliver(mail, addresses, subject, body)


def _deliver(mail: MailSettings, addresses: list[str], subject: str, body: str) -> int:
    sent = 0
    try:
        with _connect(mail) as smtp:
            for address in addresses:
                try:
                    smtp.send_message(_message(mail.sender, address, subject, body))
                    sent += 1
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError, ValueError) as error:
                    # One refused or malformed address must not stop the other guardians' emails.
                    _warn(error)
    except (smtplib.SMTPException, OSError) as error:
        _warn(error)
    return sent


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
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _warn(error: BaseException) -> None:
    # Only the type: an SMTP error's text can echo the recipient's address or the server's reply.
    logger.warning("Guardian email not sent: %s", type(error).__name__)
