"""`flask speakup recover`, `rotate-recovery-key` and `exclusions seal`: what the offline recovery key is for."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from speakup.cli.organisation_key import after_rotation, rotation_options, rotation_start
from speakup.cli.roster import read_organisation_secrets, write_key_file
from speakup.crypto import signing
from speakup.domain import staff
from speakup.keys import grants, organisation_key, recovery, roster
from speakup.ops import audit
from speakup.platform import transactions
from speakup.platform.models import Role


@click.command("recover")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--to", "email", required=True, help="The guardian who receives every case.")
@with_appcontext
def recover_command(recovery_key_file: Path, email: str) -> None:
    """Grant a guardian every case through the offline recovery key (for example after every guardian
    lost their password). Cases whose reporter excluded that guardian are left out."""
    private_key = read_organisation_secrets(recovery_key_file).recovery_key  # a retired file is refused first
    user = staff.find_user(email)
    if user is None or user.role != Role.GUARDIAN or not user.is_active:
        raise click.ClickException(f"{email} is not an active guardian's account; nothing changed.")
    verified = roster.current_roster()
    member = verified.member(user.id)
    if member is None:
        why = verified.problem or "they are waiting for approval, or their approval does not verify"
        raise click.ClickException(f"{email} is not on the verified roster ({why}); nothing changed.")
    result = grants.share_cases(
        recovery.recovery_case_ids(), lambda case: recovery.recovery_case_key(case, private_key), member
    )
    audit.record(audit.Action.RECOVERY, audit.Actor.SYSTEM, guardian_id=user.id, count=result.shared)
    transactions.commit()
    click.echo(
        f"{user.email} can now open {result.shared} more cases "
        f"({result.already_held} already held, {result.excluded} left out because the reporter excluded them)."
    )
    if result.unknown:
        click.echo(
            f"{result.unknown} cases were left out because their record of excluded guardians is missing: "
            "someone removed it from the database. Nothing of theirs was shared."
        )


@click.command("rotate-recovery-key")
@rotation_options
@with_appcontext
def rotate_recovery_key_command(recovery_key_file: Path, new_recovery_key_file: Path, audit_anchor_file: Path) -> None:
    """A new key file in place of the current one (yearly, or when the old file may have been seen): a new recovery
    key, every case re-wrapped for it, and a new organisation signing key the old one hands the roster over to. Both
    keys of the old file are retired. Then change SPEAKUP_ROSTER_ROOT, restart, and destroy the old file."""
    old = rotation_start(recovery_key_file, new_recovery_key_file, audit_anchor_file)
    try:
        new_private, new_signing_key, count = organisation_key.rotate_both_keys(old)
    except recovery.RosterNotVerified:
        raise click.ClickException("The roster has an alarm: end it first (speakup roster accept).") from None
    audit.record(audit.Action.RECOVERY_KEY_ROTATED, audit.Actor.SYSTEM, count=count)
    audit.record(audit.Action.ORGANISATION_KEY_ROTATED, audit.Actor.SYSTEM)
    # Written before the commit: if it cannot be, nothing changes and the old file is still the organisation's.
    write_key_file(new_recovery_key_file, recovery.encode_recovery_file(new_private, new_signing_key))
    transactions.commit()
    new_public = signing.signing_public_key_of(new_signing_key)
    after_rotation(new_public, new_signing_key, audit_anchor_file)
    click.echo(f"Re-wrapped {count} cases for the new recovery key, written to {new_recovery_key_file} (mode 0600) "
               "with a new organisation signing key.")  # fmt: skip
    click.echo("Now: set this in /etc/speakup/speakup.env on every server, and restart each one:")
    click.echo(f"SPEAKUP_ROSTER_ROOT={signing.roster_fingerprint(new_public)}")
    click.echo("Store the new file offline, check it with `speakup recover` in the next drill, then destroy the old "
               "one: both its keys are refused from now on.")  # fmt: skip


exclusions_cli = AppGroup("exclusions", help="Guardians reporters asked to keep out of their concerns.")


@exclusions_cli.command("seal")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def exclusions_seal_command(recovery_key_file: Path) -> None:
    """Seal exclusions stored as plain rows by releases before they were sealed (run once after upgrading)."""
    private_key = read_organisation_secrets(recovery_key_file).recovery_key
    count = recovery.seal_legacy_exclusions(private_key)
    transactions.commit()
    click.echo(f"Sealed the exclusions of {count} cases; no plain exclusion rows are left.")
