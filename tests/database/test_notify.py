"""Guardian email: what speakup.ops.notify queues, a real SMTP server (aiosmtpd) receives once the outbox worker
(speakup/ops/outbox.py) sends it; the fixtures are tests/database/conftest.py's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email import message_from_bytes, policy

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_concern, gen_staff
from support.mail import REFUSED, MailServer, free_port
from support.present import get_row, present

from speakup.domain import staff
from speakup.ops import notify, outbox
from speakup.platform import transactions
from speakup.platform.models import MailOutbox, User, db

MARKER = "Zebra-7741 the drug cupboard was left open"


@pytest.fixture
def guardians(app: Flask) -> list[str]:
    """Two active guardians and one disabled one; returns the active addresses."""
    gen_staff(app, "gita@example.org", name="Gita Guardian")
    gen_staff(app, "adam@example.org", role="admin", name="Adam Admin")
    disabled = gen_staff(app, "gone@example.org", name="Gone Guardian")
    with app.app_context():
        get_row(User, disabled.id).is_active = False
        db.session.commit()
    return ["gita@example.org", "adam@example.org"]


def all_users() -> list[User]:
    return list(db.session.scalars(db.select(User).order_by(User.id)))


CASES: list[tuple[Callable[[list[User]], int], str, str]] = [
    (notify.new_concern, "A new concern has been raised", "A new concern is waiting"),
    (notify.reporter_replied, "The person who raised a concern has replied", "has replied"),
    (lambda users: len(notify.deadline_due(users, 1)), "A case deadline is coming up", "A case deadline"),
    (lambda users: len(notify.deadline_due(users, 3)), "3 case deadlines are coming up", "3 case deadlines"),
]


def queued() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(MailOutbox)) or 0


@pytest.mark.parametrize(("send", "subject", "phrase"), CASES, ids=["new", "replied", "deadline", "deadlines"])
def test_one_email_per_active_guardian_with_no_case_content(
    mail_app: Flask, client: FlaskClient, smtp: MailServer, guardians: list[str], send, subject: str, phrase: str
) -> None:
    raised = gen_concern(client, what_happened=MARKER)
    secrets = [MARKER, "Zebra-7741", raised["reference"], raised["access_code"]]
    with mail_app.app_context():
        assert outbox.deliver().failed == 0  # the raise's own emails, queued with it
    for received in smtp.received:
        for secret in secrets:
            assert secret.encode() not in received.raw
    already = len(smtp.received)

    with mail_app.app_context():
        assert send(all_users()) == 2
        assert smtp.received[already:] == []  # queued, not sent
        assert outbox.deliver() == outbox.Delivery(sent=2, failed=0)
        assert queued() == 0  # a sent email leaves no row

    sent = smtp.received[already:]
    assert sorted(r.rcpt_tos[0] for r in sent) == sorted(guardians)
    for received in sent:
        assert len(received.rcpt_tos) == 1
        assert received.mail_from == "speak-up@trust.example.org"
        message = message_from_bytes(received.raw, policy=policy.default)
        assert message["To"] == received.rcpt_tos[0]  # no shared To: list
        assert message["Cc"] is None and message["Bcc"] is None
        # English, then Welsh (offered by default: the emails are in both, ops/notify.py)
        english, welsh = message["Subject"].split(" / ")
        assert english == subject and welsh and welsh != english
        body = message.get_content()
        assert phrase in body
        assert "https://speakup.example.nhs.uk/guardian/" in body
        for secret in secrets:
            assert secret.encode() not in received.raw
        for name in (b"Gita", b"Adam", b"gone@example.org"):
            assert name not in received.raw


def test_disabled_guardians_get_nothing(mail_app: Flask, smtp: MailServer, guardians: list[str]) -> None:
    with mail_app.app_context():
        disabled = [user for user in all_users() if not user.is_active]
        assert len(disabled) == 1
        assert notify.new_concern(disabled) == 0
        assert notify.deadline_due(disabled, 2) == []
        assert queued() == 0
        outbox.deliver()
    assert smtp.received == []


def test_nothing_to_say_sends_nothing(mail_app: Flask, smtp: MailServer, guardians: list[str]) -> None:
    with mail_app.app_context():
        assert notify.new_concern([]) == 0
        assert notify.deadline_due(all_users(), 0) == []
        assert queued() == 0
    assert smtp.received == []


def test_without_mail_server_nothing_is_queued(mail_app: Flask, smtp: MailServer, guardians: list[str]) -> None:
    mail_app.config["MAIL_SERVER"] = None
    with mail_app.app_context():
        users = all_users()
        assert notify.new_concern(users) == 0
        assert notify.reporter_replied(users) == 0
        assert notify.deadline_due(users, 1) == []
        assert queued() == 0
    assert smtp.received == []


@pytest.mark.parametrize("send", [case[0] for case in CASES], ids=["new", "replied", "deadline", "deadlines"])
def test_an_unreachable_server_never_breaks_the_caller_and_loses_nothing(
    app: Flask, guardians: list[str], send, caplog: pytest.LogCaptureFixture
) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_USE_STARTTLS=False, MAIL_TIMEOUT=2)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="speakup.ops.outbox"):
        assert send(all_users()) == 2
        assert outbox.deliver() == outbox.Delivery(sent=0, failed=2)
        rows = db.session.scalars(db.select(MailOutbox)).all()
        assert [(row.attempts, row.last_error) for row in rows] == [(1, "ConnectionRefusedError")] * 2
    records = [r for r in caplog.records if r.name == "speakup.ops.outbox"]
    # Once a pass for the failure, at ERROR, naming only its type.
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("ERROR", "Guardian email not sent: ConnectionRefusedError")
    ]
    for address in [*guardians, "gone@example.org", "127.0.0.1", str(app.config["MAIL_PORT"])]:
        assert address not in caplog.text


def test_a_refused_address_does_not_stop_the_others(
    mail_app: Flask, smtp: MailServer, guardians: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    gen_staff(mail_app, REFUSED, name="Rita Refused")
    with mail_app.app_context(), caplog.at_level(logging.WARNING, logger="speakup.ops.outbox"):
        users = sorted(all_users(), key=lambda user: user.email != REFUSED)  # the refused one first
        assert notify.reporter_replied(users) == 3
        assert outbox.deliver() == outbox.Delivery(sent=2, failed=1)
        left = db.session.scalars(db.select(MailOutbox)).all()
        assert [(get_row(User, row.user_id).email, row.attempts, row.last_error) for row in left] == [
            (REFUSED, 1, "SMTPRecipientsRefused")
        ]
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(guardians)
    assert "Guardian email not sent: SMTPRecipientsRefused" in caplog.text
    assert REFUSED not in caplog.text


def test_send_reminders_tells_each_guardian_how_many_cases_fall_due(
    mail_app: Flask, client: FlaskClient, smtp: MailServer, runner
) -> None:
    """The daily `flask speakup send-reminders`: a count per guardian, and nothing about the cases."""
    from datetime import timedelta

    from speakup.platform import clock
    from speakup.platform.models import Case

    mail_app.config["MAIL_DELAY_SECONDS"] = "600-900"  # the raises' emails wait; the reminders go at once
    gen_staff(mail_app, "gita@example.org", name="Gita Guardian")
    raised = [gen_concern(client, what_happened=f"{MARKER} {n}") for n in range(3)]
    with mail_app.app_context():
        cases = db.session.scalars(db.select(Case).order_by(Case.id)).all()
        cases[0].next_due = clock.utcnow().date() - timedelta(days=1)  # overdue
        cases[1].next_due = clock.utcnow().date() + timedelta(days=1)  # due soon
        cases[2].next_due = clock.utcnow().date() + timedelta(days=30)  # not yet
        db.session.commit()
    result = runner.invoke(args=["speakup", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 reminder emails." in result.output
    sent = smtp.received
    assert [r.rcpt_tos for r in sent] == [["gita@example.org"]]
    message = message_from_bytes(sent[0].raw, policy=policy.default)
    assert message["Subject"].split(" / ")[0] == "2 case deadlines are coming up"
    for concern in raised:
        assert concern["reference"].encode() not in sent[0].raw
    assert MARKER.encode() not in sent[0].raw


def test_every_approved_guardian_is_emailed_when_the_roster_changes(mail_app: Flask, smtp: MailServer) -> None:
    """Added, approved, reset, disabled: each approved guardian hears of it, with no name in the email."""
    gen_staff(mail_app, "gita@example.org", name="Gita Guardian")
    gen_staff(mail_app, "bea@example.org", name="Bea Guardian")
    gen_staff(mail_app, "pat@example.org", name="Pat Pending", approved=False)
    with mail_app.app_context():
        admin = get_row(User, gen_staff(mail_app, "adam@example.org", role="admin", name="Adam Admin").id)
        outbox.deliver()
        already = len(smtp.received)
        with transactions.unit_of_work():  # each change is a request of its own, emailed once committed
            link = staff.invite_user("nia@example.org", "Nia New", "guardian", admin)
        with transactions.unit_of_work():
            staff.set_active(get_row(User, link.user.id), False, admin)
        with transactions.unit_of_work():
            staff.reset_account(present(staff.find_user("bea@example.org"), "Bea"), admin)
        assert outbox.deliver().sent == 5
    sent = smtp.received[already:]
    # Three changes; Gita was approved throughout, Bea until her reset; Pat, the newcomer and Adam never.
    assert sorted(r.rcpt_tos[0] for r in sent) == ["bea@example.org", "bea@example.org", "gita@example.org",
                                                   "gita@example.org", "gita@example.org"]  # fmt: skip
    for received in sent:
        message = message_from_bytes(received.raw, policy=policy.default)
        assert message["Subject"].split(" / ")[0] == "The guardians who can read concerns have changed"
        for name in (b"Nia", b"nia@example.org", b"Bea", b"Adam"):
            assert name not in received.raw
