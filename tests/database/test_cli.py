"""`flask speakup init` and `create-user`, driven as an operator would."""

from __future__ import annotations

import os
import stat

from sqlalchemy import func, select
from support.present import present, scalar, table_of

from speakup.crypto import kem, signing
from speakup.keys import account_keys, recovery
from speakup.platform.models import OrganisationKey, RosterEntry, User, db


def _without_recovery_key(app):
    """A database `speakup init` has not touched: no organisation keys, no roster log, nothing pinned yet."""
    with app.app_context():
        db.session.execute(table_of(OrganisationKey).delete())
        db.session.execute(table_of(RosterEntry).delete())
        db.session.commit()
    app.config["ROSTER_ROOT"] = None


def test_init_writes_the_recovery_key_once_with_mode_0600(app, runner, tmp_path):
    _without_recovery_key(app)
    key_file = tmp_path / "custody" / "recovery.key"
    result = runner.invoke(args=["speakup", "init", "--recovery-key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with app.app_context():
        secrets = recovery.read_recovery_file(key_file.read_text())
        private_key = secrets.recovery_key
        stored = scalar(select(OrganisationKey).where(OrganisationKey.purpose == "recovery"))
        assert kem.public_key_of(private_key) == stored.public_key
        assert private_key not in stored.public_key
        # The same file holds the organisation signing key, whose fingerprint init printed for SPEAKUP_ROSTER_ROOT.
        roster_key = scalar(select(OrganisationKey).where(OrganisationKey.purpose == "roster"))
        assert signing.signing_public_key_of(present(secrets.signing_key, "signing key")) == roster_key.public_key
        assert present(secrets.signing_key, "signing key") not in roster_key.public_key
        root = signing.roster_fingerprint(roster_key.public_key)
    assert f"roster-root: {root}\n" in result.output
    assert f"Roster-Root: {root}" in key_file.read_text()
    # Running again is safe: it migrates, keeps the key, and writes nothing.
    again = runner.invoke(args=["speakup", "init", "--recovery-key-file", str(tmp_path / "second.key")])
    assert again.exit_code == 0 and "already exists" in again.output
    assert not (tmp_path / "second.key").exists()
    with app.app_context():
        assert db.session.scalar(select(func.count(OrganisationKey.id))) == 2  # recovery and roster


def test_init_refuses_to_overwrite_a_key_file(app, runner, tmp_path):
    _without_recovery_key(app)
    key_file = tmp_path / "recovery.key"
    key_file.write_text("precious")
    result = runner.invoke(args=["speakup", "init", "--recovery-key-file", str(key_file)])
    assert result.exit_code != 0 and "refusing to overwrite" in result.output
    assert key_file.read_text() == "precious"


def test_a_recovery_key_from_elsewhere_is_refused(app, tmp_path):
    with app.app_context():
        foreign = recovery.encode_recovery_file(kem.generate_keypair().private_bytes)
        try:
            recovery.read_recovery_file(foreign)
        except recovery.WrongRecoveryKey as exc:
            assert "another installation" in str(exc)
        else:
            raise AssertionError("a foreign recovery key was accepted")


def test_create_user_reads_password_from_stdin_and_prints_totp_uri(app, runner):
    result = runner.invoke(
        args=["speakup", "create-user", "--email", "g@example.org", "--name", "Gita", "--role", "guardian"],
        input="a sufficiently long password\n",
    )
    assert result.exit_code == 0, result.output
    uri_lines = [line for line in result.output.splitlines() if line.startswith("totp-uri: otpauth://totp/")]
    assert len(uri_lines) == 1
    assert "a sufficiently long password" not in result.output
    with app.app_context():
        user = scalar(select(User).where(User.email == "g@example.org"))
        assert user.role == "guardian"
        assert account_keys.unlock_account(user, "a sufficiently long password").totp_secret is not None


def test_create_user_without_mfa_prints_no_uri(app, runner):
    app.config["REQUIRE_MFA"] = False
    result = runner.invoke(
        args=["speakup", "create-user", "--email", "a@example.org", "--name", "Ada", "--role", "admin"],
        input="a sufficiently long password\n",
    )
    assert result.exit_code == 0 and "totp-uri" not in result.output


def test_create_user_refuses_short_passwords_and_duplicates(app, runner):
    args = ["speakup", "create-user", "--email", "g@example.org", "--name", "Gita", "--role", "guardian"]
    short = runner.invoke(args=args, input="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    assert runner.invoke(args=args, input="a sufficiently long password\n").exit_code == 0
    duplicate = runner.invoke(args=args, input="another long password\n")
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
