"""`flask speakup sessions purge` and `send-reminders`: the jobs a timer runs besides retention."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from speakup.domain import staff, submissions
from speakup.platform import clock, form_posts, transactions
from speakup.platform.config import settings
from speakup.platform.models import db

sessions_cli = AppGroup("sessions", help="Signed-in sessions.")


@sessions_cli.command("purge")
def sessions_purge_command() -> None:
    """Delete expired staff sessions and idle reporter sessions, with the sealed keys they hold (run it from a
    timer, for example every 15 minutes; sign-ins do it too), the day-old records of raised concerns, with the
    access codes their confirmations showed, and the records of sent forms older than FORM_HOURS, with the words
    of forms that came back with errors once KEPT_FORM_MINUTES have passed."""
    staff_sessions, reporter_sessions = staff.purge_expired_sessions()
    sent = submissions.purge()
    forms = form_posts.purge()
    transactions.commit()
    click.echo(
        f"Deleted {staff_sessions} expired staff sessions, {reporter_sessions} idle reporter sessions, "
        f"{sent} records of raised concerns and {forms} records of sent forms."
    )


@click.command("send-reminders")
@with_appcontext
def send_reminders_command() -> None:
    """Email each guardian how many of their cases are due soon or overdue (run it daily, e.g. from cron). The
    emails are queued, then sent at once; any that fail stay queued for `flask speakup mail deliver` to retry,
    and the command exits 1 saying how many."""
    from speakup.domain.triage import due_soon_counts
    from speakup.ops import notify, outbox
    from speakup.platform.models import User

    counts = due_soon_counts(clock.uk_today(), settings().reminder_days)
    queued: list[int] = []
    for user_id, count in counts.items():
        user = db.session.get(User, user_id)
        if user is not None:
            queued += notify.deadline_due([user], count)
    done = outbox.deliver(only=queued)
    click.echo(f"Sent {done.sent} reminder emails.")
    if done.failed:
        raise click.ClickException(
            f"{done.failed} reminder emails could not be sent: they stay queued, and flask speakup mail deliver "
            "tries them again"
        )
