"""`flask speakup approve` and `flask speakup roster ...`: the organisation key's part in the signed roster."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from speakup.crypto import kem, signing
from speakup.domain import staff
from speakup.keys import approvals, grants, recovery, roster, roster_log, written
from speakup.ops import audit
from speakup.platform import private_files, transactions
from speakup.platform.migrations import upgrade_schema
from speakup.platform.models import KeyPurpose, Role, User, db
from speakup.reporting import stats_tokens


def write_key_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    private_files.write_new(path, text)  # 0600 from the start: never readable by others, even for a moment


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
@click.option("--safety-code", required=True, help="The code the guardian read out to you from their own screen.")
def approve_command(email: str, recovery_key_file: Path, safety_code: str) -> None:
    """Approve a pending guardian with the offline organisation key (the first guardian, or when no approved
    guardian is left). The safety code must be the one the person reads to you from their own screen."""
    user = staff.find_user(email)
    if user is None:
        raise click.ClickException(f"There is no account for {email}; nothing changed.")
    secrets = read_organisation_secrets(recovery_key_file)
    try:
        approvals.approve_with_organisation_key(user, secrets, safety_code)
    except approvals.ApprovalRefused as exc:
        raise click.ClickException(f"{exc.message}.") from None
    transactions.commit()
    click.echo(f"Approved {user.email} with the organisation key.")
    staff.tell_guardians_of_roster_change()


roster_cli = AppGroup("roster", help="The signed roster of guardians who receive case keys.")


@roster_cli.command("verify")
def verify_command() -> None:
    """Verify the roster log up to SPEAKUP_ROSTER_ROOT and this server's anchor, and every approved guardian's
    account against it: exit 0 when all holds, 1 naming each failure."""
    verified = roster.verify_roster()
    for member in verified.members.values():
        click.echo(f"ok      {member.email}")
    for failure in verified.failures:
        click.echo(f"FAILED  {failure.email}: {failure.reason}")
    if verified.problem:
        click.echo(f"FAILED  roster log: {verified.problem}")
    if verified.failures or verified.problem:
        sys.exit(1)
    click.echo(f"Roster verified: {len(verified.members)} approved guardians.")
    in_force = signing.roster_fingerprint(verified.root_key) if verified.root_key else None
    if in_force and roster.pinned_root() and signing.normalise_fingerprint(in_force) != roster.pinned_root():
        click.echo(f"NOTE    the pinned organisation key was handed over: set SPEAKUP_ROSTER_ROOT={in_force}, restart")
    if verified.head:
        # For comparing servers: a new server (an empty instance folder) anchors the first log it verifies.
        click.echo(f"Roster log head: entry {verified.head[0]}, {verified.head[1]}")


def _confirmed(subjects: list[dict], wanted: set[str], question: str, done: str) -> list[dict]:
    """The guardians the operator keeps: those named with --approve/--keep, or, with none named, each one asked."""
    kept = []
    for subject in subjects:
        user = db.session.get(User, subject["user_id"])
        if user is None:
            continue
        label = f"{user.name} <{user.email}>"
        if subject["email"] in wanted or (not wanted and click.confirm(f"{question} {label}?", default=False)):
            kept.append(subject)
            click.echo(f"{done}: {label}")
    return kept


@roster_cli.command("upgrade")
@click.option("--recovery-key-file", type=KEY_FILE, required=True, help="The installation's current key file.")
@click.option(
    "--new-recovery-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Only for an installation from before signed rosters: where to write the new key file (recovery and "
    "organisation signing key), mode 0600.",
)
@click.option("--approve", "approve_emails", multiple=True, help="Approve this guardian without asking (repeatable).")
def upgrade_command(
    recovery_key_file: Path, new_recovery_key_file: Path | None, approve_emails: tuple[str, ...]
) -> None:
    """Start the roster log of an installation from an earlier release: migrate the schema, make the organisation
    signing key if there is none (writing a new key file holding both keys), and sign a first checkpoint of the
    guardians you confirm. Also seals an empty list of excluded guardians for every older case that has none."""
    upgrade_schema()
    if roster_log.head() is not None or roster.anchored_here():
        # A log this server has seen and that is now gone was deleted: starting a new one would sign whatever keys
        # the database now holds. Only `accept` (from what the log approved) may follow.
        raise click.ClickException(
            "This installation's roster log has already started; nothing changed (after a roster alarm or a "
            "restore, use `speakup roster accept`)."
        )
    needs_signing_key = recovery.organisation_public_key(KeyPurpose.ROSTER) is None
    if needs_signing_key and new_recovery_key_file is None:
        raise click.ClickException("This installation has no organisation signing key: give --new-recovery-key-file.")
    if needs_signing_key and new_recovery_key_file is not None and new_recovery_key_file.exists():
        raise click.ClickException(f"{new_recovery_key_file} already exists; refusing to overwrite a key file.")
    old = read_organisation_secrets(recovery_key_file)
    signing_key = old.signing_key
    if needs_signing_key and old.signing_key is not None:
        raise click.ClickException(
            "That key file holds an organisation signing key but the database has none: the database is not the "
            "one this file was made for, or its key row was removed. Nothing changed."
        )
    if needs_signing_key:
        row, signing_key = recovery.create_roster_key()
        audit.record(audit.Action.ROSTER_KEY_CREATED, audit.Actor.SYSTEM)
        click.echo(f"roster-root: {signing.roster_fingerprint(row.public_key)}")
    elif signing_key is None:
        raise click.ClickException("That key file has no organisation signing key; nothing changed.")
    guardians = db.session.scalars(
        db.select(User).where(User.role == Role.GUARDIAN, User.is_active.is_(True)).order_by(User.name)
    )
    subjects = [roster_log.subject_of(user) for user in guardians if user.is_enrolled]
    click.echo("Guardians of this installation. Approve only people you know hold this role now.")
    kept = _confirmed(subjects, {email.strip().lower() for email in approve_emails}, "Approve", "approved")
    roster_log.checkpoint(signing_key, kem.public_key_of(old.recovery_key), kept)
    sealed = recovery.seal_legacy_exclusions(old.recovery_key, seal_missing=True)
    if new_recovery_key_file is not None and old.signing_key is None:
        write_key_file(new_recovery_key_file, recovery.encode_recovery_file(old.recovery_key, signing_key))
        click.echo(f"New key file written to {new_recovery_key_file}: store it offline and destroy the old one.")
        click.echo("Set SPEAKUP_ROSTER_ROOT to the roster-root value above, then restart the service.")
    transactions.commit()
    click.echo(f"Roster log started with {len(kept)} guardians; {sealed} cases' lists of excluded guardians sealed.")
    if kept:
        staff.tell_guardians_of_roster_change()


@roster_cli.command("accept")
@click.option("--recovery-key-file", type=KEY_FILE, required=True)
@click.option("--keep", "keep_emails", multiple=True, help="Keep this guardian without asking (repeatable).")
@click.option(
    "--retired-recovery-key-file",
    type=KEY_FILE,
    help="After putting back a backup from before `rotate-recovery-key`: the file that rotation retired, used only "
    "to re-wrap the restored cases for the key in force (never to sign or seal anything).",
)
def accept_command(
    recovery_key_file: Path, keep_emails: tuple[str, ...], retired_recovery_key_file: Path | None
) -> None:
    """After a roster alarm or a restored backup: the organisation key signs a new checkpoint of the guardians you
    confirm (from those the log approved before anything went wrong), and every server takes it as its new anchor.
    Then `speakup recover` gives them the cases raised meanwhile."""
    secrets = read_organisation_secrets(recovery_key_file)
    if secrets.signing_key is None:
        raise click.ClickException("That key file has no organisation signing key; nothing changed.")
    before = roster.verify_roster()
    if before.problem:
        click.echo(f"Roster alarm: {before.problem}")
    state = roster.replay_as_far_as_it_verifies()
    _refuse_unless_pinned_to(signing.signing_public_key_of(secrets.signing_key), state.root_key)
    retired = _retired_recovery_key(retired_recovery_key_file, secrets)
    click.echo("Guardians the roster log approved. Keep only people you know hold this role now.")
    kept = _confirmed(list(state.members.values()), {email.strip().lower() for email in keep_emails}, "Keep", "kept")
    codes = grants.codes_given_since(state.codes)
    # Every revoked token the log, the audit trail or the rows name; no enrolment link (whether one was used after
    # the alarm's point cannot be known): an account waiting to enrol is reset for a new link.
    revoked = stats_tokens.revoked_recorded()
    # Entries this server anchored are missing: any of them may have revoked a token, and nothing left says which.
    every_token = stats_tokens.revoke_every_token() if written.log_short_of_anchor() else set()
    carried = state.spent.carried(None, revoked | every_token)
    rewrapped, left = recovery.rewrap_restored_grants(secrets.recovery_key, retired)
    recovery.store_organisation_keys(secrets)  # a restored backup's rows name the keys of before a rotation
    roster_log.checkpoint(secrets.signing_key, kem.public_key_of(secrets.recovery_key), kept, codes, carried)
    audit.record(audit.Action.ROSTER_ACCEPTED, audit.Actor.SYSTEM, count=len(kept))
    transactions.commit()
    after = roster.verify_roster()
    if after.problem:
        raise click.ClickException(f"The roster still has an alarm: {after.problem}")
    click.echo(f"Roster accepted with {len(after.members)} guardians. Run `speakup recover` for each to give them the "
               "cases raised during the alarm.")  # fmt: skip
    click.echo("Enrolment links not used before now no longer open: reset each account still waiting to enrol.")
    if every_token:
        click.echo("The roster log had lost entries this server saw, so every statistics token is now revoked: make "
                   "new ones with `speakup stats-token create`.")  # fmt: skip
    if state.root_key != signing.signing_public_key_of(secrets.signing_key):
        click.echo("No checkpoint of the roster log in the database verifies with this file's organisation key (a "
                   "backup from before a rotation: a retired key signed it), so it vouches for nobody: approve each "
                   "guardian again with `speakup approve --recovery-key-file` and the code they read out.")  # fmt: skip
    if rewrapped:
        click.echo(f"Re-wrapped {rewrapped} restored cases for the recovery key in force.")
    if left:
        click.echo(f"{left} restored cases are still wrapped for the retired recovery key (a backup from before "
                   "`rotate-recovery-key`): run `speakup roster accept` again with --retired-recovery-key-file and "
                   "the old file, then destroy it. Their guardians' grants are unchanged.")  # fmt: skip
    staff.tell_guardians_of_roster_change()


def _refuse_unless_pinned_to(signing_public: bytes, log_root: bytes | None) -> None:
    """A checkpoint this key signs starts the log only if the pin names it, or the log hands over to it: a backup
    from before `rotate-organisation-key` (or `rotate-recovery-key`) has no hand-over, so the pin must move first."""
    fingerprint = signing.roster_fingerprint(signing_public)
    pinned = roster.pinned_root()
    if pinned and signing.normalise_fingerprint(fingerprint) != pinned and log_root != signing_public:
        raise click.ClickException(
            "The roster log in the database does not hand over to this file's organisation key (a backup from before "
            f"a rotation?): set SPEAKUP_ROSTER_ROOT={fingerprint} on every server, restart, and accept again. "
            "Nothing changed."
        )


def _retired_recovery_key(path: Path | None, in_force: recovery.OrganisationSecrets) -> bytes | None:
    if path is None:
        return None
    try:
        retired = recovery.parse_recovery_file(path.read_text()).recovery_key
    except (recovery.WrongRecoveryKey, UnicodeDecodeError) as exc:
        raise click.ClickException(f"The retired key file cannot be read ({exc}); nothing changed.") from None
    if retired == in_force.recovery_key:
        raise click.ClickException("--retired-recovery-key-file is the key in force; nothing changed.")
    return retired
