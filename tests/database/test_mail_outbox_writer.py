"""The mail outbox against someone who can write to the database (outside review, findings F3 and F9): a row names
what to send and to whom by reference, so the most such a writer can do is send the fixed "something is waiting"
emails to active staff accounts; a row pushed into the future fails /healthz; and `mail deliver` stays failed for
as long as mail is failing, not only on the runs that tried."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from support.factories import gen_staff
from support.mail import MailServer

from speakup.ops import notify, outbox
from speakup.platform import clock, transactions
from speakup.platform.models import MailOutbox, User, db

EVIL = "victim@evil.example"
STAFF = ["gita@example.org", "adam@example.org"]  # active: a guardian and an administrator
NOT_TO = ["gone@example.org", "nobody@example.org"]  # a disabled guardian, an account that is not staff
FIXED_SUBJECT = re.compile(
    r"(?:A new concern has been raised|The person who raised a concern has replied|A case deadline is coming up"
    r"|[0-9]+ case deadlines are coming up|The guardians who can read concerns have changed)"
    r" / [^/]+"  # then in Welsh, offered by default (ops/notify.py): fixed words too, never a writer's
)
DROPPED = ("Guardian email dropped:", "Guardian emails given up:")


@pytest.fixture
def accounts(mail_app: Flask, smtp: MailServer) -> dict[str, int]:
    made = {
        "gita@example.org": gen_staff(mail_app, "gita@example.org", name="Gita").id,
        "adam@example.org": gen_staff(mail_app, "adam@example.org", role="admin", name="Adam").id,
        "gone@example.org": gen_staff(mail_app, "gone@example.org", name="Gone").id,
        "nobody@example.org": gen_staff(mail_app, "nobody@example.org", role="admin", name="Nobody").id,
    }
    with mail_app.app_context():
        db.session.execute(db.update(User).where(User.email == "gone@example.org").values(is_active=False))
        db.session.execute(db.update(User).where(User.email == "nobody@example.org").values(role="reporter"))
        db.session.commit()
        outbox.deliver()  # the roster's own emails
        db.session.execute(db.delete(MailOutbox))
        db.session.commit()
    smtp.received.clear()
    return made


def hostile_values(column_type: type, ids: dict[str, int]) -> list[object]:
    """What a writer might put in a column of this type."""
    if column_type is str:
        return [EVIL, "Reset your password at https://evil.example/", "new_concern\n", "", "x" * 40]
    if column_type is int:
        return [*ids.values(), 999_999, 0, -1, 2**31 - 1]
    if column_type is datetime:
        return [datetime(1970, 1, 1), datetime(2099, 1, 1), clock.utcnow() + timedelta(days=1)]
    return []


def one_queued_row(kind: str) -> None:
    users = list(db.session.scalars(db.select(User).where(User.email == "gita@example.org")))
    with transactions.unit_of_work():
        if kind == "deadlines":
            notify.deadline_due(users, 3)
        else:
            notify.new_concern(users)


@pytest.mark.parametrize("kind", ["new", "deadlines"])
def test_whatever_a_database_writer_puts_in_any_column_of_a_row_only_fixed_texts_go_to_active_staff(
    mail_app: Flask, client: FlaskClient, smtp: MailServer, accounts: dict[str, int], kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """F3: every column of a queued row, set to each value a writer might choose. Afterwards the email was sent with
    a fixed text to an active staff account, or it was dropped and the log says so at ERROR, or /healthz fails."""
    tried = 0
    for column in MailOutbox.__table__.columns:
        for value in [*hostile_values(column.type.python_type, accounts), *([None] if column.nullable else [])]:
            smtp.received.clear()
            caplog.clear()
            with mail_app.app_context():
                one_queued_row(kind)
                try:
                    update = text(f"UPDATE mail_outbox SET {column.name} = :value")  # noqa: S608 (the model's column)
                    db.session.execute(update, {"value": value})
                    db.session.commit()
                except DBAPIError:
                    db.session.rollback()  # the database refuses it: nothing to test
                    db.session.execute(db.delete(MailOutbox))
                    db.session.commit()
                    continue
                tried += 1
                clock.advance(timedelta(minutes=20))  # past any delay the service itself gives
                with caplog.at_level(logging.ERROR):
                    outbox.deliver()
                left = db.session.scalar(db.select(db.func.count()).select_from(MailOutbox))
            where = f"{column.name} = {value!r}"
            for received in smtp.received:
                message = message_from_bytes(received.raw, policy=policy.default)
                assert received.rcpt_tos[0] in STAFF, where
                assert FIXED_SUBJECT.fullmatch(message["Subject"]), where
                body = message.get_content().replace("\r\n", "\n")
                # English, then Welsh: each part ends with the service's own address, nothing of a writer's after it
                assert body.endswith(" Speak Up: https://speakup.example.nhs.uk/guardian/\n"), where
                assert "\n\nSign in to Speak Up: https://speakup.example.nhs.uk/guardian/\n" in body, where
                assert EVIL.encode() not in received.raw and b"evil" not in received.raw, where
            if not smtp.received:
                logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
                if any(line.startswith(DROPPED) for line in logged):
                    assert left == 0, where
                    assert not any(address in caplog.text for address in [*STAFF, *NOT_TO]), where
                else:
                    healthz = client.get("/healthz")
                    assert healthz.status_code == 503 and "outbox" in healthz.get_json()["failed"], where
            with mail_app.app_context():
                db.session.execute(db.delete(MailOutbox))
                db.session.commit()
    assert tried > 20


@pytest.mark.parametrize("who", ["gone@example.org", "nobody@example.org", "missing"])
def test_a_row_for_an_account_that_is_missing_disabled_or_not_staff_is_dropped_at_error(
    mail_app: Flask, smtp: MailServer, accounts: dict[str, int], who: str, caplog: pytest.LogCaptureFixture
) -> None:
    with mail_app.app_context():
        one_queued_row("new")
        db.session.execute(db.update(MailOutbox).values(user_id=accounts.get(who, 999_999)))
        db.session.commit()
        clock.advance(timedelta(minutes=20))
        with caplog.at_level(logging.ERROR, logger="speakup.ops.outbox"):
            done = outbox.deliver()
        assert (done.sent, done.failed, done.dropped) == (0, 0, 1)
        assert db.session.scalar(db.select(db.func.count()).select_from(MailOutbox)) == 0
    assert smtp.received == []
    lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert [line.split(":")[0] for line in lines] == ["Guardian email dropped"]
    assert "not an active staff account" in lines[0]
    assert not any(address in caplog.text for address in [*STAFF, *NOT_TO])


def test_a_row_of_an_unknown_kind_is_dropped_at_error_and_the_run_fails(
    mail_app: Flask, smtp: MailServer, accounts: dict[str, int], runner, caplog: pytest.LogCaptureFixture
) -> None:
    with mail_app.app_context():
        one_queued_row("new")
        db.session.execute(db.update(MailOutbox).values(kind="password_reset"))
        db.session.commit()
    clock.advance(timedelta(minutes=20))
    with caplog.at_level(logging.ERROR, logger="speakup.ops.outbox"):
        result = runner.invoke(args=["speakup", "mail", "deliver"])
    assert result.exit_code == 1 and "1 emails were dropped" in result.output
    assert smtp.received == []
    assert [r.getMessage() for r in caplog.records] == ["Guardian email dropped: a row of an unknown kind"]


def test_the_longest_delay_and_back_off_the_service_gives_keep_healthz_green_and_a_row_pushed_further_does_not(
    mail_app: Flask, client: FlaskClient, smtp: MailServer, accounts: dict[str, int]
) -> None:
    """F3: a row pushed to 2099 was never sent and never noticed."""
    mail_app.config["MAIL_DELAY_SECONDS"] = "600-900"
    with mail_app.app_context():
        one_queued_row("new")
    assert client.get("/healthz").status_code == 200
    smtp.stop()
    clock.advance(timedelta(minutes=15, seconds=1))
    with mail_app.app_context():
        for _ in range(12):  # the back-off at its longest: an hour ahead
            outbox.deliver()
            row = db.session.scalars(db.select(MailOutbox)).one()
            clock.freeze(row.next_attempt_at)
        assert row.next_attempt_at - clock.utcnow() <= outbox.LONGEST_RETRY
        assert outbox.pushed_ahead(clock.utcnow()) == 0
    assert client.get("/healthz").get_json()["failed"].keys() <= {"outbox"}  # overdue by now, but not pushed ahead
    for column in ("send_after", "next_attempt_at", "created_at"):
        with mail_app.app_context():
            db.session.execute(db.delete(MailOutbox))
            one_queued_row("new")
            db.session.execute(db.update(MailOutbox).values({column: datetime(2099, 1, 1)}))
            db.session.commit()
            assert outbox.pushed_ahead(clock.utcnow()) == 1, column
        healthz = client.get("/healthz")
        assert healthz.status_code == 503 and "outbox" in healthz.get_json()["failed"], column


def test_a_huge_attempts_count_does_not_break_the_back_off(
    mail_app: Flask, smtp: MailServer, accounts: dict[str, int]
) -> None:
    with mail_app.app_context():
        one_queued_row("new")
        db.session.execute(db.update(MailOutbox).values(attempts=2**31 - 2))
        db.session.commit()
        smtp.stop()
        clock.advance(timedelta(minutes=20))
        assert outbox.deliver().failed == 1
        row = db.session.scalars(db.select(MailOutbox)).one()
        wait = row.next_attempt_at - clock.utcnow()
        assert outbox.LONGEST_RETRY - timedelta(seconds=5) < wait <= outbox.LONGEST_RETRY


def test_mail_deliver_stays_failed_through_an_outage_not_only_on_the_runs_that_tried(
    mail_app: Flask, smtp: MailServer, accounts: dict[str, int], runner
) -> None:
    """F9: between retries nothing is due, and the run used to exit 0, so `systemctl --failed` flipped on and off."""
    with mail_app.app_context():
        one_queued_row("new")
    smtp.stop()
    clock.advance(timedelta(minutes=20))
    codes = []
    for _ in range(8):  # every minute, for eight minutes: tried at 0, 1, 3 and 7
        codes.append(runner.invoke(args=["speakup", "mail", "deliver"]).exit_code)
        clock.advance(timedelta(minutes=1, seconds=1))
    assert codes == [1] * 8
    assert "still waiting after a failed attempt" in runner.invoke(args=["speakup", "mail", "deliver"]).output
    smtp.start()
    clock.advance(timedelta(hours=1))
    up = runner.invoke(args=["speakup", "mail", "deliver"])
    assert up.exit_code == 0 and up.output.strip() == "Sent 1 emails."
    assert runner.invoke(args=["speakup", "mail", "deliver"]).exit_code == 0


def test_emails_waiting_when_the_schema_goes_down_and_up_again_are_kept(
    mail_app: Flask, smtp: MailServer, accounts: dict[str, int]
) -> None:
    """The migration that made rows name a kind and an account (its number may change at a merge: found by name)."""
    from pathlib import Path

    from flask_migrate import downgrade, upgrade

    from speakup.platform.migrations import enable_migrations, newest_revision

    versions = Path(__file__).parents[2] / "speakup" / "migrations" / "versions"
    (source,) = versions.glob("*_mail_outbox_by_reference.py")
    before = re.search(r"^down_revision = '([0-9]+)'", source.read_text(), re.MULTILINE)
    assert before is not None
    with mail_app.app_context():
        one_queued_row("new")
        one_queued_row("deadlines")
        kept = [(r.kind, r.user_id, r.deadlines) for r in db.session.scalars(db.select(MailOutbox).order_by("id"))]
        enable_migrations(mail_app)
        db.session.remove()
        downgrade(revision=before.group(1))
        old = db.session.execute(text("SELECT recipient, subject, body FROM mail_outbox ORDER BY id")).all()
        db.session.remove()
        upgrade(revision=newest_revision())
        again = [(r.kind, r.user_id, r.deadlines) for r in db.session.scalars(db.select(MailOutbox).order_by("id"))]
        clock.advance(timedelta(minutes=20))
        assert outbox.deliver().sent == 2
    link = "\n\nSign in to Speak Up: https://speakup.example.nhs.uk/guardian/\n"
    assert [tuple(row) for row in old] == [
        ("gita@example.org", "A new concern has been raised", "A new concern is waiting for you in Speak Up." + link),
        ("gita@example.org", "3 case deadlines are coming up", "3 case deadlines in Speak Up are coming up." + link),
    ]
    assert again == kept == [("new_concern", accounts["gita@example.org"], None), ("deadline_due", kept[0][1], 3)]
