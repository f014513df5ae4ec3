"""`flask speakup init`, `downgrade-schema`, `rotate-secret-key`, `rotate-pepper`, `create-user` and `demo`: the
database, the organisation's keys, the secrets and the first accounts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from speakup.cli.roster import read_organisation_secrets, write_key_file
from speakup.crypto import signing
from speakup.domain import pepper_rotation, staff
from speakup.keys import approvals, recovery, roster_log
from speakup.ops import audit
from speakup.platform import private_files, transactions
from speakup.platform.config import settings
from speakup.platform.migrations import downgrade_schema, newest_revision, upgrade_schema
from speakup.platform.models import KeyPurpose, Role
from speakup.reporting import stats_tokens


@click.command("init")
@click.option(
    "--recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the recovery key file on first run (mode 0600). Move it offline.",
)
@with_appcontext
def init_command(recovery_key_file: Path) -> None:
    """Create or migrate the schema and, on first run, the organisation's recovery and roster keys. Safe to run
    again."""
    upgrade_schema()
    if recovery.organisation_public_key(KeyPurpose.RECOVERY) is not None:
        click.echo("Database is up to date. The recovery key already exists; nothing written.")
        if recovery.organisation_public_key(KeyPurpose.ROSTER) is None or roster_log.head() is None:
            click.echo(
                "This installation's roster log has not been started: run `speakup roster upgrade` "
                "(docs/deploy.md, 'Upgrading to the roster log')."
            )
        return
    if recovery_key_file.exists():
        raise click.ClickException(f"{recovery_key_file} already exists; refusing to overwrite a key file.")
    recovery_row, private_key = recovery.create_recovery_key()
    roster_row, signing_key = recovery.create_roster_key()
    roster_log.checkpoint(signing_key, recovery_row.public_key, [])  # the log's first entry: nobody approved yet
    write_key_file(recovery_key_file, recovery.encode_recovery_file(private_key, signing_key))
    audit.record(audit.Action.ROSTER_KEY_CREATED, audit.Actor.SYSTEM)
    transactions.commit()
    click.echo(
        f"Recovery key written to {recovery_key_file}. "
        "Store it offline (for example the SIRO's safe) and delete this copy."
    )
    click.echo(f"roster-root: {signing.roster_fingerprint(roster_row.public_key)}")
    click.echo("Set SPEAKUP_ROSTER_ROOT to the roster-root value above before starting the service.")


@click.command("downgrade-schema")
@click.option("--to", "revision", required=True, help="The older release's newest migration, such as 0020.")
@with_appcontext
def downgrade_schema_command(revision: str) -> None:
    """Undo this release's migrations, before going back to an older release (docs/deploy.md, section 12)."""
    if revision == newest_revision():
        click.echo(f"The schema is already at {revision} in this release: nothing to undo.")
        return
    downgrade_schema(revision)
    click.echo(f"Schema now at {revision}. Check out the older release, then start the service.")


@click.command("rotate-secret-key")
@with_appcontext
def rotate_secret_key_command() -> None:
    """Print the environment file's lines for a new SECRET_KEY, the current one kept as a fallback (so nobody is
    signed out, and sessions signed with it stay valid until they end). Set them, then restart the service; remove
    the fallback after STAFF_ABSOLUTE_HOURS (docs/deploy.md, section 6)."""
    import json
    import secrets
    import shlex

    config = current_app.config
    fallbacks = [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]
    click.echo(f"SPEAKUP_SECRET_KEY={secrets.token_urlsafe(48)}")
    # Quoted whole: systemd's EnvironmentFile and a shell both take the quotes inside a bare ["..."] away.
    click.echo(f"SPEAKUP_SECRET_KEY_FALLBACKS={shlex.quote(json.dumps(fallbacks))}")


