"""A rotated-out recovery key file must not come back (outside review, finding F1).

The reviewer is a database writer who holds the OLD key file after `speakup rotate-recovery-key`. They replay: a
dump of the database taken before the rotation, the rotation, the dump put back on a server whose roster anchor
(outside the database) is at the post-rotation checkpoint. Neither key of the old file may act again: the rotation
hands the roster to a new organisation key too; concerns raised during the alarm are sealed for the recovery key
the anchor names; and `roster accept` refuses the old file and takes the new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask
from sqlalchemy import insert, select
from support.factories import (
    gen_concern,
    gen_staff,
    grant_opens_with,
    guardians_wrapped_for,
    organisation_secrets,
    safety_code_of,
)
from support.present import get_row, present

from speakup.crypto import kem, signing
from speakup.keys import recovery, roster, roster_log
from speakup.platform.models import KeyPurpose, User, db


def _key_file(app: Flask, path: Path) -> Path:
    secrets = organisation_secrets(app)
    path.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    return path


def _dump(app: Flask) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as a backup holds them."""
    with app.app_context():
        return {
            table.name: [dict(row._mapping) for row in db.session.execute(select(table))]
            for table in db.metadata.sorted_tables
        }


def _restore(app: Flask, dump: dict[str, list[dict[str, Any]]]) -> None:
    """The dump put back in place of the whole database (the instance folder, and its anchor, stay)."""
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if dump[table.name]:
                db.session.execute(insert(table), dump[table.name])
        db.session.commit()


def _restart_with_pin(app: Flask, fingerprint: str) -> None:
    app.config["ROSTER_ROOT"] = fingerprint
    app.extensions.pop("speakup_roster", None)


def _rotate(runner, old_file: Path, new_file: Path, anchors: Path):
    return runner.invoke(
        args=["speakup", "rotate-recovery-key", "--recovery-key-file", str(old_file),
              "--new-recovery-key-file", str(new_file), "--audit-anchor-file", str(anchors)]
    )  # fmt: skip


def _rotated(app: Flask, client, runner, tmp_path: Path) -> tuple[Path, Path, Path, recovery.OrganisationSecrets, str]:
    old_file = _key_file(app, tmp_path / "old-key.txt")
    new_file, anchors = tmp_path / "new-key.txt", tmp_path / "audit-anchors"
    gen_concern(client)
    assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
    rotated = _rotate(runner, old_file, new_file, anchors)
    assert rotated.exit_code == 0, rotated.output
    with app.app_context():
        new = recovery.read_recovery_file(new_file.read_text())
    new_pin = signing.roster_fingerprint(signing.signing_public_key_of(present(new.signing_key, "new signing key")))
    return old_file, new_file, anchors, new, new_pin


def test_the_rotation_retires_both_keys_of_the_old_file(app, client, runner, guardian, tmp_path):
    """F1.1: the new file holds a new organisation signing key too (the roster handed over to it), and the pin to
    set is printed; the old file's signing key is not the one in force under either pin."""
    old = organisation_secrets(app)
    old_pin = app.config["ROSTER_ROOT"]
    old_file = _key_file(app, tmp_path / "old-key.txt")
    anchors, new_file = tmp_path / "audit-anchors", tmp_path / "new-key.txt"
    gen_concern(client)
    assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
    rotated = _rotate(runner, old_file, new_file, anchors)
    assert rotated.exit_code == 0, rotated.output
    with app.app_context():
        new = recovery.read_recovery_file(new_file.read_text())
    assert new.signing_key is not None and new.signing_key != old.signing_key
    assert new.recovery_key != old.recovery_key
    new_pin = signing.roster_fingerprint(signing.signing_public_key_of(new.signing_key))
    assert f"SPEAKUP_ROSTER_ROOT={new_pin}" in rotated.output
    for pin in (old_pin, new_pin):
        _restart_with_pin(app, pin)
        verified = runner.invoke(args=["speakup", "roster", "verify"])
        assert verified.exit_code == 0, verified.output
        with app.app_context():
            assert roster.trusted_root_key() == signing.signing_public_key_of(new.signing_key)
            assert recovery.organisation_public_key(KeyPurpose.ROSTER) == roster.trusted_root_key()
        assert runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(anchors)]).exit_code == 0
        reference = gen_concern(client)["reference"]
        assert guardians_wrapped_for(app, reference) == {guardian.id}
        assert grant_opens_with(app, reference, new.recovery_key, "recovery")
        assert not grant_opens_with(app, reference, old.recovery_key, "recovery")


