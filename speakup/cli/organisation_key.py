"""`flask speakup rotate-organisation-key`: a new organisation signing key, the roster's root of trust."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import with_appcontext

from speakup.cli.audit import append_restore_line, trail_problem
from speakup.cli.roster import KEY_FILE, read_organisation_secrets, write_key_file
from speakup.crypto import signing
from speakup.keys import organisation_key, recovery, roster
from speakup.keys.recovery import OrganisationSecrets
from speakup.ops import audit
from speakup.platform import transactions


def rotation_options(command: Callable[..., None]) -> Callable[..., None]:
    """The three files a rotation of the key file needs: the current one, where the new one goes, and the audit
    anchor file it checks and signs into (both rotations take them)."""
    for option in reversed(
        (
            click.option(
                "--recovery-key-file", type=KEY_FILE, required=True, help="The installation's current key file."
            ),
            click.option(
                "--new-recovery-key-file",
                type=click.Path(dir_okay=False, path_type=Path),
                required=True,
                help="Where to write the new key file (mode 0600; never over a file). Move it offline.",
            ),
            click.option(
                "--audit-anchor-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=True,
                help="The anchor file `audit anchor` writes to (the timer's: /var/lib/speakup/audit-anchors).",
            ),
        )
    ):
        command = option(command)
    return command


def rotation_start(
    recovery_key_file: Path, new_recovery_key_file: Path, audit_anchor_file: Path
) -> OrganisationSecrets:
    """What both rotations check before changing anything: no file where the new one goes, a current key file with
    its signing key, and an audit trail that verifies against its anchors. Returns the current file's keys."""
    if new_recovery_key_file.exists():
        raise click.ClickException(f"{new_recovery_key_file} already exists; refusing to overwrite a key file.")
    old = read_organisation_secrets(recovery_key_file)
    if old.signing_key is None:
        raise click.ClickException("That key file has no organisation signing key; nothing changed.")
    problem = trail_problem(audit_anchor_file)
    if problem:
        raise click.ClickException(f"The audit trail does not verify ({problem}): nothing changed.")
    return old


@click.command("rotate-organisation-key")
@rotation_options
@with_appcontext
def rotate_organisation_key_command(
    recovery_key_file: Path, new_recovery_key_file: Path, audit_anchor_file: Path
) -> None:
    """A new organisation signing key in place of the current one (when the key file may have been seen, or by
    policy): the old key hands the roster over to it and it signs a checkpoint of the roster as it stands. The new
    key file holds the same recovery key. Then change SPEAKUP_ROSTER_ROOT, restart, and destroy the old file."""
    old = rotation_start(recovery_key_file, new_recovery_key_file, audit_anchor_file)
    try:
        new_signing_key = organisation_key.rotate_organisation_key(old)
    except recovery.RosterNotVerified:
        raise click.ClickException("The roster has an alarm: end it first (speakup roster accept).") from None
    new_public = signing.signing_public_key_of(new_signing_key)
    fingerprint = signing.roster_fingerprint(new_public)
    audit.record(audit.Action.ORGANISATION_KEY_ROTATED, audit.Actor.SYSTEM)
    # Written before the commit: if it cannot be, nothing changes and the old file is still the organisation's.
    write_key_file(new_recovery_key_file, recovery.encode_recovery_file(old.recovery_key, new_signing_key))
    transactions.commit()
    after_rotation(new_public, new_signing_key, audit_anchor_file)
    click.echo(f"New organisation key written to {new_recovery_key_file} (mode 0600), with the same recovery key.")
    click.echo("Now: set this in /etc/speakup/speakup.env on every server, and restart each one:")
    click.echo(f"SPEAKUP_ROSTER_ROOT={fingerprint}")
    click.echo("Until then each server follows the hand-over and logs \"Roster root handed over\". Store the new file "
               "offline, then destroy the old one: it is refused from now on.")  # fmt: skip


def after_rotation(new_public: bytes, new_signing_key: bytes, audit_anchor_file: Path) -> None:
    """This server anchors the log for the new root, and the audit anchor file gets a restore line the new key
    signed (restore lines the old key signed no longer verify), so `speakup-verify` stays green."""
    why = organisation_key.anchor_new_root(new_public)
    if why:
        click.echo(f"Warning: the roster log could not be anchored for the new key ({why}); run `speakup roster "
                   "verify` after the restart.")  # fmt: skip
    roster.verify_roster()  # moves the anchor of the root pinned now, too
    line = append_restore_line(audit_anchor_file, new_signing_key)
    if line is None:
        click.echo("Warning: no restore line was written to the audit anchor file; run `speakup audit accept-restore` "
                   "with the new file.")  # fmt: skip
    else:
        click.echo(f"Audit anchor file: {line}")