@click.command("rotate-pepper")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the environment file's two new lines (created 0600, never over a file).",
)
@with_appcontext
def rotate_pepper_command(output: Path) -> None:
    """Run with the service stopped. Makes a new SPEAKUP_TOKEN_PEPPER, the current one kept first among the fallbacks:
    re-keys what only the server names, records which pepper each account is sealed under, and appends the audit
    chain's PEPPER_ROTATED row under the new pepper. Writes both lines to --output (docs/deploy.md, "Rotating the
    pepper")."""
    if output.exists():
        raise click.ClickException(f"{output} already exists; refusing to overwrite it.")
    try:
        prepared = pepper_rotation.prepare(pepper_rotation.new_pepper())
    except pepper_rotation.RotationRefused as refused:
        raise click.ClickException(str(refused)) from None
    config = current_app.config
    kept_peppers = settings().token_peppers
    kept = {key: config.get(key) for key in ("TOKEN_PEPPER_BYTES", "TOKEN_PEPPER_FALLBACK_BYTES")}
    # The row that switches the chain is hashed under the new pepper: this process takes it up for that one row.
    config["TOKEN_PEPPER_BYTES"] = prepared.new_pepper.encode()
    config["TOKEN_PEPPER_FALLBACK_BYTES"] = tuple(each.encode() for each in prepared.fallbacks)
    try:
        # Statistics tokens are stamped here: the domain below cannot reach reporting.
        tokens = stats_tokens.stamp_for_rotation(kept_peppers[0], kept_peppers[1:], prepared.new_pepper.encode())
        pepper_rotation.record(prepared)
        # The file first: a committed rotation whose pepper was lost would leave the chain unverifiable.
        try:
            private_files.write_new(output, pepper_rotation.environment_lines(prepared))
        except OSError as failed:
            raise click.ClickException(f"cannot write {output} ({failed.strerror}); nothing changed.") from None
        try:
            transactions.commit()
        except BaseException:
            output.unlink(missing_ok=True)
            raise
    finally:
        config.update(kept)
    click.echo(
        f"Pepper rotated: {prepared.old_id} -> {prepared.new_id}; {prepared.accounts_named} accounts named, "
        f"{prepared.markers} markers re-keyed; {prepared.stamped + tokens} accounts, links and tokens the old "
        "pepper may still open stamped under the new one."
    )
    click.echo(f"The new SPEAKUP_TOKEN_PEPPER and SPEAKUP_TOKEN_PEPPER_FALLBACKS lines are in {output}.")
    click.echo(
        "Next: put both lines in the environment file in place of the old SPEAKUP_TOKEN_PEPPER line, delete "
        f"{output}, then start the service. Keep the old pepper as a fallback while cases raised before the "
        "rotation, and the audit trail from before it, are kept."
    )


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(staff.ROLES), required=True)
@click.option(
    "--recovery-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Approve the new guardian with the organisation key (the first guardian, or when none is left).",
)
@with_appcontext
def create_user_command(email: str, name: str, role: str, recovery_key_file: Path | None) -> None:
    """Create a guardian or administrator. Reads the password from standard input (one line). A guardian is
    pending until approved, unless --recovery-key-file approves them now."""
    password = sys.stdin.readline().rstrip("\r\n")
    secrets = read_organisation_secrets(recovery_key_file) if recovery_key_file and role == Role.GUARDIAN else None
    try:
        account = staff.create_user(email, name, role, password)
    except staff.AccountError as exc:
        raise click.ClickException(exc.message) from None
    transactions.commit()  # the account is kept whether or not the approval that follows is
    state = "pending approval"
    if secrets is not None:
        try:
            approvals.approve_with_organisation_key(account.user, secrets, account.safety_code or "")
        except approvals.ApprovalRefused as exc:
            raise click.ClickException(f"Created {email}, but not approved: {exc.message}") from None
        transactions.commit()
        state = "approved with the organisation key"
    click.echo(f"Created {role} {account.user.email}" + (f" ({state})." if role == Role.GUARDIAN else "."))
    uri = staff.totp_uri_for(account)
    if uri:
        click.echo(f"totp-uri: {uri}")
    if role == Role.GUARDIAN:
        click.echo(f"safety-code: {account.safety_code}")
        staff.tell_guardians_of_roster_change()


DEMO_EMAIL = "guardian@example.org"
DEMO_PASSWORD = "demo guardian password"  # noqa: S105 - development mode only, refused elsewhere


@click.command("demo")
@click.option("--recovery-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@with_appcontext
def demo_command(recovery_key_file: Path) -> None:
    """Development only: create a demo guardian, approved with the organisation key, and print how to sign in."""
    if current_app.config["ENVIRONMENT"] != "development":
        raise click.ClickException("the demo guardian exists only with SPEAKUP_ENVIRONMENT=development")
    if staff.find_user(DEMO_EMAIL) is None:
        secrets = read_organisation_secrets(recovery_key_file)
        account = staff.create_user(DEMO_EMAIL, "Demo Guardian", Role.GUARDIAN, DEMO_PASSWORD)
        try:
            approvals.approve_with_organisation_key(account.user, secrets, account.safety_code or "")
        except approvals.ApprovalRefused as exc:
            raise click.ClickException(f"demo guardian not approved: {exc.message}") from None
        transactions.commit()
        uri = staff.totp_uri_for(account)
        if uri:
            click.echo(f"totp-uri: {uri}")
    click.echo(f"Demo guardian: {DEMO_EMAIL} / password: {DEMO_PASSWORD}")


# --- Audit -------------------------------------------------------------------------------------
