"""`flask speakup purge [--dry-run]`: crypto-shred closed cases past the retention period (see retention.py)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from speakup.domain import retention
from speakup.platform import clock


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="List the cases that would be purged, and change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Crypto-shred closed cases older than RETENTION_DAYS: their keys, text, messages, notes and files are
    deleted for good; the counted fields stay for past quarters' returns. Audited. Run it daily, e.g. from cron."""
    now = clock.utcnow()
    try:
        candidates = retention.purge_candidates(now)
        result = retention.purge(candidates, dry_run=dry_run, now=now)
    except (ValueError, retention.PurgeConflict) as exc:
        raise click.ClickException(f"{exc}; nothing was purged.") from None
    days = retention.retention_days()
    if dry_run:
        if not result.count:
            click.echo(f"Dry run: no closed case is older than {days} days. Nothing would be purged.")
            return
        click.echo(f"Dry run: {result.count} cases closed more than {days} days ago would be purged:")
    for purged in result.cases:
        click.echo(f"  {purged.reference}  closed {clock.uk_date(purged.closed_at).isoformat()}")
    if dry_run:
        click.echo("Nothing was changed.")
        return
    click.echo(f"Purged {result.count} cases closed more than {days} days ago.")
    if result.wal_truncated is False:
        click.echo("Warning: a busy reader kept the SQLite WAL from being truncated; the next checkpoint will do it.")
