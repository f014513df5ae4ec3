"""`flask speakup ...`: set up the database and recovery key, and create staff accounts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from . import accounts, keyring
from .cli_backup import backup_command
from .cli_reports import ngo_return_command, stats_token_cli
from .cli_retention import purge_command
from .models import OrganisationKey, db
from .schema import upgrade_schema

speakup_cli = AppGroup("speakup", help="Speak Up administration.")


@speakup_cli.command("init")
@click.option(
    "--recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the recovery private key on first run (mode 0600). Move it offline.",
)
def init_command(recovery_key_file: Path) -> None:
    """Create or migrate the schema and, on first run, the recovery keypair. Safe to run again."""
    upgrade_schema()
    existing = db.session.scalar(select(OrganisationKey).where(OrganisationKey.purpose == "recovery"))
    if existing is not None:
        click.echo("Database is up to date. The recovery key already exists; nothing written.")
        return
    if recovery_key_file.exists():
        raise click.ClickException(f"{recovery_key_file} already exists; refusing to overwrite a key file.")
    _row, private_key = keyring.create_recovery_key()
    recovery_key_file.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start, so the key is never readable by others even for a moment.
    fd = os.open(recovery_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring.encode_recovery_file(private_key))
    db.session.commit()
    click.echo(
        f"Recovery key written to {recovery_key_file}. "
        "Store it offline (for example the SIRO's safe) and delete this copy."
    )


@speakup_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
def create_user_command(email: str, name: str, role: str) -> None:
    """Create a guardian or administrator. Reads the password from standard input (one line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        account = accounts.create_user(email, name, role, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {role} {account.user.email}.")
    uri = accounts.totp_uri_for(account)
    if uri:
        click.echo(f"totp-uri: {uri}")


DEMO_EMAIL = "guardian@example.org"
DEMO_PASSWORD = "demo guardian password"  # noqa: S105 - development mode only, refused elsewhere


@speakup_cli.command("demo")
def demo_command() -> None:
    """Development only: create a demo guardian and print how to sign in."""
    if current_app.config["ENVIRONMENT"] != "development":
        raise click.ClickException("the demo guardian exists only with SPEAKUP_ENVIRONMENT=development")
    if accounts.find_user(DEMO_EMAIL) is None:
        account = accounts.create_user(DEMO_EMAIL, "Demo Guardian", "guardian", DEMO_PASSWORD)
        uri = accounts.totp_uri_for(account)
        if uri:
            click.echo(f"totp-uri: {uri}")
    click.echo(f"Demo guardian: {DEMO_EMAIL} / password: {DEMO_PASSWORD}")


# --- Audit -------------------------------------------------------------------------------------

audit_cli = AppGroup("audit", help="The hash-chained audit log.")
speakup_cli.add_command(audit_cli)


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check the audit chain: exit 0 when intact, 1 at the first edited, deleted or reordered event."""
    from . import audit

    result = audit.check_chain()
    if result.broken is not None:
        click.echo(f"Audit chain broken at event {result.broken.event_id}: {result.broken.reason}")
        sys.exit(1)
    click.echo(f"Audit chain intact: {result.events} events")
    if result.last_id is not None:
        click.echo(f"Latest event {result.last_id}, hash {result.last_hash}")


# --- Recovery and reminders --------------------------------------------------------------------


@speakup_cli.command("recover")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--to", "email", required=True, help="The guardian who receives every case.")
def recover_command(recovery_key_file: Path, email: str) -> None:
    """Grant a guardian every case through the offline recovery key (for example after every guardian
    lost their password). Cases whose reporter excluded that guardian are left out."""
    from . import audit

    user = accounts.find_user(email)
    if user is None or user.role != "guardian" or not user.is_active:
        raise click.ClickException(f"{email} is not an active guardian's account; nothing changed.")
    try:
        private_key = keyring.decode_recovery_file(recovery_key_file.read_text())
    except (keyring.WrongRecoveryKey, UnicodeDecodeError) as exc:
        raise click.ClickException(f"That is not this installation's recovery key ({exc}); nothing changed.") from None
    result = keyring.share_cases(
        keyring.recovery_case_ids(), lambda case: keyring.recovery_case_key(case, private_key), user
    )
    audit.record(audit.RECOVERY, "system", guardian_id=user.id, count=result.shared)
    db.session.commit()
    click.echo(
        f"{user.email} can now open {result.shared} more cases "
        f"({result.already_held} already held, {result.excluded} left out because the reporter excluded them)."
    )


@speakup_cli.command("send-reminders")
def send_reminders_command() -> None:
    """Email each guardian how many of their cases are due soon or overdue (run it daily, e.g. from cron)."""
    from . import notify, workflow
    from .models import User, utcnow
    from .queue import due_soon_counts

    counts = due_soon_counts(workflow.london_today(utcnow()), current_app.config["REMINDER_DAYS"])
    sent = 0
    for user_id, count in counts.items():
        user = db.session.get(User, user_id)
        if user is not None:
            sent += notify.deadline_due([user], count)
    click.echo(f"Sent {sent} reminder emails.")


# Commands that live beside their domain modules.
speakup_cli.add_command(purge_command)
speakup_cli.add_command(ngo_return_command)
speakup_cli.add_command(stats_token_cli)
speakup_cli.add_command(backup_command)
