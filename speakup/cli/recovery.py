"""`flask speakup recover` and `exclusions seal`: what the offline recovery key is for."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from speakup.cli.roster import read_organisation_secrets
from speakup.domain import staff
from speakup.keys import grants, recovery, roster
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
    user = staff.find_user(email)
    if user is None or user.role != Role.GUARDIAN or not user.is_active:
        raise click.ClickException(f"{email} is not an active guardian's account; nothing changed.")
    verified = roster.current_roster()
    member = verified.member(user.id)
    if member is None:
        why = verified.problem or "they are waiting for approval, or their approval does not verify"
        raise click.ClickException(f"{email} is not on the verified roster ({why}); nothing changed.")
    private_key = read_organisation_secrets(recovery_key_file).recovery_key
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


exclusions_cli = AppGroup("exclusions", help="Guardians reporters asked to keep out of their concerns.")


@exclusions_cli.command("seal")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def exclusions_seal_command(recovery_key_file: Path) -> None:
    """Seal exclusions stored as plain rows by releases before they were sealed (run once after upgrading)."""
    private_key = read_organisation_secrets(recovery_key_file).recovery_key
    count = recovery.seal_legacy_exclusions(private_key)
    transactions.commit()
    click.echo(f"Sealed the exclusions of {count} cases; no plain exclusion rows are left.")
