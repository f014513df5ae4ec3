"""`flask speakup ...`: set up the database and recovery key, and create staff accounts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from speakup.cli.backup import backup_command
from speakup.cli.reporting import ngo_return_command, stats_token_cli
from speakup.cli.retention import purge_command
from speakup.cli.roster import approve_command, read_organisation_secrets, roster_cli, write_key_file
from speakup.crypto import signing
from speakup.domain import staff
from speakup.keys import approvals, grants, recovery, roster
from speakup.ops import audit
from speakup.platform.migrations import upgrade_schema
from speakup.platform.models import db, utcnow

speakup_cli = AppGroup("speakup", help="Speak Up administration.")


@speakup_cli.command("init")
@click.option(
    "--recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the recovery key file on first run (mode 0600). Move it offline.",
)
def init_command(recovery_key_file: Path) -> None:
    """Create or migrate the schema and, on first run, the organisation's recovery and roster keys. Safe to run
    again."""
    upgrade_schema()
    if recovery.organisation_public_key("recovery") is not None:
        click.echo("Database is up to date. The recovery key already exists; nothing written.")
        if recovery.organisation_public_key("roster") is None:
            click.echo(
                "This installation has no organisation signing key yet: run `speakup roster upgrade` "
                "(README, 'Upgrading to the signed roster')."
            )
        return
    if recovery_key_file.exists():
        raise click.ClickException(f"{recovery_key_file} already exists; refusing to overwrite a key file.")
    _row, private_key = recovery.create_recovery_key()
    roster_row, signing_key = recovery.create_roster_key()
    write_key_file(recovery_key_file, recovery.encode_recovery_file(private_key, signing_key))
    audit.record(audit.ROSTER_KEY_CREATED, "system")
    db.session.commit()
    click.echo(
        f"Recovery key written to {recovery_key_file}. "
        "Store it offline (for example the SIRO's safe) and delete this copy."
    )
    click.echo(f"roster-root: {signing.roster_fingerprint(roster_row.public_key)}")
    click.echo("Set SPEAKUP_ROSTER_ROOT to the roster-root value above before starting the service.")


@speakup_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(staff.ROLES), required=True)
@click.option(
    "--recovery-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Approve the new guardian with the organisation key (the first guardian, or when none is left).",
)
def create_user_command(email: str, name: str, role: str, recovery_key_file: Path | None) -> None:
    """Create a guardian or administrator. Reads the password from standard input (one line). A guardian is
    pending until approved, unless --recovery-key-file approves them now."""
    password = sys.stdin.readline().rstrip("\r\n")
    secrets = read_organisation_secrets(recovery_key_file) if recovery_key_file and role == "guardian" else None
    try:
        account = staff.create_user(email, name, role, password)
    except staff.AccountError as exc:
        raise click.ClickException(exc.message) from None
    state = "pending approval"
    if secrets is not None:
        try:
            approvals.approve_with_organisation_key(account.user, secrets, None)
        except approvals.ApprovalRefused as exc:
            db.session.rollback()
            raise click.ClickException(f"Created {email}, but not approved: {exc.message}") from None
        db.session.commit()
        state = "approved with the organisation key"
    click.echo(f"Created {role} {account.user.email}" + (f" ({state})." if role == "guardian" else "."))
    uri = staff.totp_uri_for(account)
    if uri:
        click.echo(f"totp-uri: {uri}")
    if role == "guardian":
        click.echo(f"safety-code: {roster.safety_code_of(account.user)}")
        staff.tell_guardians_of_roster_change()


DEMO_EMAIL = "guardian@example.org"
DEMO_PASSWORD = "demo guardian password"  # noqa: S105 - development mode only, refused elsewhere


@speakup_cli.command("demo")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def demo_command(recovery_key_file: Path) -> None:
    """Development only: create a demo guardian, approved with the organisation key, and print how to sign in."""
    if current_app.config["ENVIRONMENT"] != "development":
        raise click.ClickException("the demo guardian exists only with SPEAKUP_ENVIRONMENT=development")
    if staff.find_user(DEMO_EMAIL) is None:
        secrets = read_organisation_secrets(recovery_key_file)
        account = staff.create_user(DEMO_EMAIL, "Demo Guardian", "guardian", DEMO_PASSWORD)
        try:
            approvals.approve_with_organisation_key(account.user, secrets, None)
        except approvals.ApprovalRefused as exc:
            raise click.ClickException(f"demo guardian not approved: {exc.message}") from None
        db.session.commit()
        uri = staff.totp_uri_for(account)
        if uri:
            click.echo(f"totp-uri: {uri}")
    click.echo(f"Demo guardian: {DEMO_EMAIL} / password: {DEMO_PASSWORD}")


# --- Audit -------------------------------------------------------------------------------------

audit_cli = AppGroup("audit", help="The hash-chained audit log.")
speakup_cli.add_command(audit_cli)


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
    line = audit.anchor_line(result, utcnow())
    if anchor_file is not None:
        fd = os.open(anchor_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(line + "\n")
    click.echo(line)


# --- Recovery and reminders --------------------------------------------------------------------


@speakup_cli.command("recover")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--to", "email", required=True, help="The guardian who receives every case.")
def recover_command(recovery_key_file: Path, email: str) -> None:
    """Grant a guardian every case through the offline recovery key (for example after every guardian
    lost their password). Cases whose reporter excluded that guardian are left out."""
    user = staff.find_user(email)
    if user is None or user.role != "guardian" or not user.is_active:
        raise click.ClickException(f"{email} is not an active guardian's account; nothing changed.")
    verified = roster.current_roster()
    member = verified.member(user.id)
    if member is None:
        why = verified.root_problem or "they are waiting for approval, or their approval does not verify"
        raise click.ClickException(f"{email} is not on the verified roster ({why}); nothing changed.")
    private_key = read_organisation_secrets(recovery_key_file).recovery_key
    result = grants.share_cases(
        recovery.recovery_case_ids(), lambda case: recovery.recovery_case_key(case, private_key), member
    )
    audit.record(audit.RECOVERY, "system", guardian_id=user.id, count=result.shared)
    db.session.commit()
    click.echo(
        f"{user.email} can now open {result.shared} more cases "
        f"({result.already_held} already held, {result.excluded} left out because the reporter excluded them)."
    )


exclusions_cli = AppGroup("exclusions", help="Guardians reporters asked to keep out of their concerns.")
speakup_cli.add_command(exclusions_cli)


@exclusions_cli.command("seal")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
def exclusions_seal_command(recovery_key_file: Path) -> None:
    """Seal exclusions stored as plain rows by releases before they were sealed (run once after upgrading)."""
    private_key = read_organisation_secrets(recovery_key_file).recovery_key
    count = recovery.seal_legacy_exclusions(private_key)
    db.session.commit()
    click.echo(f"Sealed the exclusions of {count} cases; no plain exclusion rows are left.")


sessions_cli = AppGroup("sessions", help="Signed-in sessions.")
speakup_cli.add_command(sessions_cli)


@sessions_cli.command("purge")
def sessions_purge_command() -> None:
    """Delete expired staff sessions and idle reporter sessions, with the sealed keys they hold (run it from a
    timer, for example every 15 minutes; sign-ins do it too)."""
    staff_sessions, reporter_sessions = staff.purge_expired_sessions()
    db.session.commit()
    click.echo(f"Deleted {staff_sessions} expired staff sessions and {reporter_sessions} idle reporter sessions.")


@speakup_cli.command("send-reminders")
def send_reminders_command() -> None:
    """Email each guardian how many of their cases are due soon or overdue (run it daily, e.g. from cron)."""
    from speakup.domain import workflow
    from speakup.domain.triage import due_soon_counts
    from speakup.ops import notify
    from speakup.platform.models import User

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
speakup_cli.add_command(approve_command)
speakup_cli.add_command(roster_cli)
