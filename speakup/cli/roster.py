"""`flask speakup approve` and `flask speakup roster ...`: the organisation key's part in the signed roster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from speakup.crypto import signing
from speakup.domain import staff
from speakup.keys import approvals, recovery, roster
from speakup.ops import audit
from speakup.platform.migrations import upgrade_schema
from speakup.platform.models import User, db


def write_key_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start, so the key is never readable by others even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_organisation_secrets(path: Path) -> recovery.OrganisationSecrets:
    try:
        return recovery.read_recovery_file(path.read_text())
    except (recovery.WrongRecoveryKey, UnicodeDecodeError) as exc:
        raise click.ClickException(f"That is not this installation's recovery key ({exc}); nothing changed.") from None


KEY_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("approve")
@with_appcontext
@click.option("--email", required=True, help="The pending guardian to approve.")
@click.option("--recovery-key-file", type=KEY_FILE, required=True)
@click.option("--safety-code", help="The code the guardian was shown at the end of enrolment; checked when given.")
def approve_command(email: str, recovery_key_file: Path, safety_code: str | None) -> None:
    """Approve a pending guardian with the offline organisation key (the first guardian, or when no approved
    guardian is left). Compare their safety code with them first."""
    user = staff.find_user(email)
    if user is None:
        raise click.ClickException(f"There is no account for {email}; nothing changed.")
    secrets = read_organisation_secrets(recovery_key_file)
    try:
        approvals.approve_with_organisation_key(user, secrets, safety_code)
    except approvals.ApprovalRefused as exc:
        raise click.ClickException(f"{exc.message}.") from None
    db.session.commit()
    click.echo(f"Approved {user.email} (safety code {roster.safety_code_of(user)}) with the organisation key.")
    staff.tell_guardians_of_roster_change()


roster_cli = AppGroup("roster", help="The signed roster of guardians who receive case keys.")


@roster_cli.command("verify")
def verify_command() -> None:
    """Verify every approved guardian's endorsement chain up to SPEAKUP_ROSTER_ROOT: exit 0 when all verify,
    1 naming each failure."""
    verified = roster.verify_roster()
    for member in verified.members.values():
        click.echo(f"ok      {member.email}")
    for failure in verified.failures:
        click.echo(f"FAILED  {failure.email}: {failure.reason}")
    if verified.root_problem:
        click.echo(f"FAILED  roster root: {verified.root_problem}")
    if verified.failures or verified.root_problem:
        sys.exit(1)
    click.echo(f"Roster verified: {len(verified.members)} approved guardians.")


@roster_cli.command("upgrade")
@click.option("--recovery-key-file", type=KEY_FILE, required=True, help="The installation's current key file.")
@click.option(
    "--new-recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the new key file (recovery and organisation signing key), mode 0600.",
)
@click.option("--approve", "approve_emails", multiple=True, help="Approve this guardian without asking (repeatable).")
def upgrade_command(recovery_key_file: Path, new_recovery_key_file: Path, approve_emails: tuple[str, ...]) -> None:
    """Upgrade an installation from before signed rosters: migrate the schema, make the organisation signing key,
    write a new key file holding both keys, and approve the guardians you confirm from the list."""
    upgrade_schema()
    if recovery.organisation_public_key("roster") is not None:
        raise click.ClickException("This installation already has an organisation signing key; nothing changed.")
    if new_recovery_key_file.exists():
        raise click.ClickException(f"{new_recovery_key_file} already exists; refusing to overwrite a key file.")
    old = read_organisation_secrets(recovery_key_file)
    row, signing_key = recovery.create_roster_key()
    audit.record(audit.ROSTER_KEY_CREATED, "system")
    wanted = {email.strip().lower() for email in approve_emails}
    approved = []
    guardians = db.session.scalars(
        db.select(User).where(User.role == "guardian", User.is_active.is_(True)).order_by(User.name)
    )
    click.echo("Guardians of this installation. Approve only people you know hold this role now.")
    for user in guardians:
        if not user.is_enrolled:
            continue
        label = f"{user.name} <{user.email}>"
        if user.email.lower() in wanted or (not wanted and click.confirm(f"Approve {label}?", default=False)):
            approvals.carry_over_approval(user, signing_key)
            approved.append(label)
    write_key_file(new_recovery_key_file, recovery.encode_recovery_file(old.recovery_key, signing_key))
    db.session.commit()
    for label in approved:
        click.echo(f"approved: {label}")
    click.echo(f"New key file written to {new_recovery_key_file}: store it offline and destroy the old one.")
    click.echo(f"roster-root: {signing.roster_fingerprint(row.public_key)}")
    click.echo("Set SPEAKUP_ROSTER_ROOT to the roster-root value above, then restart the service.")
    if approved:
        staff.tell_guardians_of_roster_change()
