"""`flask speakup mail deliver`: sends the guardians' emails waiting in the mail outbox (run it from a timer)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from speakup.ops import outbox

mail_cli = AppGroup("mail", help="Guardians' emails.")


@mail_cli.command("deliver")
def deliver_command() -> None:
    """Send every guardian email that is due (run it from a timer, every minute). An email that fails is tried
    again by a later run, each wait twice the last, up to an hour. Exits 1 while mail is failing: when any email
    due could not be sent, and on the runs between retries while an email that failed still waits, so a timer
    unit stays failed through an outage. Exits 1 too when it dropped a row the service did not write."""
    done = outbox.deliver()
    click.echo(f"Sent {done.sent} emails.")
    problems = []
    if done.dropped:
        problems.append(f"{done.dropped} emails were dropped as not the service's own")
    if done.failed:
        problems.append(f"{done.failed} emails could not be sent: they stay queued and are tried again later")
    elif waiting := outbox.failing():
        problems.append(f"{waiting} emails are still waiting after a failed attempt: they are tried again later")
    if problems:
        raise click.ClickException("; ".join(problems) + " (see the log)")