def _old_file_commands(app: Flask, old: str, tmp_path: Path, anchors: Path, guardian_email: str) -> dict[str, list]:
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    with app.app_context():
        code = safety_code_of(get_row(User, pat.id))
    return {
        # The organisation signing key's commands.
        "approve": ["approve", "--email", pat.email, "--recovery-key-file", old, "--safety-code", code],
        "create-user": ["create-user", "--email", "new@example.org", "--name", "New", "--role", "guardian",
                        "--recovery-key-file", old],
        "roster accept": ["roster", "accept", "--recovery-key-file", old, "--keep", guardian_email],
        "audit accept-restore": ["audit", "accept-restore", "--file", str(anchors), "--recovery-key-file", old],
        "rotate-organisation-key": ["rotate-organisation-key", "--recovery-key-file", old, "--new-recovery-key-file",
                                    str(tmp_path / "never-2"), "--audit-anchor-file", str(anchors)],
        # The recovery key's commands.
        "recover": ["recover", "--recovery-key-file", old, "--to", guardian_email],
        "exclusions seal": ["exclusions", "seal", "--recovery-key-file", old],
        "rotate-recovery-key": ["rotate-recovery-key", "--recovery-key-file", old, "--new-recovery-key-file",
                                str(tmp_path / "never-1"), "--audit-anchor-file", str(anchors)],
        # Refused before it reads the file: the log has started.
        "roster upgrade": ["roster", "upgrade", "--recovery-key-file", old],
    }  # fmt: skip


def _commands_taking_a_key_file(app: Flask) -> set[str]:
    """Every command of the CLI with a --recovery-key-file option: the list above must name each."""
    found: set[str] = set()

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        elif any("--recovery-key-file" in getattr(param, "opts", []) for param in command.params):
            found.add(" ".join(path))

    walk(app.cli.commands["speakup"], ())
    return found


def _refuses_every_command(app: Flask, runner, commands: dict[str, list], tmp_path: Path) -> None:
    for name, args in commands.items():
        with app.app_context():
            head = present(roster_log.head(), "roster head").seq
        refused = runner.invoke(args=["speakup", *args], input="a sufficiently long password\n")
        assert refused.exit_code != 0, (name, refused.output)
        assert "retired" in refused.output or name == "roster upgrade", (name, refused.output)
        with app.app_context():
            assert present(roster_log.head(), "roster head").seq == head, name
            assert db.session.scalar(select(User.id).where(User.email == "new@example.org")) is None, name
    assert not (tmp_path / "never-1").exists() and not (tmp_path / "never-2").exists()


def test_after_the_rotation_every_command_refuses_the_old_file(app, client, runner, guardian, tmp_path):
    old_pin = app.config["ROSTER_ROOT"]
    old_file, _new_file, anchors, _new, new_pin = _rotated(app, client, runner, tmp_path)
    commands = _old_file_commands(app, str(old_file), tmp_path, anchors, guardian.email)
    # `init` writes a new file (never reads one; on an installation it writes nothing) and `demo` is development's.
    assert {*commands, "init", "demo"} == _commands_taking_a_key_file(app)
    for pin in (old_pin, new_pin):
        _restart_with_pin(app, pin)
        _refuses_every_command(app, runner, commands, tmp_path)
        assert runner.invoke(args=["speakup", "roster", "verify"]).exit_code == 0


