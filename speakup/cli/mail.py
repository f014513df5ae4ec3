"""`flask speakup mail deliver`: sends the guardians' emails waiting in the mail outbox (run it from a timer)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from speakup.ops import outbox

mail_cli = AppGroup("mail", help="Guardians' emails.")


@mail_cli.command("deliver")
def deliver_command() -> None:
    """Send every guardian email that is due (run it from a timer, every minute). An email that fails is tried
    again by a later run, each wait twice the last, up to an hour. Exits 1 when any email due could not be sent."""
    done = outbox.deliver()
    click.echo(f"Sent {done.sent} emails.")
    if done.failed:
        raise click.ClickException(
            f"{done.failed} emails could not be sent: they stay queued and are tried again later (see the log)"
        )
