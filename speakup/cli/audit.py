"""`flask speakup audit verify|anchor|accept-restore`: the hash-chained audit log and its anchors kept elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from speakup.cli.roster import KEY_FILE, read_organisation_secrets
from speakup.crypto import signing
from speakup.keys import roster
from speakup.ops import audit, audit_anchors
from speakup.ops.audit_anchors import Restore
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
    anchors: list[audit_anchors.Anchor] = []
    if anchor_file is not None:
        try:
            entries = audit_anchors.parse_anchors(anchor_file.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{anchor_file}: {exc}") from None
        signed = _signed(entries)
        for entry in entries:
            if isinstance(entry, Restore) and entry not in signed:
                click.echo(f"Restore line for event {entry.head.event_id} is not signed by the organisation key")
        anchors = audit_anchors.anchors_in_force(entries, signed)
    result = audit.check_chain()
    if result.broken is not None:
        click.echo(f"Audit chain broken at event {result.broken.event_id}: {result.broken.reason}")
        if result.broken.reason == audit.EDITED:
            # What a tampered row and a wrong pepper look like alike: the operator's first check is the cheaper one.
            click.echo(
                "If SPEAKUP_TOKEN_PEPPER or SPEAKUP_TOKEN_PEPPER_FALLBACKS differ from the service's environment file "
                "(after `speakup rotate-pepper`, say), run this again with that file's values first."
            )
        sys.exit(1)
    missed = audit_anchors.unreached_anchors(anchors)
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
    line = audit_anchors.anchor_line(result, clock.utcnow())
    if anchor_file is not None:
        private_files.append(anchor_file, line + "\n")
    click.echo(line)


def _signed(entries: list[audit_anchors.Anchor | Restore]) -> set[Restore]:
    restores = [entry for entry in entries if isinstance(entry, Restore)]
    root = roster.trusted_root_key() if restores else None
    if root is None:
        return set()
    context = audit_anchors.RESTORE_CONTEXT
    return {r for r in restores if signing.verify_signature(root, context, r.statement(), r.signature)}


def trail_problem(anchor_file: Path) -> str | None:
    """Why the audit trail does not verify against the anchors (and signed restore lines) in ``anchor_file``, or
    None when it does: what `audit verify --anchor` checks, in one sentence."""
    try:
        entries = audit_anchors.parse_anchors(anchor_file.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{anchor_file}: {exc}"
    result = audit.check_chain()
    if result.broken is not None:
        return f"the audit chain is broken at event {result.broken.event_id}: {result.broken.reason}"
    missed = audit_anchors.unreached_anchors(audit_anchors.anchors_in_force(entries, _signed(entries)))
    if missed:
        return f"the audit chain no longer reaches anchored event {missed[0].event_id}"
    return None


def append_restore_line(anchor_file: Path, signing_key: bytes) -> str | None:
    """Appends a restore line naming the chain's head now, signed with ``signing_key``; the line, or None when the
    chain is empty or broken (nothing to name)."""
    result = audit.check_chain()
    if result.broken is not None or result.last_id is None or result.last_hash is None:
        return None
    when = audit_anchors.timestamp(clock.utcnow())
    statement = audit_anchors.restore_statement(result.last_id, result.last_hash, when)
    line = audit_anchors.restore_line(result, when, signing.sign(signing_key, audit_anchors.RESTORE_CONTEXT, statement))
    private_files.append(anchor_file, line + "\n")
    return line


@audit_cli.command("accept-restore")
@click.option(
    "--file",
    "anchor_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The anchor file `audit anchor` writes to (the timer's: /var/lib/speakup/audit-anchors).",
)
@click.option("--recovery-key-file", type=KEY_FILE, required=True, help="The offline key file (organisation key).")
def audit_accept_restore_command(anchor_file: Path, recovery_key_file: Path) -> None:
    """After restoring a backup: the anchors written since the backup are no longer reached, and would fail `audit
    verify` every day. Appends a line, signed with the organisation key, naming the restored chain's head: it
    retires the anchors before it. Only for a restore you made (docs/deploy.md, section 11)."""
    secrets = read_organisation_secrets(recovery_key_file)
    if secrets.signing_key is None:
        raise click.ClickException("That key file has no organisation signing key; nothing changed.")
    if roster.trusted_root_key() != signing.signing_public_key_of(secrets.signing_key):
        raise click.ClickException("That key file's organisation key is not this installation's; nothing changed.")
    result = audit.check_chain()
    if result.broken is not None:
        click.echo(f"Audit chain broken at event {result.broken.event_id}: {result.broken.reason}; nothing accepted")
        sys.exit(1)
    if result.last_id is None or result.last_hash is None:
        raise click.ClickException("The audit log is empty: nothing to accept.")
    when = audit_anchors.timestamp(clock.utcnow())
    statement = audit_anchors.restore_statement(result.last_id, result.last_hash, when)
    signature = signing.sign(secrets.signing_key, audit_anchors.RESTORE_CONTEXT, statement)
    line = audit_anchors.restore_line(result, when, signature)
    private_files.append(anchor_file, line + "\n")
    audit.record(audit.Action.AUDIT_RESTORE_ACCEPTED, audit.Actor.SYSTEM, count=result.last_id)
    click.echo(line)


# --- Recovery and reminders --------------------------------------------------------------------