@pytest.mark.parametrize("restart", ["pinned anew", "not restarted yet"])
def test_a_dump_from_before_the_rotation_put_back_brings_neither_old_key_back(
    app, client, runner, guardian, tmp_path, restart
):
    """F1.2 and F1.3, the reviewer's steps: dump, rotate, the server anchors after the rotation, the dump is put back.
    The concern raised during the alarm is sealed for the new recovery key alone; every command refuses the old file;
    `roster accept` with the new file ends the alarm, and with the retired file as well, re-wraps the restored cases
    for the new key."""
    old = organisation_secrets(app)
    old_pin = app.config["ROSTER_ROOT"]
    before = gen_concern(client, what_happened="Zebra-7301 raised before the dump")["reference"]
    dump = _dump(app)
    old_file, new_file, anchors, new, new_pin = _rotated(app, client, runner, tmp_path)
    if restart == "pinned anew":
        _restart_with_pin(app, new_pin)
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {guardian.id}  # anchors after the rotation
    _restore(app, dump)

    during = gen_concern(client, what_happened="Zebra-7302 raised during the alarm")["reference"]
    assert guardians_wrapped_for(app, during) == set()
    assert grant_opens_with(app, during, new.recovery_key, "recovery")
    assert not grant_opens_with(app, during, old.recovery_key)
    with app.app_context():
        assert roster.verify_roster().problem is not None
    refused = runner.invoke(args=["speakup", "recover", "--recovery-key-file", str(old_file), "--to", guardian.email])
    assert refused.exit_code != 0 and "retired" in refused.output, refused.output

    commands = _old_file_commands(app, str(old_file), tmp_path, anchors, guardian.email)
    _refuses_every_command(app, runner, commands, tmp_path)
    assert not grant_opens_with(app, during, old.recovery_key)

    if restart == "not restarted yet":  # the restored log cannot hand over to the new key: the pin must move first
        refused = runner.invoke(args=["speakup", "roster", "accept", "--recovery-key-file", str(new_file),
                                      "--keep", guardian.email])  # fmt: skip
        assert refused.exit_code != 0 and f"SPEAKUP_ROSTER_ROOT={new_pin}" in refused.output, refused.output
        _restart_with_pin(app, new_pin)
    accepted = runner.invoke(args=["speakup", "roster", "accept", "--recovery-key-file", str(new_file),
                                   "--retired-recovery-key-file", str(old_file), "--keep", guardian.email])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "Re-wrapped 1 restored cases" in accepted.output, accepted.output
    # Nobody the restored log vouches for is kept: only the retired key signed it, and its holder could have
    # forged it. The operator approves each guardian again with the new file and the code read from their screen.
    assert "kept: " not in accepted.output and "speakup approve" in accepted.output, accepted.output
    with app.app_context():
        assert guardian.id not in roster.verify_roster().members
        code = safety_code_of(get_row(User, guardian.id))
    approved = runner.invoke(args=["speakup", "approve", "--email", guardian.email, "--recovery-key-file",
                                   str(new_file), "--safety-code", code])  # fmt: skip
    assert approved.exit_code == 0, approved.output
    with app.app_context():
        verified = roster.verify_roster()
        assert verified.problem is None and guardian.id in verified.members
        assert verified.recovery_key == kem.public_key_of(new.recovery_key) == recovery.recovery_public_key()
    for reference in (before, during):  # every restored case opens with the new file, none with the old
        assert grant_opens_with(app, reference, new.recovery_key, "recovery"), reference
        assert not grant_opens_with(app, reference, old.recovery_key, "recovery"), reference
    recovered = runner.invoke(args=["speakup", "recover", "--recovery-key-file", str(new_file), "--to", guardian.email])
    assert recovered.exit_code == 0, recovered.output
    assert guardian.id in guardians_wrapped_for(app, during)
    after = gen_concern(client)["reference"]
    assert guardians_wrapped_for(app, after) == {guardian.id}
    assert not grant_opens_with(app, after, old.recovery_key)
    _refuses_every_command(app, runner, commands, tmp_path)
    _restart_with_pin(app, old_pin)  # a server still pinned to the retired key is an alarm, never the old roster
    with app.app_context():
        assert roster.verify_roster().problem is not None


def test_without_the_retired_file_accept_says_which_restored_cases_the_new_key_cannot_open(
    app, client, runner, guardian, tmp_path
):
    old = organisation_secrets(app)
    before = gen_concern(client)["reference"]
    dump = _dump(app)
    _old_file, new_file, _anchors, new, new_pin = _rotated(app, client, runner, tmp_path)
    _restart_with_pin(app, new_pin)
    gen_concern(client)
    _restore(app, dump)
    accepted = runner.invoke(args=["speakup", "roster", "accept", "--recovery-key-file", str(new_file),
                                   "--keep", guardian.email])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "1 restored cases are still wrapped for the retired recovery key" in accepted.output, accepted.output
    assert grant_opens_with(app, before, old.recovery_key, "recovery")  # as in the dump: nothing new for the old key
    assert not grant_opens_with(app, before, new.recovery_key, "recovery")
    assert guardian.id in guardians_wrapped_for(app, before)  # the guardian's grant is untouched
