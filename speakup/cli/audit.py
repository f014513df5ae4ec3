"""`flask speakup audit verify|anchor`: the hash-chained audit log and its anchors kept elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from speakup.ops import audit
from speakup.platform import clock, private_files

audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An anchor file written by `audit anchor`: the chain must still reach every head it holds.",
)
def audit_verify_command(anchor_file: Path | None) -> None:
    """Check the audit chain: exit 0 when intact, 1 at the first edited, deleted or reordered event, or (with
    --anchor) when newest events were deleted past an anchored head."""
    anchors = []
    if anchor_file is not None:
        try:
            anchors = audit.parse_anchors(anchor_file.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{anchor_file}: {exc}") from None
    result = audit.check_chain()
    if result.broken is not None:
        click.echo(f"Audit chain broken at event {result.broken.event_id}: {result.broken.reason}")
        sys.exit(1)
    missed = audit.unreached_anchors(anchors)
    for anchor in missed:
        click.echo(
            f"Audit chain no longer reaches anchored event {anchor.event_id} ({anchor.hash[:16]}...): "
            "events were deleted from its end, or rewritten"
        )
    if missed:
        sys.exit(1)
    click.echo(f"Audit chain intact: {result.events} events" + (f", {len(anchors)} anchors reached" if anchors else ""))
    if result.last_id is not None:
        click.echo(f"Latest event {result.last_id}, hash {result.last_hash}")


@audit_cli.command("anchor")
@click.option(
    "--file",
    "anchor_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the line to this file (created 0600); keep it, or copies of it, away from the database.",
)
def audit_anchor_command(anchor_file: Path | None) -> None:
    """Print the verified chain's head as one line (`event <id> <hash> <time>`), and append it to --file. Run it from
    a timer; `audit verify --anchor FILE` then notices the newest events being deleted."""
    result = audit.check_chain()
    if result.broken is not None:
        click.echo(f"Audit chain broken at event {result.broken.event_id}: {result.broken.reason}; nothing anchored")
        sys.exit(1)
    if result.last_id is None:
        raise click.ClickException("The audit log is empty: nothing to anchor yet.")
    line = audit.anchor_line(result, clock.utcnow())
    if anchor_file is not None:
        private_files.append(anchor_file, line + "\n")
    click.echo(line)


# --- Recovery and reminders --------------------------------------------------------------------
